"""The vendored onnxruntime-web build (static/ort/) matches its manifest, and scripts/fetch_ort_web.py refreshes it
from a registry tarball only when the tarball's integrity checks out (tested offline on a synthetic tarball)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest

from core.web import ortweb

ROOT = Path(__file__).resolve().parent.parent


def _load_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("fetch_ort_web", ROOT / "scripts" / "fetch_ort_web.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_vendored_files_match_their_manifest():
    assert ortweb.verify() == []
    man = ortweb.read_manifest()
    assert man["package"] == "onnxruntime-web" and man["version"] == "1.30.0"
    assert man["license"] == "MIT"
    assert man["integrity"].startswith("sha512-") and len(base64.b64decode(man["integrity"][7:])) == 64
    assert man["tarball"] == "https://registry.npmjs.org/onnxruntime-web/-/onnxruntime-web-1.30.0.tgz"
    assert set(man["files"]) == set(ortweb.FILES)
    total = sum(f["bytes"] for f in man["files"].values())
    assert total < 16_000_000, total  # the wasm-only build; ort.min.js would pull the 28 MB WebGPU one
    lic = (ortweb.ORT_DIR / "LICENSE").read_text()
    assert "MIT License" in lic and "Microsoft Corporation" in lic and "1.30.0" in lic
    on_disk = {p.name for p in ortweb.ORT_DIR.iterdir()}
    assert on_disk == {*ortweb.FILES, "LICENSE", "manifest.json"}


def test_verify_notices_a_changed_file(tmp_path):
    dest = tmp_path / "ort"
    shutil.copytree(ortweb.ORT_DIR, dest)
    assert ortweb.verify(dest) == []
    p = dest / ortweb.GLUE
    p.write_bytes(p.read_bytes().replace(b"wasm", b"WASM", 1))
    assert any(ortweb.GLUE in msg and "sha256" in msg for msg in ortweb.verify(dest))
    (dest / ortweb.ENTRY).unlink()
    assert any("missing" in msg for msg in ortweb.verify(dest))


def _tarball(version: str, license_: str = "MIT") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        files = {"package/package.json": json.dumps({"name": "onnxruntime-web", "version": version,
                                                     "license": license_}).encode(),
                 **{f"package/dist/{n}": f"{n} of {version}".encode() for n in ortweb.FILES},
                 "package/dist/ort.min.js": b"not wanted"}
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _sri(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def test_fetch_script_writes_files_and_manifest_from_a_checked_tarball(tmp_path, monkeypatch):
    mod = _load_script()
    tgz = _tarball("9.9.9")
    (tmp_path / "x.tgz").write_bytes(tgz)
    url = "https://registry.npmjs.org/onnxruntime-web/-/onnxruntime-web-9.9.9.tgz"
    meta = {"license": "MIT", "dist": {"tarball": url, "integrity": _sri(tgz)}}
    monkeypatch.setattr(mod, "registry_meta", lambda version: meta)
    dest = tmp_path / "ort"
    dest.mkdir()
    (dest / "old-file.js").write_text("from an older layout")
    assert mod.main(["--version", "9.9.9", "--dest", str(dest), "--tarball", str(tmp_path / "x.tgz")]) == 0
    man = json.loads((dest / "manifest.json").read_text())
    assert man["version"] == "9.9.9" and man["integrity"] == meta["dist"]["integrity"]
    for n in ortweb.FILES:
        data = (dest / n).read_bytes()
        assert data == f"{n} of 9.9.9".encode()
        assert man["files"][n] == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    assert not (dest / "ort.min.js").exists() and not (dest / "old-file.js").exists()
    assert ortweb.verify(dest) == []


def test_fetch_script_refuses_a_tampered_or_mislabelled_tarball(tmp_path, monkeypatch):
    mod = _load_script()
    tgz = _tarball("9.9.9")
    (tmp_path / "x.tgz").write_bytes(tgz[:-1] + bytes([tgz[-1] ^ 1]))
    monkeypatch.setattr(mod, "registry_meta", lambda version: {"dist": {"tarball": "u", "integrity": _sri(tgz)}})
    with pytest.raises(SystemExit, match="integrity mismatch"):
        mod.main(["--version", "9.9.9", "--dest", str(tmp_path / "ort"), "--tarball", str(tmp_path / "x.tgz")])
    assert not (tmp_path / "ort").exists() or not any((tmp_path / "ort").iterdir())
    other = _tarball("9.9.8")
    (tmp_path / "y.tgz").write_bytes(other)
    monkeypatch.setattr(mod, "registry_meta", lambda version: {"dist": {"tarball": "u", "integrity": _sri(other)}})
    with pytest.raises(SystemExit, match="not onnxruntime-web@9.9.9"):
        mod.main(["--version", "9.9.9", "--dest", str(tmp_path / "ort"), "--tarball", str(tmp_path / "y.tgz")])
    gpl = _tarball("9.9.9", "GPL-3.0")
    (tmp_path / "z.tgz").write_bytes(gpl)
    monkeypatch.setattr(mod, "registry_meta", lambda version: {"dist": {"tarball": "u", "integrity": _sri(gpl)}})
    with pytest.raises(SystemExit, match="not MIT"):
        mod.main(["--version", "9.9.9", "--dest", str(tmp_path / "ort"), "--tarball", str(tmp_path / "z.tgz")])
