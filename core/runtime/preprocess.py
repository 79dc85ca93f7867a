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
import re

import numpy as np
from PIL import Image, ImageOps

from core.errors import UserError
from core.limits import MAX_DATA_URL_CHARS

SIZE = 28  # the MNIST field
BOX = 20  # the digit's longer side inside it
MIN_SIDE = 8  # smaller uploads carry no recognisable digit
MAX_SIDE = 1024  # larger ones are shrunk first (speed; the result is 28x28 anyway)
MIN_CONTRAST = 0.12  # ink must differ from the paper by at least this much (0..1)
INK_LEVEL = 0.25  # fraction of the strongest ink that counts as ink for the crop
# Bounded work per upload (docs/hardening.md): what is decoded is at most MAX_PIXELS (a JPEG may be larger
# on disk: it is decoded at 1/2, 1/4 or 1/8 scale first), only the first frame, from at most MAX_FILE_BYTES.
MAX_PIXELS = 16_000_000  # 16 MP: a 4-channel decode takes 64 MB; the peak stays near 150 MB
MAX_JPEG_PIXELS = 64_000_000  # declared; decoded at reduced scale, but a progressive JPEG buffers every coefficient
MAX_FRAMES = 1_000  # where a file declares its frame count in its header (APNG, WebP)
MAX_FILE_BYTES = 16_000_000  # the host's upload cap is lower (.streamlit/config.toml); this guards other callers
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP")  # what we claim to read; no plugin that runs programs
_FORMAT_HINT = "PNG, JPEG, GIF, BMP, TIFF or WebP"


class ImageError(UserError):
    """An image that cannot become a digit (unreadable, too large, blank, tiny); the message says why."""


def decode_data_url(url: str) -> bytes:
    """The bytes of a ``data:image/png;base64,...`` URL (what the drawing pad returns), at most MAX_DATA_URL_CHARS."""
    if not isinstance(url, str) or not url.startswith("data:") or "," not in url[:200]:
        raise ImageError("The drawing could not be read (not an image data URL).", key="errors.image.drawing_not_url")
    if len(url) > MAX_DATA_URL_CHARS:
        mb, limit = f"{len(url) / 1e6:.1f}", f"{MAX_DATA_URL_CHARS / 1e6:.1f}"
        raise ImageError(f"The drawing is too large ({mb} MB of data; the limit is {limit} MB).",
                         key="errors.image.drawing_too_large", mb=mb, limit=limit)
    try:
        return base64.b64decode(url.split(",", 1)[1], validate=False)
    except (binascii.Error, ValueError) as exc:
        raise ImageError("The drawing could not be read (bad base64 data).", key="errors.image.drawing_bad_base64") \
            from exc


def _mp(pixels: int) -> str:
    mp = pixels / 1e6
    return f"{mp:.0f} MP" if mp >= 10 else f"{mp:.1f} MP"


def _too_large(w: int, h: int, scaled: bool = False) -> ImageError:
    mp, limit = _mp(w * h), _mp(MAX_PIXELS)
    if scaled:
        return ImageError(f"The image is {w}×{h} pixels ({mp}); the limit is {limit} (after decoding at 1/8 scale).",
                          key="errors.image.too_large_scaled", w=w, h=h, mp=mp, limit=limit)
    return ImageError(f"The image is {w}×{h} pixels ({mp}); the limit is {limit}.", key="errors.image.too_large",
                      w=w, h=h, mp=mp, limit=limit)


def _too_small(w: int, h: int) -> ImageError:
    return ImageError(f"The image is {w}x{h} pixels; it needs at least {MIN_SIDE} on each side.",
                      key="errors.image.too_small", w=w, h=h, min=MIN_SIDE)


def header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the first bytes of a PNG, GIF or WebP file, read without Pillow; None otherwise.

    WebP needs it: Pillow's WebP decoder allocates the whole canvas when the file is opened, before any size check
    of ours (a 1.2 kB file can declare 100×983,140 pixels).
    """
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and len(data) >= 30:
        chunk = data[12:16]
        if chunk == b"VP8X":
            return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
        if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
            return int.from_bytes(data[26:28], "little") & 0x3FFF, int.from_bytes(data[28:30], "little") & 0x3FFF
        if chunk == b"VP8L" and data[20] == 0x2F:
            bits = int.from_bytes(data[21:25], "little")
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def _open_lazily(data: bytes) -> Image.Image:
    """Pillow's lazy open (the header only), after our own header check; ImageError when it is no image of ours."""
    size = header_size(data)
    if size and size[0] * size[1] > MAX_PIXELS:
        raise _too_large(*size)
    try:
        return Image.open(io.BytesIO(data), formats=FORMATS)
    except Image.DecompressionBombError as exc:  # Pillow's own limit (far above ours) caught it first
        pixels = re.search(r"\((\d+) pixels\)", str(exc))
        n, limit = int(pixels[1]) if pixels else 0, _mp(MAX_PIXELS)
        if not n:
            raise ImageError(f"The image has too many pixels; the limit is {limit}.",
                             key="errors.image.too_many_pixels", limit=limit) from exc
        mp = _mp(n)
        raise ImageError(f"The image has {mp}; the limit is {limit}.", key="errors.image.pixels", mp=mp,
                         limit=limit) from exc
    except Exception as exc:  # UnidentifiedImageError, and whatever a damaged header makes a plugin raise
        raise ImageError(f"This file is not an image in a format this page reads ({_FORMAT_HINT}).",
                         key="errors.image.not_an_image") from exc


def _first_frame(img: Image.Image) -> Image.Image:
    """Budget checks on the header, then decode the first frame only (JPEG at reduced scale), shrunk to MAX_SIDE."""
    frames = getattr(img, "n_frames", 1) if img.format in ("PNG", "WEBP") else 1  # declared: no frame is read
    if isinstance(frames, int) and frames > MAX_FRAMES:
        n, limit = f"{frames:,}", f"{MAX_FRAMES:,}"
        raise ImageError(f"The image has {n} frames; the limit is {limit} (only the first is used).",
                         key="errors.image.frames", n=n, limit=limit)
    w, h = img.size
    if min(w, h) < MIN_SIDE:
        raise _too_small(w, h)
    if img.format == "JPEG" and w * h > MAX_JPEG_PIXELS:
        mp, limit = _mp(w * h), _mp(MAX_JPEG_PIXELS)
        raise ImageError(f"The image is {w}×{h} pixels ({mp}); the limit for JPEG files is {limit}.",
                         key="errors.image.jpeg_too_large", w=w, h=h, mp=mp, limit=limit)
    if img.format == "JPEG" and w * h > (MAX_SIDE * 2) ** 2:
        img.draft("L" if img.mode in ("L", "RGB") else None, (MAX_SIDE, MAX_SIDE))  # libjpeg's 1/2..1/8 scaling
    if img.size[0] * img.size[1] > MAX_PIXELS:
        raise _too_large(w, h, scaled=img.size != (w, h))
    try:
        img.load()  # the first frame: nothing ever seeks further
    except Image.DecompressionBombError as exc:
        raise _too_large(w, h) from exc
    except MemoryError as exc:
        raise ImageError(f"The image is too large to decode here ({w}×{h} pixels).", key="errors.image.no_memory",
                         w=w, h=h) from exc
    except Exception as exc:
        raise ImageError("The image is damaged or truncated: it could not be decoded.", key="errors.image.damaged") \
            from exc
    if max(img.size) > MAX_SIDE:
        img.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BOX)
    try:
        img = ImageOps.exif_transpose(img)
    except Exception:  # broken EXIF must not stop a readable image
        pass
    return img


def open_image(data: bytes | Image.Image) -> Image.Image:
    """A PIL image from bytes in any format we read; its first frame, decoded within the budgets, EXIF rotation
    applied, shrunk to at most MAX_SIDE. Every failure is an ImageError with a short plain-text message."""
    if isinstance(data, Image.Image):
        img = data
        if min(img.size) < MIN_SIDE:
            raise _too_small(*img.size)
        if img.size[0] * img.size[1] > MAX_PIXELS:
            raise _too_large(*img.size)
        if max(img.size) > MAX_SIDE:
            img = img.copy()
            img.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BOX)
        return img
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ImageError("Expected the bytes of an image file.", key="errors.image.not_bytes")
    data = bytes(data)
    if not data:
        raise ImageError("The file is empty.", key="errors.image.empty_file")
    if len(data) > MAX_FILE_BYTES:
        mb, limit = f"{len(data) / 1e6:.1f}", f"{MAX_FILE_BYTES / 1e6:.0f}"
        raise ImageError(f"The file is {mb} MB; the limit is {limit} MB.", key="errors.image.file_too_large", mb=mb,
                         limit=limit)
    img = _open_lazily(data)
    try:
        return _first_frame(img)
    except ImageError:
        img.close()
        raise


_HIGH_DEPTH = ("F", "I", "I;16", "I;16L", "I;16B", "I;16N")


def _unit_range(a: np.ndarray) -> np.ndarray:
    """High-depth pixels (float, 16- or 32-bit) -> [0, 1]: kept when already in [0, 1] (a float TIFF is read as it
    is, not clipped to 0/1 by an 8-bit conversion), else scaled by the smallest bit depth that holds the values
    (8, 12, 16, ... bits: 12-bit scans in 16-bit files keep their contrast); negative values by their own range."""
    a = np.where(np.isfinite(a), a, 0.0)
    lo, hi = float(a.min()), float(a.max())
    if lo < 0.0:
        return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    if hi <= 1.0:
        return a
    bits = max(8, int(np.ceil(np.log2(hi + 1.0))))
    return a / (2.0 ** bits - 1.0)


def _luminance(img: Image.Image) -> np.ndarray:
    if img.mode in _HIGH_DEPTH:
        return _unit_range(np.asarray(img, dtype=np.float64)).astype(np.float32)
    try:
        gray = img.convert("L")
    except ValueError:  # LAB, La and other modes Pillow cannot turn into L directly: the first channel
        try:
            gray = img.getchannel(0)
            if gray.mode != "L":
                return _luminance(gray)
        except Exception as exc:
            mode = img.mode
            raise ImageError(f"Images in colour mode {mode} are not supported.", key="errors.image.mode",
                             mode=mode) from exc
    return np.asarray(gray, dtype=np.float32) / 255.0


def to_gray(img: Image.Image) -> np.ndarray:
    """Luminance in [0, 1]; transparent pixels become paper (whichever shade the opaque ink is not)."""
    has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (img.mode == "P" and "transparency" in img.info)
    if not has_alpha:
        return _luminance(img)
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
        raise ImageError("No digit found: the image looks blank (no ink stands out from the background).",
                         key="errors.image.blank")
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
        raise ImageError("No digit found: there is too little ink in the image.", key="errors.image.little_ink")
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
        raise ImageError("No digit found after scaling the image.", key="errors.image.vanished")
    return (out / peak).astype(np.float32)


def preprocess(data: bytes | Image.Image | np.ndarray) -> np.ndarray:
    """Any image (file bytes, PIL image, or a 2-D/3-D array) -> MNIST-style float32 [28, 28], ink = 1.

    Only ImageError leaves this function (a short plain-text message saying why), whatever the input.
    """
    try:
        if isinstance(data, np.ndarray):
            img = _from_array(data)
        else:
            img = data
        img = open_image(img)
        return mnistify(ink_map(to_gray(img)))
    except ImageError:
        raise
    except MemoryError as exc:
        raise ImageError("The image is too large to process here.", key="errors.image.no_memory_process") from exc
    except Exception as exc:  # a mode or a file Pillow half-reads: never a traceback on the page
        raise ImageError("The image could not be processed (an unusual or damaged file).",
                         key="errors.image.unprocessable") from exc


def _from_array(data: np.ndarray) -> Image.Image:
    arr = np.asarray(data)
    if arr.ndim not in (2, 3) or arr.size == 0:
        shape = str(arr.shape)
        raise ImageError(f"Expected a 2-D image array, got shape {shape}.", key="errors.image.array_shape",
                         shape=shape)
    if arr.ndim == 3 and arr.shape[2] not in (1, 3, 4):
        n = arr.shape[2]
        raise ImageError(f"Expected 1, 3 or 4 colour channels, got {n}.", key="errors.image.channels", n=n)
    if arr.shape[0] * arr.shape[1] > MAX_PIXELS:
        raise _too_large(arr.shape[1], arr.shape[0])
    if arr.dtype.kind not in "biuf":
        kind = repr(arr.dtype.kind)
        raise ImageError(f"Expected an array of numbers, got {kind} values.", key="errors.image.array_kind", kind=kind)
    if arr.dtype != np.uint8:
        a = np.nan_to_num(arr.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        arr = np.clip(a * (255.0 if a.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    return Image.fromarray(arr[..., 0] if arr.ndim == 3 and arr.shape[2] == 1 else arr)


def as_batch(images: np.ndarray) -> np.ndarray:
    """[28,28] / [N,28,28] (float in [0,1] or uint8) -> float32 [N, 1, 28, 28], the layout of every ONNX graph."""
    x = np.asarray(images)
    x = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
    if x.ndim == 2:
        x = x[None]
    if x.ndim == 3:
        x = x[:, None]
    if x.shape[-2:] != (SIZE, SIZE) or x.ndim != 4:
        shape = str(tuple(np.asarray(images).shape))
        raise ImageError(f"Expected 28x28 images, got shape {shape}.", key="errors.image.batch_shape", shape=shape)
    return x
