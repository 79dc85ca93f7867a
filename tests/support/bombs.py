"""Decompression bombs and odd images, built in memory (a few ms each, never the decoded size)."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_bomb(width: int = 20_000, height: int = 20_000, bit_depth: int = 8) -> bytes:
    """A valid grayscale PNG of zeros that decodes to width x height (400 MB for 20,000² at 8 bits).

    Built in ~0.2 s: after a full flush, deflate forgets its window, so the same block of rows compresses to the
    same bytes every time and is compressed once, then repeated.
    """
    row = b"\0" * (1 + (width * bit_depth + 7) // 8)  # filter byte + the row
    per_block = max(1, (1 << 22) // len(row))
    blocks, rest = divmod(height, per_block)
    block = row * per_block
    z = zlib.compressobj(9)
    head = z.compress(block) + z.flush(zlib.Z_FULL_FLUSH)
    again = z.compress(block) + z.flush(zlib.Z_FULL_FLUSH)
    tail = z.compress(row * rest) + z.flush() if rest else z.flush()
    if blocks < 2:
        stream = zlib.compress(row * height, 9)
    else:
        # every byte is zero: adler32 keeps a = 1 and adds 1 to b per byte
        adler = (1 + ((height * len(row)) % 65521 << 16)) & 0xFFFFFFFF
        stream = head + again * (blocks - 1) + tail[:-4] + struct.pack(">I", adler)
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", stream)
            + _png_chunk(b"IEND", b""))


def _riff(kind: bytes, body: bytes) -> bytes:
    pad = b"\0" if len(body) % 2 else b""
    return kind + struct.pack("<I", len(body)) + body + pad


def webp_canvas_bomb(width: int = 100, height: int = 983_140) -> bytes:
    """An animated WebP of ~100 bytes whose canvas is width x height (Pillow's decoder allocates it on open)."""
    buf = io.BytesIO()
    Image.new("RGBA", (1, 1), (255, 255, 255, 255)).save(buf, "WEBP", lossless=True)
    src = buf.getvalue()
    i = src.index(b"VP8L")
    size = struct.unpack("<I", src[i + 4:i + 8])[0]
    vp8l = src[i:i + 8 + size + (size % 2)]
    vp8x = bytes([0x02, 0, 0, 0]) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    anim = _riff(b"ANIM", b"\0\0\0\0" + b"\0\0")
    frame = b"\0\0\0" + b"\0\0\0" + (0).to_bytes(3, "little") + (0).to_bytes(3, "little") + (100).to_bytes(3, "little") + b"\0"
    anmf = _riff(b"ANMF", frame + vp8l)
    body = b"WEBP" + _riff(b"VP8X", vp8x) + anim + anmf
    return b"RIFF" + struct.pack("<I", len(body)) + body


def gif_many_frames(frames: int = 3000, side: int = 16) -> bytes:
    imgs = [Image.new("L", (side, side), i % 256) for i in range(frames)]
    buf = io.BytesIO()
    imgs[0].save(buf, "GIF", save_all=True, append_images=imgs[1:], duration=10)
    return buf.getvalue()
