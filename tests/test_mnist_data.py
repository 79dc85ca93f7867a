"""MNIST IDX reader, loopback download with md5 checks, data location and the validation split (no torch)."""

import functools
import gzip
import hashlib
import http.server
import socket
import struct
import threading
from pathlib import Path

import numpy as np
import pytest

from core.data import mnist as M


def idx_bytes(arr: np.ndarray) -> bytes:
    code = {np.uint8: 0x08, np.int32: 0x0C}[arr.dtype.type]
    head = bytes([0, 0, code, arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    return head + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def tiny_set(n=20, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), (np.arange(n) % 10).astype(np.uint8)


def write_folder(folder: Path, gz=True, n_train=20, n_test=10) -> dict[str, bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    xtr, ytr = tiny_set(n_train, 1)
    xte, yte = tiny_set(n_test, 2)
    blobs = {}
    for stem, arr in zip(M.FILES.values(), (xtr, ytr, xte, yte)):
        data = idx_bytes(arr)
        name = stem + (".gz" if gz else "")
        if gz:
            data = gzip.compress(data)
        (folder / name).write_bytes(data)
        blobs[name] = data
    return blobs


def test_parse_idx_raw_and_gzip_give_the_same_array():
    x, _ = tiny_set(5)
    raw = idx_bytes(x)
    a, b = M.parse_idx(raw), M.parse_idx(gzip.compress(raw))
    assert a.shape == (5, 28, 28) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, x)
    np.testing.assert_array_equal(b, x)


def test_parse_idx_reads_big_endian_ints():
    arr = np.array([1, 256, -3], dtype=np.int32)
    np.testing.assert_array_equal(M.parse_idx(idx_bytes(arr)), arr)


@pytest.mark.parametrize("mutate, words", [
    (lambda b: b[:3], "too short"),
    (lambda b: b"\x08\x03" + b[2:], "not an IDX"),
    (lambda b: b[:2] + b"\x42" + b[3:], "not an IDX"),
    (lambda b: b[:3] + b"\x09" + b[4:], "dimensions"),
    (lambda b: b[:10], "truncated inside the header"),
    (lambda b: b[:-1], "truncated"),
    (lambda b: b + b"\x00\x00", "unexpected bytes"),
    (lambda b: gzip.compress(b)[:-12], "gzip"),
    (lambda b: b"PK\x03\x04 a zip file, not MNIST", "not an IDX"),
])
def test_parse_idx_refuses_corrupt_bytes_with_a_clear_message(mutate, words):
    x, _ = tiny_set(3)
    with pytest.raises(M.MnistError, match=words):
        M.parse_idx(mutate(idx_bytes(x)), "sample")


def test_read_folder_checks_counts_and_reports_sha256(tmp_path):
    blobs = write_folder(tmp_path)
    m = M.read_folder(tmp_path)
    assert m.train_images.shape == (20, 28, 28) and m.test_images.shape == (10, 28, 28)
    assert m.train_labels.dtype == np.int64
    assert m.sha256 == {k: hashlib.sha256(v).hexdigest() for k, v in blobs.items()}
    # labels that do not match the image count
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(7, np.uint8))))
    with pytest.raises(M.MnistError, match="10 test images but labels"):
        M.read_folder(tmp_path)


def test_read_folder_accepts_uncompressed_files(tmp_path):
    write_folder(tmp_path, gz=False)
    assert len(M.read_folder(tmp_path).train_labels) == 20


def test_missing_file_says_how_to_get_the_data(tmp_path):
    write_folder(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(M.MnistError, match="MNIST_DIR"):
        M.read_folder(tmp_path)


def test_offline_without_data_gives_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.delenv("MNIST_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert M.cache_dir() == tmp_path / "cache" / "big-model-lab" / "mnist"
    with pytest.raises(M.MnistError, match="--download"):
        M.locate(None, allow_download=False)
    # "online" but every mirror refuses the connection: still one clear message, nothing written
    with pytest.raises(M.MnistError, match="could not download"):
        M.download(tmp_path / "dl", mirrors=[f"http://127.0.0.1:{free_port()}/"])
    assert not any((tmp_path / "dl").glob("*")) if (tmp_path / "dl").exists() else True


def test_locate_prefers_argument_then_env_then_cache(tmp_path, monkeypatch):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "cache" / "big-model-lab" / "mnist"
    for d in (a, b, c):
        write_folder(d)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("MNIST_DIR", str(b))
    assert M.locate(a) == a
    assert M.locate() == b
    monkeypatch.delenv("MNIST_DIR")
    assert M.locate(allow_download=False) == c
    with pytest.raises(M.MnistError, match="does not hold"):
        M.locate(tmp_path / "nowhere")


# ------------------------------------------------------------------------------------------ loopback download


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    """An http.server on 127.0.0.1 serving a folder of fixture .gz files; yields (base_url, blobs)."""
    root = tmp_path / "served"
    blobs = write_folder(root)
    handler = functools.partial(Quiet, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", blobs
    finally:
        httpd.shutdown()
        httpd.server_close()


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_download_over_loopback_verifies_md5_and_loads(server, tmp_path):
    base, blobs = server
    md5 = {k: hashlib.md5(v).hexdigest() for k, v in blobs.items()}
    dead = f"http://127.0.0.1:{free_port()}/"
    dest = M.download(tmp_path / "dl", mirrors=[dead, base], md5=md5)  # first mirror is down: falls back
    assert sorted(p.name for p in dest.iterdir()) == sorted(blobs)
    m = M.read_folder(dest)
    assert m.train_images.shape == (20, 28, 28)
    # a second call finds the verified files and fetches nothing (the server could be gone)
    assert M.download(dest, mirrors=[dead], md5=md5) == dest


def test_download_refuses_a_checksum_mismatch_and_leaves_no_file(server, tmp_path):
    base, blobs = server
    md5 = {k: hashlib.md5(v).hexdigest() for k, v in blobs.items()}
    bad = next(iter(md5))
    md5[bad] = "0" * 32
    dest = tmp_path / "dl"
    with pytest.raises(M.MnistError, match="md5") as info:
        M.download(dest, mirrors=[base], md5={bad: md5[bad]})
    assert "refused" in str(info.value)
    assert not dest.exists() or list(dest.iterdir()) == []  # nor a temporary file


def test_official_md5_table_is_the_published_one():
    assert M.OFFICIAL_MD5["train-images-idx3-ubyte.gz"] == "f68b3c2dcbeaaa9fbdd348bbdeb94873"
    assert M.OFFICIAL_MD5["t10k-labels-idx1-ubyte.gz"] == "ec29112dd5afa0611ce80d1b7f02629c"
    assert M.MIRRORS[0].startswith("https://")


# ------------------------------------------------------------------------------------------ split and real data


def test_stratified_split_is_seeded_disjoint_and_class_balanced():
    labels = np.repeat(np.arange(10), np.arange(50, 150, 10))
    tr, va = M.stratified_split(labels, 0.1, seed=3)
    tr2, va2 = M.stratified_split(labels, 0.1, seed=3)
    _, va3 = M.stratified_split(labels, 0.1, seed=4)
    np.testing.assert_array_equal(va, va2)
    np.testing.assert_array_equal(tr, tr2)
    assert not np.array_equal(va, va3)
    assert len(np.intersect1d(tr, va)) == 0 and len(tr) + len(va) == len(labels)
    for c in range(10):
        n = (labels == c).sum()
        assert (labels[va] == c).sum() == round(0.1 * n)
    with pytest.raises(ValueError):
        M.stratified_split(labels, 1.0)


def test_real_mnist_loads(mnist_dir):
    m = M.load_mnist(mnist_dir)
    assert m.train_images.shape[1:] == (28, 28) and m.train_images.dtype == np.uint8
    assert m.test_images.shape == (10_000, 28, 28)
    assert set(np.unique(m.train_labels)) == set(range(10)) == set(np.unique(m.test_labels))
    assert m.train_images.max() == 255 and 0.08 < m.train_images.mean() / 255 < 0.2  # ink = 255, mostly background
    tr, va = m.split(0.1, 0)
    assert abs(len(va) - 0.1 * len(m.train_labels)) <= 10


def test_cli_reports_missing_data(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MNIST_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert M.main(["--dir", str(tmp_path / "empty")]) == 1
    assert "error:" in capsys.readouterr().err
