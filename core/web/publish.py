"""The exported models as the browser gets them: content-addressed links under static/_models/ (git-ignored).

Streamlit serves only static/ (and refuses symbolic links that leave it), while the models live in exported/. So
each file a live view needs is published as ``static/_models/<sha256>.onnx``: a hard link to the exported file (a
copy where the file system has no hard links), made under a temporary name, hashed, and renamed into place only
when its bytes are the ones exported/manifest.json names. Nothing is stored twice in git, and nothing can drift:

- the name is the content's sha256, so a URL always means the same bytes, and the browser checks them against the
  same manifest entry (SubtleCrypto) before it uses them;
- when exported/ is replaced as a whole (a staging folder renamed into place), the new manifest names new hashes,
  the next page run publishes those, and the old links keep serving the old, consistent set to pages that still
  hold its URLs until they are pruned (an hour after they left the manifest);
- a file rewritten in place (a hard link shares it) no longer matches its name: the browser's check fails and the
  view falls back to the server, which refuses the same file by the same manifest.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from pathlib import Path

from core import EXPORTED
from core.atomic import sha256_file
from core.manifest import MANIFEST
from core.web import ortweb

MODELS_DIR = ortweb.STATIC / "_models"
URL_PREFIX = "app/static/"  # what /app/static/ maps to static/; relative to the app's base URL
GRACE_S = 3600.0  # a link that left the manifest is kept this long for pages that still hold its URL

_verified: dict[tuple, str] = {}  # (path, inode, mtime_ns, size) -> sha256, for files this process has hashed
_manifests: dict[str, tuple[tuple, dict]] = {}  # manifest path -> (stat stamp, parsed)
_pruned: dict[str, tuple] = {}  # models dir -> manifest stamp it was last pruned against


def _stamp(path: Path) -> tuple | None:
    try:
        s = path.stat()
    except OSError:
        return None
    return (s.st_ino, s.st_mtime_ns, s.st_size)


def read_manifest(exported_dir: str | os.PathLike = EXPORTED) -> tuple[tuple | None, dict]:
    """exported/manifest.json, re-read only when the file changes (or is replaced with its folder)."""
    path = Path(exported_dir) / MANIFEST
    stamp = _stamp(path)
    hit = _manifests.get(str(path))
    if hit and hit[0] == stamp and stamp is not None:
        return hit
    try:
        man = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(man.get("files"), dict):
            man = {"files": {}}
    except (OSError, ValueError):
        man = {"files": {}}
    _manifests[str(path)] = (stamp, man)
    return stamp, man


def _hash_once(path: Path) -> str | None:
    stamp = _stamp(path)
    if stamp is None:
        return None
    key = (str(path), *stamp)
    if key not in _verified:
        _verified[key] = sha256_file(path)
    return _verified[key]


def _link_verified(src: Path, target: Path, sha256: str) -> None:
    """Place the bytes of ``src`` at ``target`` only if they hash to ``sha256`` (link or copy, then rename)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        try:
            os.link(src, tmp)
        except OSError:  # no hard links here (another file system, Windows without rights): copy
            shutil.copyfile(src, tmp)
        # Hash what was linked, not `src` before linking: exported/ may be swapped between the two.
        got = sha256_file(tmp)
        if got != sha256:
            raise ValueError(f"{src.name}: sha256 {got[:12]}… is not the manifest's {sha256[:12]}…")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def publish(names: list[str] | tuple[str, ...], exported_dir: str | os.PathLike = EXPORTED,
            models_dir: str | os.PathLike = MODELS_DIR) -> tuple[dict[str, dict], dict[str, str]]:
    """{name: {url, sha256, bytes}} for each exported file that could be published, and {name: why not} for the rest.

    Cheap when nothing changed: one stat of the manifest and one of each published link.
    """
    exported_dir, models_dir = Path(exported_dir), Path(models_dir)
    stamp, man = read_manifest(exported_dir)
    files = man.get("files", {})
    ok: dict[str, dict] = {}
    problems: dict[str, str] = {}
    for name in names:
        entry = files.get(name)
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str) or len(entry["sha256"]) != 64:
            problems[name] = f"{name} is not listed in {MANIFEST}"
            continue
        sha, size = entry["sha256"].lower(), entry.get("bytes")
        target = models_dir / f"{sha}{Path(name).suffix}"
        try:
            if _stamp(target) is None or (size is not None and target.stat().st_size != size) \
                    or _hash_once(target) != sha:
                _link_verified(exported_dir / name, target, sha)
                _hash_once(target)
        except (OSError, ValueError) as exc:
            problems[name] = f"{name} could not be published for the browser ({exc})"
            continue
        rel = target.relative_to(ortweb.STATIC).as_posix() if target.is_relative_to(ortweb.STATIC) else target.name
        nbytes = size if size is not None else target.stat().st_size
        ok[name] = {"url": URL_PREFIX + rel, "sha256": sha, "bytes": nbytes}
    if stamp is not None and _pruned.get(str(models_dir)) != stamp:
        _pruned[str(models_dir)] = stamp
        prune(models_dir, {e.get("sha256", "").lower() for e in files.values() if isinstance(e, dict)})
    return ok, problems


def prune(models_dir: str | os.PathLike, keep: set[str], grace_s: float = GRACE_S) -> list[str]:
    """Remove links whose hash left the manifest more than ``grace_s`` ago (their ctime is when they were made)."""
    removed = []
    now = time.time()
    try:
        entries = list(Path(models_dir).iterdir())
    except OSError:
        return removed
    for p in entries:
        try:
            if not p.is_file():
                continue
            age = now - p.lstat().st_ctime  # a hard link's ctime also moves when exported/ drops its file
            if p.name.startswith(".") and p.name.endswith(".tmp"):
                stale = age > 60  # left by a killed run
            else:
                stale = p.name.split(".")[0] not in keep and age > grace_s
            if stale:
                p.unlink()
                removed.append(p.name)
        except OSError:
            pass
    return removed


def ort_spec(ort_dir: str | os.PathLike = ortweb.ORT_DIR) -> dict | None:
    """What the browser needs to load onnxruntime-web: version and {entry, glue, wasm: {url, sha256, bytes}}."""
    man = ortweb.read_manifest(ort_dir)
    files = man.get("files", {})
    roles = {"entry": ortweb.ENTRY, "glue": ortweb.GLUE, "wasm": ortweb.WASM}
    if not all(isinstance(files.get(n), dict) for n in roles.values()):
        return None
    base = Path(ort_dir)
    rel = base.relative_to(ortweb.STATIC).as_posix() if base.is_relative_to(ortweb.STATIC) else base.name
    return {"version": man.get("version"), "package": man.get("package"),
            "files": {role: {"url": f"{URL_PREFIX}{rel}/{name}", "sha256": files[name]["sha256"],
                             "bytes": files[name]["bytes"]} for role, name in roles.items()}}
