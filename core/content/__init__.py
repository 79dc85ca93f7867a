"""Bilingual text for the Home and FAQ pages: the source tutorial's ideas, rewritten and corrected (stdlib only).

The data lives in ``core/content/content.json`` (UTF-8). Every piece of prose is a *bilingual text*: an object
``{"en": str, "zh": str}``, both non-empty. Schema (``format`` 1)::

    source       {file, title: T, note: T}                        what the text is based on
    concepts     [{id, title: T, body: T}]                        neural network, deep learning, large model
    faq          [{id, question: T, answer: T, correction: T|null}]  the source's six questions, answered anew;
                                                                  correction says what the source got wrong
    trends       [{id, title: T, body: T, example: T}]            the source's three trends, made concrete
    challenges   [{id, title: T, body: T, example: T}]            the source's three challenges, made concrete
    corrections  [{id, section, topic: T, source_says: T, correct: T, why: T,
                   latex?: str, fixed_code?: str}]                section is the source's numbering ("3.1",
                                                                  "references [4]"); latex is one display formula;
                                                                  fixed_code is a corrected Keras listing
    references   [{n, status, as_cited: str, corrected: str, note: T}]   the source's seven references;
                                                                  status is "correct" or "corrected"
    project_map  [{id, source_section, page, models: [str], title: T, body: T}]  which part of this project
                                                                  shows which part of the source; page is the
                                                                  Streamlit page file; models are names from
                                                                  core.manifest.TRAINABLE

(T = bilingual text.) ``load_content()`` returns the raw data; the accessors (``faq("zh")`` …) return the same
items with every bilingual text replaced by the string in one language, ready to print.
"""

from __future__ import annotations

import copy
import functools
import json
import unicodedata
from pathlib import Path

from core.errors import UserError

LANGS = ("en", "zh")
CONTENT_PATH = Path(__file__).resolve().parent / "content.json"
SECTIONS = ("concepts", "faq", "trends", "challenges", "corrections", "references", "project_map")
# Fields that are identifiers, formulas or code, not prose a reader would search.
_NOT_SEARCHED = frozenset({"id", "n", "status", "models", "latex", "fixed_code", "source_section", "page"})


class ContentError(UserError):
    """The content file is missing or malformed, or a language or section that does not exist was asked for."""


@functools.lru_cache(maxsize=4)
def _load(path: str) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ContentError(f"The page text file {path} is missing; restore it from git.",
                           key="errors.content.missing", path=path) from exc
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        why = str(exc)[:300]
        raise ContentError(f"The page text file {path} is unreadable ({why}); restore it from git.",
                           key="errors.content.unreadable", path=path, why=why) from exc
    if not isinstance(data, dict) or any(not isinstance(data.get(s), list) for s in SECTIONS):
        sections = ", ".join(SECTIONS)
        raise ContentError(f"The page text file {path} lacks one of the sections {sections}.",
                           key="errors.content.sections", path=path, sections=sections)
    return data


def load_content(path: str | Path = CONTENT_PATH) -> dict:
    """All content, raw (bilingual texts as ``{"en", "zh"}``). Parsed once; each call returns a private copy."""
    return copy.deepcopy(_load(str(path)))


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ContentError(f"Unknown language {lang!r}; choose one of {', '.join(LANGS)}.")
    return lang


def is_bilingual(value) -> bool:
    """True for a bilingual text: a dict whose keys are exactly the languages."""
    return isinstance(value, dict) and set(value) == set(LANGS)


def tr(value, lang: str):
    """``value`` in one language: a bilingual text becomes its string; lists and dicts are converted throughout."""
    check_lang(lang)
    if is_bilingual(value):
        return value[lang]
    if isinstance(value, dict):
        return {k: tr(v, lang) for k, v in value.items()}
    if isinstance(value, list):
        return [tr(v, lang) for v in value]
    return value


def section(name: str, lang: str | None = None) -> list:
    """One section's items, raw when ``lang`` is None, else in that language."""
    if name not in SECTIONS:
        raise ContentError(f"Unknown content section {name!r}; choose one of {', '.join(SECTIONS)}.")
    items = load_content()[name]
    return items if lang is None else tr(items, lang)


def concepts(lang: str = "en") -> list:
    return section("concepts", lang)


def faq(lang: str = "en") -> list:
    return section("faq", lang)


def trends(lang: str = "en") -> list:
    return section("trends", lang)


def challenges(lang: str = "en") -> list:
    return section("challenges", lang)


def corrections(lang: str = "en") -> list:
    return section("corrections", lang)


def references(lang: str = "en") -> list:
    return section("references", lang)


def project_map(lang: str = "en") -> list:
    return section("project_map", lang)


def source(lang: str = "en") -> dict:
    return tr(load_content()["source"], lang)


def find(items: list, item_id: str) -> dict:
    """The item with this id, else ContentError."""
    for item in items:
        if item.get("id") == item_id:
            return item
    raise ContentError(f"No item with id {item_id!r}.")


def _normalise(text: str) -> str:
    # NFKC folds full-width letters and digits (ＧＰＴ → GPT), common in Chinese input; casefold beats lower().
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _texts(value, lang: str, both: bool, key: str | None = None) -> list[str]:
    if key in _NOT_SEARCHED:
        return []
    if is_bilingual(value):
        return [value[lang]] + ([value[o] for o in LANGS if o != lang] if both else [])
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _texts(v, lang, both, k)]
    if isinstance(value, list):
        return [s for v in value for s in _texts(v, lang, both)]
    return []


def search(items: list, query: str, lang: str = "en", both: bool = True) -> list:
    """Items whose prose contains every whitespace-separated term of ``query``, in their original order.

    Case-insensitive substring matching (so Chinese, which has no spaces between words, works: "过拟合" finds
    answers that mention it). Works on raw items (searches ``lang`` and, when ``both``, the other language too)
    and on items already converted by ``tr`` (their strings are searched whatever ``lang`` is). Identifiers,
    formulas and code are not searched. An empty or blank query returns all items.
    """
    check_lang(lang)
    terms = _normalise(query or "").split()
    if not terms:
        return list(items)
    hits = []
    for item in items:
        haystack = _normalise("\n".join(_texts(item, lang, both)))
        if all(term in haystack for term in terms):
            hits.append(item)
    return hits


def validate(data: dict) -> list[str]:
    """Every schema problem in ``data`` as a sentence; an empty list means the content is complete."""
    problems: list[str] = []

    def text(where: str, value, optional: bool = False) -> None:
        if value is None and optional:
            return
        if not is_bilingual(value):
            problems.append(f"{where}: expected {{'en', 'zh'}} text, got {type(value).__name__}")
            return
        for lang in LANGS:
            if not isinstance(value[lang], str) or not value[lang].strip():
                problems.append(f"{where}.{lang}: empty")

    required = {
        "concepts": ("title", "body"),
        "faq": ("question", "answer"),
        "trends": ("title", "body", "example"),
        "challenges": ("title", "body", "example"),
        "corrections": ("topic", "source_says", "correct", "why"),
        "references": ("note",),
        "project_map": ("title", "body"),
    }
    for name, fields in required.items():
        items = data.get(name)
        if not isinstance(items, list) or not items:
            problems.append(f"{name}: missing or empty")
            continue
        key = "n" if name == "references" else "id"
        ids = [item.get(key) for item in items]
        if len(set(ids)) != len(ids) or None in ids:
            problems.append(f"{name}: missing or duplicate {key}s {ids}")
        for item in items:
            where = f"{name}[{item.get(key)}]"
            for field in fields:
                text(f"{where}.{field}", item.get(field))
            if name == "faq":
                text(f"{where}.correction", item.get("correction", "absent"), optional=True)
            if name == "references":
                for field in ("as_cited", "corrected"):
                    if not isinstance(item.get(field), str) or not item[field].strip():
                        problems.append(f"{where}.{field}: empty")
                if item.get("status") not in ("correct", "corrected"):
                    problems.append(f"{where}.status: {item.get('status')!r}")
    source_ = data.get("source") or {}
    text("source.title", source_.get("title"))
    text("source.note", source_.get("note"))
    return problems
