"""Any image a person gives us -> one MNIST-style digit: float32 [28, 28] in [0, 1], ink = 1 (numpy + pillow only).

MNIST itself was made this way (LeCun et al.): the digit is cropped to its ink, scaled so its longer side is 20 pixels
keeping the aspect ratio, and pasted into a 28x28 field so that its centre of mass sits at the centre. We also undo
what real photos and drawings bring: alpha channels, colour, dark ink on light paper (inverted to light ink on dark),
EXIF rotation, animated first frames, and huge sizes.
"""

from __future__ import annotations

import base64
import binascii
import io

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import UserError

SIZE = 28  # the MNIST field
BOX = 20  # the digit's longer side inside it
MIN_SIDE = 8  # smaller uploads carry no recognisable digit
MAX_SIDE = 1024  # larger ones are shrunk first (speed; the result is 28x28 anyway)
MIN_CONTRAST = 0.12  # ink must differ from the paper by at least this much (0..1)
INK_LEVEL = 0.25  # fraction of the strongest ink that counts as ink for the crop


class ImageError(UserError):
    """An image that cannot become a digit (unreadable, blank, tiny); the message says why."""


def decode_data_url(url: str) -> bytes:
    """The bytes of a ``data:image/png;base64,...`` URL (what the drawing pad returns)."""
    if not isinstance(url, str) or not url.startswith("data:") or "," not in url:
        raise ImageError("The drawing could not be read (not an image data URL).")
    try:
        return base64.b64decode(url.split(",", 1)[1], validate=False)
    except (binascii.Error, ValueError) as exc:
        raise ImageError("The drawing could not be read (bad base64 data).") from exc


def open_image(data: bytes | Image.Image) -> Image.Image:
    """A PIL image from bytes in any format pillow reads; first frame of animations; EXIF rotation applied."""
    if isinstance(data, Image.Image):
        img = data
    else:
        if not data:
            raise ImageError("The file is empty.")
        try:
            img = Image.open(io.BytesIO(data))
            img.seek(0)
            img.load()
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise ImageError(
                "This file is not an image pillow can read (try PNG, JPEG, GIF, BMP, TIFF or WebP)."
            ) from exc
        try:
            img = ImageOps.exif_transpose(img)
        except Exception:  # broken EXIF must not stop a readable image
            pass
    if min(img.size) < MIN_SIDE:
        raise ImageError(f"The image is {img.size[0]}x{img.size[1]} pixels; it needs at least {MIN_SIDE} on each side.")
    if max(img.size) > MAX_SIDE:
        img = img.copy()
        img.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BOX)
    return img


def to_gray(img: Image.Image) -> np.ndarray:
    """Luminance in [0, 1]; transparent pixels become paper (whichever shade the opaque ink is not)."""
    has_alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
    if not has_alpha:
        return np.asarray(img.convert("L"), dtype=np.float32) / 255.0
    rgba = np.asarray(img.convert("RGBA"), dtype=np.float32) / 255.0
    alpha = rgba[..., 3]
    lum = rgba[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    opaque = alpha > 0.5
    if opaque.all() or not opaque.any():
        return lum if opaque.any() else alpha  # fully transparent: alpha is all zero -> blank
    # Transparent background (a typical drawing or a cut-out): lay the strokes on paper of the opposite shade.
    paper = 1.0 if np.median(lum[opaque]) < 0.5 else 0.0
    return alpha * lum + (1.0 - alpha) * paper


def ink_map(gray: np.ndarray) -> np.ndarray:
    """Ink = 1 on paper = 0: the paper's shade is the border's median; dark ink on light paper is inverted."""
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    paper = float(np.median(border))
    ink = (paper - gray) if paper > 0.5 else (gray - paper)
    ink = np.clip(ink, 0.0, None)
    peak = float(ink.max())
    if peak < MIN_CONTRAST:
        raise ImageError("No digit found: the image looks blank (no ink stands out from the background).")
    return ink / peak


def center_of_mass(img: np.ndarray) -> tuple[float, float]:
    """(row, col) of the intensity-weighted centre."""
    total = float(img.sum())
    rows, cols = np.indices(img.shape)
    return float((rows * img).sum() / total), float((cols * img).sum() / total)


def mnistify(ink: np.ndarray) -> np.ndarray:
    """Crop to the ink, fit into 20x20 keeping aspect, centre of mass at the centre of 28x28 -> float32 [28, 28]."""
    mask = ink > INK_LEVEL
    if mask.sum() < 2:
        raise ImageError("No digit found: there is too little ink in the image.")
    ys, xs = np.nonzero(mask)
    crop = ink[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1]
    h, w = crop.shape
    scale = BOX / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = Image.fromarray(crop.astype(np.float32), mode="F").resize((nw, nh), Image.Resampling.LANCZOS)
    small = np.clip(np.asarray(small, dtype=np.float32), 0.0, 1.0)  # (nh, nw)
    # Paste into a generous field so any shift fits, then cut the 28x28 window centred on the centre of mass.
    pad = SIZE
    field = np.zeros((nh + 2 * pad, nw + 2 * pad), dtype=np.float32)
    field[pad: pad + nh, pad: pad + nw] = small
    cy, cx = center_of_mass(small)
    # MNIST puts the centre of mass at index (14, 14) (measured on t10k: mean 13.99, 14.00), not at 13.5.
    top = int(round(pad + cy - SIZE // 2))
    left = int(round(pad + cx - SIZE // 2))
    out = field[top: top + SIZE, left: left + SIZE]
    peak = float(out.max())
    if peak <= 0:
        raise ImageError("No digit found after scaling the image.")
    return (out / peak).astype(np.float32)


def preprocess(data: bytes | Image.Image | np.ndarray) -> np.ndarray:
    """Any image (file bytes, PIL image, or a 2-D/3-D array) -> MNIST-style float32 [28, 28], ink = 1."""
    if isinstance(data, np.ndarray):
        arr = np.asarray(data)
        if arr.ndim not in (2, 3) or arr.size == 0:
            raise ImageError(f"Expected a 2-D image array, got shape {arr.shape}.")
        if arr.dtype != np.uint8:
            arr = np.clip(arr.astype(np.float32) * (255.0 if arr.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
        if arr.ndim == 3 and arr.shape[2] not in (1, 3, 4):
            raise ImageError(f"Expected 1, 3 or 4 colour channels, got {arr.shape[2]}.")
        img = Image.fromarray(arr[..., 0] if arr.ndim == 3 and arr.shape[2] == 1 else arr)
    else:
        img = data
    img = open_image(img)
    return mnistify(ink_map(to_gray(img)))


def as_batch(images: np.ndarray) -> np.ndarray:
    """[28,28] / [N,28,28] (float in [0,1] or uint8) -> float32 [N, 1, 28, 28], the layout of every ONNX graph."""
    x = np.asarray(images)
    x = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
    if x.ndim == 2:
        x = x[None]
    if x.ndim == 3:
        x = x[:, None]
    if x.shape[-2:] != (SIZE, SIZE) or x.ndim != 4:
        raise ImageError(f"Expected 28x28 images, got shape {tuple(np.asarray(images).shape)}.")
    return x
