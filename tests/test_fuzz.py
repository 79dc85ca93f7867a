"""Property-based fuzzing (hypothesis) of what strangers and damaged files can reach below the UI.

- the size calculator's parser: any text, huge digit strings -> an int in range or a SizeError, never another error;
- the image loader: random bytes, damaged files, valid images of odd modes, depths, sizes and frame counts -> a
  28x28 digit or an ImageError whose message is short plain text;
- every artifact loader: random or mutated manifests, npz files, histories and ONNX bytes -> the loaded value or
  an ArtifactError, nothing else.

Example counts are modest so the whole file runs in well under a minute on 2 busy cores.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from core.atomic import sha256_bytes
from core.manifest import ArtifactError, read_manifest
from core.runtime import mnist as rt
from core.runtime.preprocess import ImageError, decode_data_url, preprocess
from core.runtime.session import load_model
from core.sizecalc import MAX_PARAMS, SizeError, parse_count

ROOT = Path(__file__).resolve().parent.parent
EXPORTED = ROOT / "exported"
FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MARKUP = re.compile(r"\[[^\]]*\]\(|!\[|<\s*[a-zA-Z/!?]|&[a-z]+;|javascript:", re.IGNORECASE)


def plain(message: str, limit: int = 240) -> None:
    """A message fit for a page: short, one paragraph, no Markdown link or image, no HTML."""
    assert message and len(message) <= limit, message
    assert "\n" not in message and not MARKUP.search(message), message


# ------------------------------------------------------------------------------------------------ the size parser
@FAST
@given(st.text(max_size=300))
def test_parse_count_any_text(text):
    try:
        n = parse_count(text)
    except SizeError as exc:
        plain(str(exc))
        if len(text.strip()) > 24:
            assert text.strip() not in str(exc)  # never echoed at length
        return
    assert isinstance(n, int) and 0 <= n <= MAX_PARAMS


@FAST
@given(st.text(alphabet="0123456789.,_eE+-kKmMbBtT ", max_size=120))
def test_parse_count_number_like_text(text):
    try:
        n = parse_count(text)
    except SizeError as exc:
        plain(str(exc))
        return
    assert isinstance(n, int) and 0 <= n <= MAX_PARAMS


@FAST
@given(st.integers(min_value=1, max_value=20_000), st.sampled_from(["9", "1e9", "9.", ",", "_", "e"]))
def test_parse_count_huge_digit_strings(n, unit):
    text = unit * n
    try:
        value = parse_count(text)
    except SizeError as exc:
        plain(str(exc))
        return
    assert 0 <= value <= MAX_PARAMS


@FAST
@given(st.integers(min_value=0, max_value=MAX_PARAMS))
def test_parse_count_reads_every_count_back(n):
    assert parse_count(str(n)) == n
    assert parse_count(f"{n:,}") == n
    assert parse_count(f"{n:_}") == n


# ------------------------------------------------------------------------------------------------ the image loader
def _check_preprocess(data) -> None:
    try:
        x = preprocess(data)
    except ImageError as exc:
        plain(str(exc))
        event(re.sub(r"\d+", "#", str(exc).split("(")[0].split(":")[0])[:40])  # --hypothesis-show-statistics
        return
    event("a digit")
    assert x.shape == (28, 28) and x.dtype == np.float32 and np.isfinite(x).all()
    assert x.min() >= 0.0 and x.max() <= 1.0 + 1e-6


@FAST
@given(st.binary(max_size=4096))
def test_random_bytes(data):
    _check_preprocess(data)


MAGIC = [b"\x89PNG\r\n\x1a\n", b"GIF89a", b"GIF87a", b"\xff\xd8\xff", b"BM", b"II*\x00", b"MM\x00*", b"RIFF"]


@FAST
@given(st.sampled_from(MAGIC), st.binary(max_size=2048))
def test_random_bytes_behind_a_real_signature(magic, rest):
    if magic == b"RIFF":
        rest = rest[:4] + b"WEBP" + rest[8:]
    _check_preprocess(magic + rest)


MODES = ["1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK", "I", "I;16", "F", "YCbCr", "LAB", "HSV"]
SAVE = {  # mode -> formats Pillow writes it in
    "1": ["PNG", "BMP", "TIFF", "GIF"], "L": ["PNG", "JPEG", "BMP", "TIFF", "GIF", "WEBP"],
    "LA": ["PNG", "TIFF"], "P": ["PNG", "GIF", "BMP", "TIFF"], "PA": ["PNG"], "RGB": ["PNG", "JPEG", "BMP", "TIFF",
    "WEBP", "GIF"], "RGBA": ["PNG", "TIFF", "WEBP"], "CMYK": ["JPEG", "TIFF"], "I": ["PNG", "TIFF"],
    "I;16": ["PNG", "TIFF"], "F": ["TIFF"], "YCbCr": ["JPEG", "TIFF"], "LAB": ["TIFF"], "HSV": [],
}


def _image(mode: str, w: int, h: int, ink: float, paper: float, seed: int, transparent: bool) -> Image.Image:
    rng = np.random.default_rng(seed)
    base = Image.new("L", (w, h), int(paper * 255))
    d = ImageDraw.Draw(base)
    pts = [(int(rng.integers(0, w)), int(rng.integers(0, h))) for _ in range(3)]
    d.line(pts, fill=int(ink * 255), width=max(1, min(w, h) // 8))
    if mode in ("F", "I", "I;16"):
        a = np.asarray(base, np.float32) / 255.0  # values in [0, 1]: the float TIFF case
        scale = {"F": 1.0, "I": float(rng.choice([1, 255, 65535])), "I;16": float(rng.choice([1, 255, 65535]))}[mode]
        arr = a * scale
        img = Image.fromarray(arr.astype(np.float32)) if mode == "F" else (
            Image.fromarray(arr.astype(np.int32)) if mode == "I" else Image.fromarray(arr.astype(np.uint16)))
        return img
    if mode == "P":
        img = base.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE)
        if transparent:
            img.info["transparency"] = img.getpixel((0, 0))
        return img
    if mode == "LAB":
        return Image.merge("LAB", [base, Image.new("L", (w, h), 128), Image.new("L", (w, h), 128)])
    return base.convert("RGB").convert(mode) if mode not in ("L", "LA", "1") else base.convert(mode)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mode=st.sampled_from(MODES), w=st.integers(1, 300), h=st.integers(1, 300), ink=st.floats(0, 1),
       paper=st.floats(0, 1), seed=st.integers(0, 2**16), transparent=st.booleans(), as_file=st.booleans(),
       fmt_pick=st.integers(0, 10), frames=st.integers(1, 4))
def test_valid_images_of_odd_modes_sizes_and_frames(mode, w, h, ink, paper, seed, transparent, as_file, fmt_pick,
                                                    frames):
    img = _image(mode, w, h, ink, paper, seed, transparent)
    formats = SAVE[mode]
    if not as_file or not formats:
        _check_preprocess(img)
        return
    fmt = formats[fmt_pick % len(formats)]
    buf = io.BytesIO()
    try:
        extra = [img.copy() for _ in range(frames - 1)]
        if extra and fmt in ("PNG", "GIF", "TIFF", "WEBP"):
            img.save(buf, fmt, save_all=True, append_images=extra)
        else:
            img.save(buf, fmt)
    except (OSError, ValueError, KeyError):  # Pillow cannot write this mode in this format: nothing to test
        assume(False)
    _check_preprocess(buf.getvalue())


def _valid_files() -> list[bytes]:
    out = []
    img = Image.new("L", (64, 64), 255)
    ImageDraw.Draw(img).line([(10, 10), (50, 10), (25, 55)], fill=0, width=6)
    for fmt, mode in (("PNG", "L"), ("JPEG", "RGB"), ("GIF", "P"), ("BMP", "RGB"), ("TIFF", "F"), ("WEBP", "RGBA")):
        buf = io.BytesIO()
        (img.convert(mode) if mode != "F" else Image.fromarray(np.asarray(img, np.float32) / 255)).save(buf, fmt)
        out.append(buf.getvalue())
    return out


VALID = _valid_files()


@FAST
@given(st.sampled_from(range(len(VALID))), st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)),
                                                     max_size=12), st.one_of(st.none(), st.integers(0, 10**6)))
def test_damaged_files(which, flips, cut):
    data = bytearray(VALID[which])
    for pos, value in flips:
        data[pos % len(data)] = value
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    _check_preprocess(bytes(data))


@FAST
@given(st.text(max_size=200))
def test_drawing_pad_data_urls(text):
    for url in (text, "data:image/png;base64," + text):
        try:
            data = decode_data_url(url)
        except ImageError as exc:
            plain(str(exc))
            continue
        _check_preprocess(data)


@FAST
@given(st.sampled_from(["uint8", "float32", "float64", "int64", "bool", "uint16"]),
       st.lists(st.integers(0, 40), min_size=1, max_size=3), st.integers(0, 2**16))
def test_arrays(dtype, shape, seed):
    rng = np.random.default_rng(seed)
    a = (rng.random(shape) * rng.choice([1, 255, 1e6])).astype(dtype)
    if a.dtype.kind == "f" and a.size:
        a.flat[0] = rng.choice([np.nan, np.inf, 0.5])
    _check_preprocess(a)


# --------------------------------------------------------------------------------------------- artifact loaders
@pytest.fixture(scope="module")
def scratch():
    """A scratch folder with copies of the artifacts the loaders read; each example overwrites one file."""
    d = Path(tempfile.mkdtemp(prefix="bml-fuzz-"))
    (d / "history").mkdir()
    for name in ("examples.npz", "pca.npz", "gan_timeline.npz", "history/gan.json", "autoencoder.encoder.onnx"):
        shutil.copy2(EXPORTED / name, d / name)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def put(folder: Path, name: str, data: bytes) -> None:
    """Write ``data`` as ``name`` with a manifest that agrees: the loaders must judge the content itself."""
    (folder / name).write_bytes(data)
    files = {}
    for p in folder.rglob("*"):
        if p.is_file() and p.name != "manifest.json":
            rel = p.relative_to(folder).as_posix()
            files[rel] = {"sha256": sha256_bytes(p.read_bytes()), "bytes": p.stat().st_size,
                          "rebuild": "python -m core.train all"}
    (folder / "manifest.json").write_text(json.dumps({"format": 1, "files": files}))


LOADERS = {
    "examples.npz": lambda d: rt.load_examples(d),
    "pca.npz": lambda d: rt.load_pca(d),
    "gan_timeline.npz": lambda d: rt.load_timeline(d),
    "history/gan.json": lambda d: rt.load_history("gan", d),
    "autoencoder.encoder.onnx": lambda d: load_model("autoencoder.encoder.onnx", "cpu", d),
}


def only_artifact_errors(folder: Path, names=LOADERS) -> None:
    for name in names:
        try:
            LOADERS[name](folder)
        except ArtifactError as exc:
            plain(str(exc), limit=400)


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=12), kids, max_size=4),
                    max_leaves=20)


@FAST
@given(JSON)
def test_any_json_as_the_manifest(scratch, value):
    (scratch / "manifest.json").write_text(json.dumps(value))
    try:
        read_manifest(scratch)
    except ArtifactError as exc:
        plain(str(exc), limit=400)
    only_artifact_errors(scratch, ["examples.npz", "history/gan.json"])


ENTRY_KEYS = ["sha256", "bytes", "rebuild", "opset", "ops"]


@FAST
@given(st.sampled_from(list(LOADERS)), st.sampled_from(ENTRY_KEYS), JSON, st.booleans(), st.booleans())
def test_mutated_manifest_entries(scratch, name, key, value, delete, files_as_list):
    put(scratch, name, (EXPORTED / name).read_bytes())
    manifest = json.loads((scratch / "manifest.json").read_text())
    entry = manifest["files"][name]
    if delete:
        entry.pop(key, None)
    else:
        entry[key] = value
    if files_as_list:
        manifest["files"] = list(manifest["files"].values())
    (scratch / "manifest.json").write_text(json.dumps(manifest))
    only_artifact_errors(scratch, [name])


@FAST
@given(st.sampled_from(["examples.npz", "pca.npz", "gan_timeline.npz"]),
       st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=8),
       st.one_of(st.none(), st.integers(0, 10**6)))
def test_damaged_npz(scratch, name, flips, cut):
    data = bytearray((EXPORTED / name).read_bytes())
    for pos, value in flips:
        data[pos % len(data)] = value
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    put(scratch, name, bytes(data))
    only_artifact_errors(scratch, [name])


ARRAYS = st.dictionaries(
    st.sampled_from(["images", "labels", "mean", "components", "components_2", "epochs", "x"]),
    st.tuples(st.sampled_from(["uint8", "int64", "float32", "float64", "int32", "bool"]),
              st.lists(st.integers(0, 6), max_size=4)),
    max_size=4)


@FAST
@given(st.sampled_from(["examples.npz", "pca.npz", "gan_timeline.npz"]), ARRAYS, st.integers(0, 2**16))
def test_npz_of_any_arrays(scratch, name, spec, seed):
    rng = np.random.default_rng(seed)
    arrays = {k: (rng.standard_normal(shape) * 100).astype(dtype) for k, (dtype, shape) in spec.items()}
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    put(scratch, name, buf.getvalue())
    only_artifact_errors(scratch, [name])


@FAST
@given(JSON, st.booleans())
def test_any_json_as_a_history(scratch, value, wrap):
    if wrap:  # the right outer shape, anything inside
        value = {"model": "gan", "epochs": value if isinstance(value, list) else [value]}
    put(scratch, "history/gan.json", json.dumps(value, allow_nan=True).encode())
    only_artifact_errors(scratch, ["history/gan.json"])


ONNX_BYTES = (EXPORTED / "autoencoder.encoder.onnx").read_bytes()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(ONNX_BYTES) - 1), st.integers(0, 255)), max_size=10),
       st.one_of(st.none(), st.integers(0, len(ONNX_BYTES))), st.sampled_from(["header", "anywhere"]))
def test_damaged_onnx_bytes(scratch, flips, cut, where):
    data = bytearray(ONNX_BYTES)
    for pos, value in flips:
        data[pos % 4096 if where == "header" else pos] = value
    if cut is not None:
        data = data[:cut]
    put(scratch, "autoencoder.encoder.onnx", bytes(data))
    only_artifact_errors(scratch, ["autoencoder.encoder.onnx"])


@settings(max_examples=15, deadline=None)
@given(st.sampled_from(sorted(p.name for p in EXPORTED.glob("*.onnx"))))
def test_any_other_models_onnx_under_the_autoencoders_name(scratch, other):
    put(scratch, "autoencoder.encoder.onnx", (EXPORTED / other).read_bytes())
    try:
        load_model("autoencoder.encoder.onnx", "cpu", scratch)
    except ArtifactError as exc:
        plain(str(exc), limit=400)
        assert "python -m core.train autoencoder" in str(exc)
    else:
        assert other == "autoencoder.encoder.onnx"
