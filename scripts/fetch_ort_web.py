"""Refresh the vendored onnxruntime-web files under static/ort/ from the npm registry and rewrite their manifest.

    python scripts/fetch_ort_web.py [--version 1.30.0] [--dest static/ort] [--tarball onnxruntime-web-1.30.0.tgz]

Only the wasm build's three files are kept (``ort.wasm.min.mjs`` imports ``ort-wasm-simd-threaded.mjs``, which
instantiates ``ort-wasm-simd-threaded.wasm``); the plain ``ort.min.js`` would pull the 28 MB WebGPU build instead.
The tarball is checked against the registry's sha512 ``integrity`` before anything is extracted, and every file is
written atomically, the manifest last, so a failed run leaves the old set in place. The npm package ships no
LICENSE file (its README points at the repository's), so the repository's MIT text is written beside the files.

Without network access to registry.npmjs.org, pass ``--tarball`` (e.g. from ``npm pack onnxruntime-web@1.30.0``).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text
from core.web.ortweb import FILES, MANIFEST, ORT_DIR, PACKAGE

REGISTRY = "https://registry.npmjs.org"
MAX_TARBALL = 200 * 1024 * 1024  # the 1.30.0 tarball is ~40 MB; refuse anything absurd

# https://github.com/microsoft/onnxruntime/blob/main/LICENSE (the package README's "License" link).
LICENSE_TEXT = """\
onnxruntime-web {version} (npm package `onnxruntime-web`, https://github.com/microsoft/onnxruntime):
the files ort.wasm.min.mjs, ort-wasm-simd-threaded.mjs and ort-wasm-simd-threaded.wasm in this folder.
The package declares "license": "MIT" and ships no LICENSE file; its README refers to the repository's LICENSE,
reproduced here. Third-party components compiled into the wasm binary are listed in the repository's
ThirdPartyNotices.txt (https://github.com/microsoft/onnxruntime/blob/v{version}/ThirdPartyNotices.txt).

MIT License

Copyright (c) 2018 - present Microsoft Corporation

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


def registry_meta(version: str) -> dict:
    """The registry's metadata of one version (dist.tarball, dist.integrity, license)."""
    try:
        with urllib.request.urlopen(f"{REGISTRY}/{PACKAGE}/{version}", timeout=60) as r:
            return json.load(r)
    except OSError:
        # Same question through the npm client (it knows the machine's registry and proxy settings).
        out = subprocess.run(["npm", "view", f"{PACKAGE}@{version}", "--json"], check=True, capture_output=True,
                             text=True, timeout=120).stdout
        return json.loads(out)


def download(url: str, version: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=300) as r:
            data = r.read(MAX_TARBALL + 1)
    except OSError:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["npm", "pack", f"{PACKAGE}@{version}", "--silent"], check=True, cwd=tmp, timeout=600)
            data = next(Path(tmp).glob("*.tgz")).read_bytes()
    if len(data) > MAX_TARBALL:
        raise SystemExit(f"the tarball at {url} is larger than {MAX_TARBALL} bytes; refusing it")
    return data


def check_integrity(data: bytes, integrity: str) -> None:
    """Subresource-integrity string ("sha512-<base64>") against the bytes."""
    algo, _, want = integrity.partition("-")
    if algo not in ("sha512", "sha384", "sha256"):
        raise SystemExit(f"unexpected integrity algorithm {algo!r}")
    got = base64.b64encode(hashlib.new(algo, data).digest()).decode()
    if got != want:
        raise SystemExit(f"tarball integrity mismatch: registry says {integrity}, the bytes give {algo}-{got}")


def extract(data: bytes, version: str) -> dict[str, bytes]:
    """The three dist files (and package.json, checked) from the tarball, read without extracting to disk."""
    wanted = {f"package/dist/{name}": name for name in FILES}
    out: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar:
            if member.name == "package/package.json" and member.isfile():
                pkg = json.loads(tar.extractfile(member).read())
                if pkg.get("name") != PACKAGE or pkg.get("version") != version:
                    raise SystemExit(f"the tarball holds {pkg.get('name')}@{pkg.get('version')}, "
                                     f"not {PACKAGE}@{version}")
                if pkg.get("license") != "MIT":
                    raise SystemExit(f"{PACKAGE}@{version} declares license {pkg.get('license')!r}, not MIT: "
                                     "check it before vendoring")
                out["package.json"] = b"ok"
            elif member.name in wanted and member.isfile():
                out[wanted[member.name]] = tar.extractfile(member).read()
    missing = [n for n in (*FILES, "package.json") if n not in out]
    if missing:
        raise SystemExit(f"the tarball lacks {missing}")
    out.pop("package.json")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--version", default="1.30.0")
    ap.add_argument("--dest", type=Path, default=ORT_DIR)
    ap.add_argument("--tarball", type=Path, help="a local onnxruntime-web-<version>.tgz (checked all the same)")
    args = ap.parse_args(argv)

    meta = registry_meta(args.version)
    dist = meta["dist"]
    data = args.tarball.read_bytes() if args.tarball else download(dist["tarball"], args.version)
    check_integrity(data, dist["integrity"])
    files = extract(data, args.version)

    dest: Path = args.dest
    dest.mkdir(parents=True, exist_ok=True)
    for name, blob in files.items():
        atomic_write_bytes(dest / name, blob)
    atomic_write_text(dest / "LICENSE", LICENSE_TEXT.format(version=args.version))
    manifest = {
        "package": PACKAGE,
        "version": args.version,
        "license": meta.get("license", "MIT"),
        "tarball": dist["tarball"],
        "integrity": dist["integrity"],
        "files": {name: {"sha256": hashlib.sha256(blob).hexdigest(), "bytes": len(blob)}
                  for name, blob in sorted(files.items())},
    }
    atomic_write_json(dest / MANIFEST, manifest)
    stale = [p for p in dest.iterdir() if p.is_file() and p.name not in (*FILES, "LICENSE", MANIFEST)]
    for p in stale:  # files of an older layout
        p.unlink()
    total = sum(f["bytes"] for f in manifest["files"].values())
    print(f"{PACKAGE}@{args.version} -> {dest} ({total / 1e6:.1f} MB in {len(files)} files; integrity checked)")
    for name, f in manifest["files"].items():
        print(f"  {name:32s} {f['bytes']:>10,d}  sha256 {f['sha256'][:16]}…")
    if stale:
        print(f"  removed {', '.join(p.name for p in stale)}")
    shutil.rmtree(dest / "__pycache__", ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
