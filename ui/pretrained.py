"""What the Real Transformer page needs from the server: the cached MiniLM (loaded once per provider, its failure
remembered so an offline host is not re-fetched on every rerun), analyses cached under a byte budget, and the
token strip (HTML with every token escaped)."""

from __future__ import annotations

import html
import threading
from collections import OrderedDict
from typing import Any, Callable

import numpy as np
import streamlit as st

import ui
from core import i18n
from core.errors import UserError
from core.pretrained import heads
from core.pretrained.runtime import GRAPH, Analysis, MiniLM, Similarity, TextError, Tokens, load_minilm
from core.pretrained.weights import find_model_dir

ANALYSIS_BUDGET = 48 << 20  # bytes of cached analyses per model: one 256-token sentence holds ~19 MB of attention


# ----------------------------------------------------------------------------------------------------- the model
_ready: set = set()  # (provider, graph stamp, attempt) keys whose model loaded in this process


@st.cache_resource(show_spinner=False)
def _retries() -> dict:
    return {"n": 0}


@st.cache_resource(show_spinner=False, max_entries=2)  # ~120 MB each: at most two providers' sessions
def _load(provider: str, stamp: tuple, attempt: int) -> tuple[MiniLM | None, UserError | None]:
    """The model, or the reason it cannot load; a failure is cached too (until someone asks to try again), so a
    host without network does not start an 83 MB download on every rerun of every visitor."""
    try:
        return load_minilm(provider, threads=ui.SESSION_THREADS), None
    except UserError as exc:
        return None, exc


def minilm() -> MiniLM | None:
    """The model on the sidebar's provider, or None after a clear message (what failed, how to fix it, a retry)."""
    prov = ui.provider()
    key = (prov, ui.stamp(GRAPH), _retries()["n"])
    if key in _ready:  # loaded before in this process: no spinner thread, no look for the files
        m, err = _load(*key)
    else:
        first = find_model_dir() is None
        with st.spinner(ui.t("realtf.fetching" if first else "realtf.loading"), show_time=True):
            m, err = _load(*key)
        if err is None:
            _ready.add(key)
    if err is not None:
        ui.show_error(err)
        st.info(ui.t("realtf.fix_weights"), icon=":material/build:")
        if st.button(ui.t("realtf.retry"), key="retry_load", icon=":material/refresh:"):
            _retries()["n"] = key[2] + 1
            st.rerun()
        return None
    ui.note_used(m.model)
    return m


def stamp(m: MiniLM) -> tuple:
    """Identifies the model a result came from (graph file version and provider) for cache keys."""
    return (ui.stamp(GRAPH), tuple(m.model.providers))


# ------------------------------------------------------------------------------------------- cached results
class _Budget:
    """A thread-safe LRU of computed results whose arrays together stay under ``budget`` bytes."""

    def __init__(self, budget: int):
        self.budget = budget
        self.items: OrderedDict[Any, tuple[Any, int]] = OrderedDict()
        self.used = 0
        self.lock = threading.Lock()

    def get(self, key: Any, make: Callable[[], Any], size: Callable[[Any], int]) -> Any:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key][0]
        value = make()  # outside the lock: another session may compute the same key meanwhile (harmless)
        n = size(value)
        with self.lock:
            if key not in self.items and n <= self.budget:
                self.items[key] = (value, n)
                self.used += n
                while self.used > self.budget:
                    _, (_, old) = self.items.popitem(last=False)
                    self.used -= old
        return value


@st.cache_resource(show_spinner=False, max_entries=4)
def _results(stamp: tuple) -> _Budget:
    return _Budget(ANALYSIS_BUDGET)


def _nbytes(value: Any) -> int:
    if isinstance(value, Analysis):
        return int(value.attentions.nbytes + value.hidden.nbytes + value.embedding.nbytes) + 4096
    if isinstance(value, dict):
        return sum(_nbytes(v) for v in value.values()) + 256
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    return 1024


def analyse(m: MiniLM, text: str) -> Analysis:
    """``m.analyse(text)``, cached per model; a TextError is raised again each time (errors are not cached)."""
    return _results(stamp(m)).get(("analyse", text), lambda: m.analyse(text), _nbytes)


def pattern_scores(m: MiniLM, a: Analysis) -> dict[str, np.ndarray]:
    """The head-pattern scores of this one sentence ({pattern: (layers, heads)}, NaN where it has no eligible
    token), computed the way the committed table was."""
    return _results(stamp(m)).get(
        ("scores", a.tokens.text),
        lambda: heads.score_sentence(a.attentions.astype(np.float64), a.tokens), _nbytes)


def similarity(m: MiniLM, first: str, second: str) -> Similarity:
    return _results(stamp(m)).get(("similarity", first, second), lambda: m.similarity(first, second), _nbytes)


def embed(m: MiniLM, texts: tuple[str, ...]) -> np.ndarray:
    return _results(stamp(m)).get(("embed", texts), lambda: m.embed(list(texts)), _nbytes)


@st.cache_resource(show_spinner=False, max_entries=4)
def _cjk(stamp: tuple, _m: MiniLM) -> int:
    vocab = _m._full.get_vocab()
    return len({k.removeprefix("##") for k in vocab if len(k.removeprefix("##")) == 1
                and "\u4e00" <= k.removeprefix("##") <= "\u9fff"})


def cjk_in_vocab(m: MiniLM) -> int:
    """How many distinct Chinese characters (CJK unified ideographs) the vocabulary holds, counted from it."""
    return _cjk(stamp(m), m)


def text_error(exc: TextError) -> None:
    """A TextError as the page's own translated message."""
    key = f"realtf.err_{exc.code}"
    if exc.code == "empty":
        st.info(ui.t(key), icon=":material/keyboard:")
    else:
        st.error(ui.t(key) if i18n.has(key) else ui.esc(str(exc)))


# ------------------------------------------------------------------------------------------------ the token strip
_STRIP_CSS = """
<style>
.bml-toks{display:flex;flex-wrap:wrap;gap:4px 3px;line-height:1.2;margin:2px 0 6px 0}
.bml-tok{display:inline-flex;flex-direction:column;align-items:center;border-radius:4px;padding:2px 5px;
  background:rgba(128,128,128,.12);font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.86rem}
.bml-tok i{font-style:normal;font-size:.62rem;opacity:.6}
.bml-tok.special{background:rgba(124,58,237,.16);color:#6d28d9}
.bml-tok.piece{background:rgba(234,88,12,.14);color:#c2410c}
.bml-tok.unk{background:rgba(220,38,38,.16);color:#b91c1c}
.bml-tok.unk b{font-weight:400;font-size:.7rem;opacity:.8}
.bml-tok.focus{outline:2px solid #d62728}
</style>
"""


def token_kind(tk: Tokens, i: int) -> str:
    """special ([CLS]/[SEP]) | unk ([UNK]) | piece (a word's second or later piece, ``##…``) | word."""
    if tk.special[i]:
        return "special"
    if tk.unk[i]:
        return "unk"
    if i > 0 and tk.word_ids[i] is not None and tk.word_ids[i] == tk.word_ids[i - 1]:
        return "piece"
    return "word"


def source_chars(tk: Tokens, i: int) -> str:
    """The characters of the visitor's text that token ``i`` stands for ('' for [CLS]/[SEP])."""
    a, b = tk.offsets[i]
    return tk.text[a:b] if b > a else ""


def token_strip(tk: Tokens, focus: int | None = None, limit: int = 300) -> None:
    """Every token as a chip with its position; [CLS]/[SEP], word pieces and [UNK] coloured, each [UNK] with the
    characters it replaced. All text is HTML-escaped: tokens and characters are the visitor's."""
    chips = []
    for i, tok in enumerate(tk.tokens[:limit]):
        kind = token_kind(tk, i)
        cls = kind + (" focus" if focus == i else "")
        body = html.escape(tok)
        if kind == "unk":
            body += f"<b>{html.escape(source_chars(tk, i)[:8])}</b>"
        chips.append(f'<span class="bml-tok {cls}"><i>{i}</i>{body}</span>')
    st.html(_STRIP_CSS + '<div class="bml-toks">' + "".join(chips) + "</div>")
