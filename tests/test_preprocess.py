"""MNIST-style preprocessing of any image: crop, 20x20 keeping aspect, centre of mass at the centre of 28x28."""

import base64
import gzip
import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from core.errors import UserError
from core.runtime.preprocess import ImageError, as_batch, center_of_mass, decode_data_url, preprocess


def _png(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _seven(size=(300, 200), ink=0, paper=255, mode="L", offset=(0, 0), width=14) -> Image.Image:
    """A '7' drawn off-centre: dark ink on light paper by default."""
    img = Image.new(mode, size, paper)
    d = ImageDraw.Draw(img)
    ox, oy = offset
    d.line([(40 + ox, 30 + oy), (120 + ox, 30 + oy), (70 + ox, 150 + oy)], fill=ink, width=width)
    return img


def _bbox(x: np.ndarray, level: float = 0.25) -> tuple[int, int]:
    ys, xs = np.nonzero(x > level)
    return ys.max() - ys.min() + 1, xs.max() - xs.min() + 1


def test_output_shape_range_and_centre_of_mass():
    x = preprocess(_png(_seven(offset=(120, 30))))
    assert x.shape == (28, 28) and x.dtype == np.float32
    assert x.min() >= 0.0 and abs(x.max() - 1.0) < 1e-6
    cy, cx = center_of_mass(x)
    assert abs(cy - 14) < 0.75 and abs(cx - 14) < 0.75  # MNIST's centre (measured mean on t10k: 13.99, 14.00)
    h, w = _bbox(x)
    assert max(h, w) in (19, 20, 21)  # the longer side scaled into the 20-pixel box


def test_dark_ink_on_light_paper_equals_light_on_dark():
    dark_on_light = preprocess(_png(_seven(ink=0, paper=255)))
    light_on_dark = preprocess(_png(_seven(ink=255, paper=0)))
    assert dark_on_light[0].max() < 0.05 and dark_on_light.sum() > 20  # paper became 0, ink became 1
    assert np.abs(dark_on_light - light_on_dark).max() < 1e-5


def test_aspect_ratio_is_kept():
    img = Image.new("L", (200, 200), 0)
    ImageDraw.Draw(img).rectangle([95, 20, 105, 180], fill=255)  # a tall bar ("1"), 11 x 161
    h, w = _bbox(preprocess(img))
    assert 19 <= h <= 21 and w <= 3


@pytest.mark.parametrize("mode", ["1", "L", "P", "RGB", "CMYK", "I", "F", "LA"])
def test_weird_modes(mode):
    base = _seven(ink=0, paper=255).convert("RGB")
    img = base.convert(mode) if mode not in ("I", "F") else base.convert("L").convert(mode)
    x = preprocess(img)
    assert x.shape == (28, 28) and np.isfinite(x).all() and x.max() == pytest.approx(1.0)
    ref = preprocess(base)
    assert np.corrcoef(x.ravel(), ref.ravel())[0, 1] > 0.95


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP"])
def test_common_file_formats(fmt):
    img = _seven(ink=30, paper=230).convert("RGB")
    x = preprocess(_png(img, fmt))
    ref = preprocess(img)
    assert np.corrcoef(x.ravel(), ref.ravel())[0, 1] > 0.95


@pytest.mark.parametrize("stroke", [(0, 0, 0, 255), (255, 255, 255, 255), (200, 30, 30, 255)])
def test_transparent_background_drawing(stroke):
    img = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    ImageDraw.Draw(img).line([(140, 40), (140, 240)], fill=stroke, width=20)
    x = preprocess(_png(img))
    assert x.sum() > 10 and x[0].max() < 0.05  # the stroke is the ink whatever its colour
    h, w = _bbox(x)
    assert h >= 19 and w < 8


def test_drawing_pad_data_url():
    img = Image.new("RGB", (224, 224), "black")
    ImageDraw.Draw(img).line([(112, 30), (100, 190)], fill="white", width=18)
    url = "data:image/png;base64," + base64.b64encode(_png(img)).decode()
    x = preprocess(decode_data_url(url))
    assert x.shape == (28, 28) and x.max() == pytest.approx(1.0)
    with pytest.raises(ImageError):
        decode_data_url("not a data url")


@pytest.mark.parametrize("bad, why", [
    (b"", "empty"),
    (b"this is not an image at all", "not an image"),
    ("blank", "blank"),
    ("white", "blank"),
    ("tiny", "at least"),
    ("speck", "too little ink"),
])
def test_bad_input_gives_a_clear_user_error(bad, why):
    if bad == "blank":
        bad = _png(Image.new("L", (100, 100), 0))
    elif bad == "white":
        bad = _png(Image.new("RGB", (100, 100), (250, 250, 250)))
    elif bad == "tiny":
        bad = _png(Image.new("L", (5, 40), 255))
    elif bad == "speck":
        img = Image.new("L", (100, 100), 0)
        img.putpixel((50, 50), 255)
        bad = _png(img)
    with pytest.raises(UserError, match=why):
        preprocess(bad)


def test_huge_image_is_shrunk_first():
    img = _seven(size=(4000, 3000), width=120)
    d = ImageDraw.Draw(img)
    d.line([(400, 300), (2400, 300), (1200, 2600)], fill=0, width=200)
    x = preprocess(img)
    assert x.shape == (28, 28) and x.max() == pytest.approx(1.0)


def test_as_batch_layout():
    b = as_batch(np.zeros((28, 28), np.uint8))
    assert b.shape == (1, 1, 28, 28) and b.dtype == np.float32
    assert as_batch(np.full((3, 28, 28), 255, np.uint8)).max() == 1.0
    with pytest.raises(UserError):
        as_batch(np.zeros((27, 28)))


def test_real_mnist_digits_round_trip_close_to_themselves(mnist_dir):
    path = mnist_dir / "t10k-images-idx3-ubyte.gz"
    with (gzip.open(path) if path.exists() else open(mnist_dir / "t10k-images-idx3-ubyte", "rb")) as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)[:300]
    corr = []
    for img in images:
        x = img.astype(np.float32) / 255.0
        y = preprocess(img)
        corr.append(np.corrcoef(x.ravel(), y.ravel())[0, 1])
    corr = np.array(corr)
    # MNIST was made with exactly this recipe, so most digits come back nearly unchanged; a few move by a pixel.
    assert np.median(corr) > 0.99, np.median(corr)
    assert (corr > 0.9).mean() > 0.9
