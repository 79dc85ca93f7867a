"""The limits on what a visitor controls, and pure checks the UI uses on URL values (stdlib only).

Every visitor is a stranger: URL values, text boxes and uploads are hostile. The numbers here bound the work one
request can cause; docs/hardening.md explains each. Messages built from visitor text quote at most a short
excerpt of safe characters (``safe_excerpt``), so an error box can never carry a link, an image or HTML.
"""

from __future__ import annotations

import math
import re

MAX_COUNT_CHARS = 64  # the size calculator's parameter-count box and ?params= value
MAX_URL_NUMBER_CHARS = 32  # any number read from the URL (a float needs ~25)
MAX_TEXT_CHARS = 256  # a free-text box or URL text (the date models read 32 characters)
MAX_DATA_URL_CHARS = 4 << 20  # the drawing pad's PNG data URL (a 280x280 drawing is ~20 kB)

_SAFE = re.compile(r"[0-9A-Za-z .,+\-]")


def safe_excerpt(text: str, limit: int = 24) -> str | None:
    """``'text'`` quoted when it is short and made of letters, digits, space and ``. , + -`` only, else None.

    Such an excerpt cannot form Markdown links or images, HTML or code, whatever the UI does with it.
    """
    if not isinstance(text, str) or len(text) > limit or not all(_SAFE.fullmatch(c) for c in text):
        return None
    return f"'{text}'"


def finite_in_range(value, lo: float, hi: float) -> bool:
    """Whether ``value`` is a real number (not bool, not NaN, not ±inf) with lo <= value <= hi."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value) and lo <= value <= hi
    except OverflowError:  # an int too large for a float comparison
        return False


def parse_number(raw, lo: float, hi: float, integer: bool = False):
    """A number from URL text, or None: at most MAX_URL_NUMBER_CHARS characters, finite, within [lo, hi].

    ``integer=True`` accepts whole numbers only ("3", not "3.5" or "3e2"). Never raises.
    """
    if not isinstance(raw, str) or not 0 < len(raw) <= MAX_URL_NUMBER_CHARS:
        return None
    text = raw.strip()
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        return None
    return value if finite_in_range(value, lo, hi) else None
