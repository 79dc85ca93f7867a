"""The string catalogue: every text the dashboard shows, in English and Chinese (stdlib only, no streamlit).

Strings live in ``core/i18n/strings/*.toml``, one file per page or shared area, keyed by dotted names; each
key is a table with an ``en`` and a ``zh`` entry::

    [gan.seed]
    en = "Seed"
    zh = "随机种子"

Fields are ``str.format`` names (``"{n} samples"``), identical in both languages (a test checks it). Strings may
use Streamlit Markdown; values put into fields are the caller's to escape when they come from a visitor
(``esc_md``) — the catalogue itself is trusted text. Technical names (ONNX, MNIST, GAN, file names) stay as
they are in every language.
"""

from __future__ import annotations

import functools
import re
import string
import tomllib
from pathlib import Path
from typing import Mapping

LANGS = ("en", "zh")
DEFAULT = "en"
NAMES = {"en": "English", "zh": "中文"}
STRINGS = Path(__file__).resolve().parent / "strings"


class CatalogueError(Exception):
    """A catalogue file that does not parse, or a key defined twice."""


@functools.lru_cache(maxsize=1)
def catalogue() -> dict[str, dict[str, str]]:
    """{key: {"en": ..., "zh": ...}} from every strings/*.toml file (parsed once per process)."""
    out: dict[str, dict[str, str]] = {}
    for path in sorted(STRINGS.glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise CatalogueError(f"{path.name}: {exc}") from exc
        for key, entry in _flatten(data):
            if key in out:
                raise CatalogueError(f"{path.name}: key {key!r} is defined twice")
            out[key] = entry
    return out


def _flatten(data: Mapping, prefix: str = ""):
    """Yield (dotted key, {lang: text}) for every table that holds language entries."""
    for name, value in data.items():
        key = f"{prefix}{name}"
        if isinstance(value, Mapping):
            if any(lang in value for lang in LANGS):
                yield key, {k: v for k, v in value.items()}
            else:
                yield from _flatten(value, key + ".")


def check_lang(lang: str | None) -> str:
    return lang if lang in LANGS else DEFAULT


def t(key: str, lang: str = DEFAULT, /, **fields) -> str:
    """The text of ``key`` in ``lang`` with ``fields`` filled in; KeyError for a key the catalogue lacks."""
    entry = catalogue()[key]
    text = entry.get(check_lang(lang)) or entry[DEFAULT]
    return text.format(**fields) if fields else text


def has(key: str) -> bool:
    return key in catalogue()


def lang_from_locale(locale: str | None) -> str:
    """The catalogue language for a browser locale ("zh-CN", "zh_TW", "zh-Hans-CN" -> zh; else en)."""
    if not isinstance(locale, str):
        return DEFAULT
    primary = re.split(r"[-_]", locale.strip().lower(), maxsplit=1)[0]
    return primary if primary in LANGS else DEFAULT


def fields_of(text: str) -> set[str]:
    """The ``str.format`` field names a text uses."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def problems() -> list[str]:
    """Every completeness problem of the catalogue as a sentence; empty when each key has every language."""
    out = []
    for key, entry in catalogue().items():
        for lang in LANGS:
            if not isinstance(entry.get(lang), str) or not entry[lang].strip():
                out.append(f"{key}: no {NAMES[lang]} text")
        extra = set(entry) - set(LANGS)
        if extra:
            out.append(f"{key}: unknown languages {sorted(extra)}")
        texts = [entry[lang] for lang in LANGS if isinstance(entry.get(lang), str)]
        try:
            sets = [fields_of(s) for s in texts]
        except ValueError as exc:
            out.append(f"{key}: bad format string ({exc})")
            continue
        if any(s != sets[0] for s in sets):
            out.append(f"{key}: fields differ between languages {sets}")
    return out


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>$:^=])")


def esc_md(text: object, limit: int = 200) -> str:
    """Visitor text made inert inside Streamlit Markdown: every Markdown, directive (``:red[…]``, ``:icon:``)
    and HTML character backslash-escaped, newlines flattened, and cut to ``limit`` characters."""
    s = str(text)
    if len(s) > limit:
        s = s[:limit] + "…"
    s = " ".join(s.split())
    return _MD_SPECIAL.sub(r"\\\1", s)
