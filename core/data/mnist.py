"""MNIST from IDX files (numpy only): read, verify, download into a cache, split off a validation set.

Where the data comes from, in order: ``data_dir`` argument, ``$MNIST_DIR``, the cache
(``$XDG_CACHE_HOME/big-model-lab/mnist``, default ``~/.cache/big-model-lab/mnist``), else a download of the four
official files into that cache, each checked against its official md5 before it is kept.

    python -m core.data.mnist --download [--dir D]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.atomic import atomic_write_bytes, sha256_file
from core.errors import UserError

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
# md5 of the official .gz files (as published with the dataset)
OFFICIAL_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
# IDX type code -> numpy dtype (big-endian, as the format stores it)
_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
HOW_TO_GET = (
    "set MNIST_DIR (or pass --data-dir) to a folder with the four MNIST IDX files "
    "(train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], "
    "t10k-labels-idx1-ubyte[.gz]), or run `python -m core.data.mnist --download` on a machine with internet"
)


class MnistError(UserError):
    """Missing, truncated, foreign or corrupt MNIST data; the message says what is wrong and how to fix it."""


def parse_idx(data: bytes, name: str = "IDX data") -> np.ndarray:
    """Decode IDX bytes (gzip-compressed or raw): magic 0x0000 + type byte + ndim byte, big-endian uint32 dims."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise MnistError(f"{name}: gzip stream is damaged or truncated ({exc})") from None
    if len(data) < 4:
        raise MnistError(f"{name}: only {len(data)} bytes, too short for an IDX header")
    if data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise MnistError(f"{name}: not an IDX file (magic bytes {data[:4].hex()}, expected 0000 08..0e 01..03)")
    ndim = data[3]
    if not 1 <= ndim <= 4:
        raise MnistError(f"{name}: IDX header says {ndim} dimensions; MNIST files have 1 or 3")
    head = 4 + 4 * ndim
    if len(data) < head:
        raise MnistError(f"{name}: truncated inside the header ({len(data)} bytes)")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_TYPES[data[2]])
    need = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    have = len(data) - head
    if have < need:
        raise MnistError(f"{name}: truncated, header promises {dims} ({need} bytes of data), file has {have}")
    if have > need:
        raise MnistError(f"{name}: {have - need} unexpected bytes after the data for shape {dims}")
    return np.frombuffer(data, dtype=dtype, offset=head).reshape(dims).astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike) -> np.ndarray:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MnistError(f"cannot read {path}: {exc.strerror or exc}") from None
    return parse_idx(data, path.name)


def _find(folder: Path, stem: str) -> Path | None:
    for cand in (folder / stem, folder / (stem + ".gz")):
        if cand.is_file():
            return cand
    return None


def has_mnist(folder: str | os.PathLike | None) -> bool:
    return folder is not None and all(_find(Path(folder), s) for s in FILES.values())


@dataclass(frozen=True)
class Mnist:
    train_images: np.ndarray  # (N, 28, 28) uint8, ink = 255
    train_labels: np.ndarray  # (N,) int64
    test_images: np.ndarray  # (10000, 28, 28) uint8: t10k, the only source of test figures
    test_labels: np.ndarray
    folder: Path
    sha256: dict  # file name -> sha256 of the file as read

    def split(self, val_fraction: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        return stratified_split(self.train_labels, val_fraction, seed)


def read_folder(folder: str | os.PathLike) -> Mnist:
    folder = Path(folder)
    arrays, sha = {}, {}
    for key, stem in FILES.items():
        path = _find(folder, stem)
        if path is None:
            raise MnistError(f"{folder} has no {stem}[.gz]; {HOW_TO_GET}")
        arrays[key] = read_idx(path)
        sha[path.name] = sha256_file(path)
    for split in ("train", "test"):
        x, y = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if x.ndim != 3 or x.shape[1:] != (28, 28) or x.dtype != np.uint8:
            raise MnistError(f"{folder}: {split} images have shape {x.shape} {x.dtype}, expected (N, 28, 28) uint8")
        if y.ndim != 1 or len(y) != len(x):
            raise MnistError(f"{folder}: {len(x)} {split} images but labels of shape {y.shape}")
        if len(y) and (y.min() < 0 or y.max() > 9):
            raise MnistError(f"{folder}: {split} labels outside 0..9")
    return Mnist(arrays["train_images"], arrays["train_labels"].astype(np.int64), arrays["test_images"],
                 arrays["test_labels"].astype(np.int64), folder, sha)


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "big-model-lab" / "mnist"


def download(dest: str | os.PathLike | None = None, mirrors=MIRRORS, md5: dict | None = None,
             timeout: float = 30.0) -> Path:
    """Fetch the four .gz files into ``dest`` (default: the cache), refusing any whose md5 is not the official one.

    A file is written (atomically) only after its md5 matched, so a bad download leaves nothing behind.
    """
    dest = Path(dest) if dest is not None else cache_dir()
    md5 = OFFICIAL_MD5 if md5 is None else md5
    errors = []
    for fname, want in md5.items():
        if (dest / fname).is_file() and hashlib.md5((dest / fname).read_bytes()).hexdigest() == want:
            continue
        for base in mirrors:
            url = base.rstrip("/") + "/" + fname
            try:
                with urllib.request.urlopen(url, timeout=timeout) as resp:
                    data = resp.read()
            except (urllib.error.URLError, OSError, ValueError) as exc:
                errors.append(f"{url}: {getattr(exc, 'reason', exc)}")
                continue
            got = hashlib.md5(data).hexdigest()
            if got != want:
                errors.append(f"{url}: md5 {got} is not the official {want}; refused")
                continue
            atomic_write_bytes(dest / fname, data)
            break
        else:
            raise MnistError(f"could not download {fname} ({'; '.join(errors[-len(mirrors):])}); {HOW_TO_GET}")
    return dest


def locate(data_dir: str | os.PathLike | None = None, allow_download: bool = True) -> Path:
    """The folder to read: data_dir, $MNIST_DIR, the cache, else a fresh download into the cache."""
    if data_dir is not None:
        if not has_mnist(data_dir):
            raise MnistError(f"{data_dir} does not hold the four MNIST files; {HOW_TO_GET}")
        return Path(data_dir)
    env = os.environ.get("MNIST_DIR")
    if env:
        if not has_mnist(env):
            raise MnistError(f"MNIST_DIR={env} does not hold the four MNIST files; {HOW_TO_GET}")
        return Path(env)
    if has_mnist(cache_dir()):
        return cache_dir()
    if not allow_download:
        raise MnistError(f"no MNIST found; {HOW_TO_GET}")
    return download(cache_dir())


def load_mnist(data_dir: str | os.PathLike | None = None, allow_download: bool = True) -> Mnist:
    return read_folder(locate(data_dir, allow_download))


def stratified_split(labels: np.ndarray, val_fraction: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded class-stratified (train_idx, val_idx): each class gives round(val_fraction * its count) to validation."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    train, val = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = int(round(val_fraction * len(idx)))
        val.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m core.data.mnist", description="Get or check the MNIST files.")
    p.add_argument("--download", action="store_true", help="download the official files (md5-checked)")
    p.add_argument("--dir", type=Path, default=None, help=f"target folder (default: {cache_dir()})")
    args = p.parse_args(argv)
    try:
        folder = download(args.dir) if args.download else locate(args.dir, allow_download=False)
        m = read_folder(folder)
    except MnistError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"MNIST in {folder}: {len(m.train_labels)} training, {len(m.test_labels)} test images")
    return 0


if __name__ == "__main__":
    sys.exit(main())
