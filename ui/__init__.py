"""What every dashboard page shares: page setup, the sidebar, cached ONNX sessions, view state in the URL, timing,
errors and downloads. Pages stay thin: they call these helpers, the runtime functions in ``core.runtime`` and the
figure builders in ``core.figures``. No torch anywhere on this path.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import onnxruntime as ort
import streamlit as st

from core import EXPORTED
from core.errors import UserError
from core.manifest import MANIFEST
from core.runtime.session import LoadedModel, available_providers, load_model

PROVIDERS = {"Auto": "auto", "CUDA": "cuda", "CPU": "cpu"}
SESSION_THREADS = 1
_PAGE = "_ui_page"  # session-state key: the id of the page now running
_USED = "_ui_used"  # session-state key: {model: (providers, note)} loaded on this run
_KEEP = "_ui_keep."  # prefix: last value of each view parameter, kept across page switches
# The pages folder names the entry page after its file ("streamlit app"); show "Home" without st.navigation.
_CSS = """<style>
[data-testid="stSidebarNav"] span[label="streamlit app"] p { font-size: 0 !important; }
[data-testid="stSidebarNav"] span[label="streamlit app"] p::after { content: "Home"; font-size: 0.875rem; }
</style>"""
PLOT_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}}


# ---------------------------------------------------------------------------------------------------- page setup
def setup(page: str, title: str, icon: str, intro: str | None = None) -> str:
    """Configure the page, draw the sidebar; returns the execution provider ("auto" | "cuda" | "cpu")."""
    st.set_page_config(page_title=f"{title} · Big-Model Lab", page_icon=icon, layout="wide")
    st.session_state[_PAGE] = page
    st.session_state[_USED] = {}
    st.markdown(_CSS, unsafe_allow_html=True)
    st.title(f"{icon} {title}")
    if intro:
        st.caption(intro)
    return _sidebar()


def _sidebar() -> str:
    with st.sidebar:
        st.markdown("**Execution provider**")
        key = param("provider", "Auto", str, choices=list(PROVIDERS), scope="global")
        choice = st.radio("Execution provider", list(PROVIDERS), key=key, horizontal=True,
                          label_visibility="collapsed",
                          help="Where onnxruntime runs the models. Auto takes CUDA when this onnxruntime has it.")
        provider = PROVIDERS[choice]
        if provider == "cuda" and "CUDAExecutionProvider" not in available_providers():
            st.warning("CUDA was asked for, but this onnxruntime has no CUDA provider: every model runs on **CPU**.")
        st.session_state["_ui_status"] = st.empty()
        st.caption(f"onnxruntime {ort.__version__} · available: {', '.join(_short(p) for p in available_providers())}")
    return provider


def provider() -> str:
    return PROVIDERS.get(st.session_state.get(_key("provider", "global"), "Auto"), "auto")


def _short(p: str) -> str:
    return p.replace("ExecutionProvider", "")


def _show_used() -> None:
    slot = st.session_state.get("_ui_status")
    used = st.session_state.get(_USED, {})
    if slot is None or not used:
        return
    groups: dict[str, list[str]] = {}
    for name, (provs, _) in sorted(used.items()):
        groups.setdefault(" → ".join(_short(p) for p in provs), []).append(name.replace(".onnx", ""))
    notes = sorted({note for _, note in used.values() if note})
    if provider() == "cuda" and "CUDAExecutionProvider" not in available_providers():
        notes = []  # the sidebar already says so, once
    with slot.container():
        st.markdown("**This page's sessions run on**")
        for provs, names in groups.items():
            st.markdown(f":material/memory: **{provs}** — {len(names)} session{'s' if len(names) != 1 else ''}",
                        help="session.get_providers() of: " + ", ".join(names))
        for note in notes:
            st.warning(note)


# ------------------------------------------------------------------------------------------------ cached models
def _stamp(name: str, root: Path = EXPORTED) -> tuple:
    """Changes whenever the file or the manifest changes, so a rebuilt model is re-verified and reloaded."""
    out = []
    for p in (root / name, root / MANIFEST):
        try:
            s = p.stat()
            out.append((s.st_mtime_ns, s.st_size))
        except OSError:
            out.append(None)
    return tuple(out)


@st.cache_resource(show_spinner=False, max_entries=64)
def _cached_model(name: str, provider: str, stamp: tuple) -> LoadedModel:
    """One session per model file version and provider, its sha256 checked against the manifest first.

    One intra-op thread: these models take a millisecond or two, and onnxruntime's spinning thread pool costs
    more than it gives on a small shared host (measured here under load: classifier on 16 digits 18 ms -> 9 ms).
    """
    return load_model(name, provider, threads=SESSION_THREADS)


def model(name: str, quiet: bool = False) -> LoadedModel | None:
    """The verified ONNX session of ``exported/<name>`` on the sidebar's provider, or None after showing why not."""
    prov = provider()
    try:
        m = _cached_model(name, prov, _stamp(name))
    except UserError as exc:
        if not quiet:
            st.error(str(exc))
        return None
    st.session_state.setdefault(_USED, {})[name] = (list(m.providers), m.note)
    _show_used()
    return m


def models(*names: str) -> list[LoadedModel] | None:
    """Several sessions at once; None (after an error message for each missing one) unless all load."""
    got = [model(n) for n in names]
    return None if any(m is None for m in got) else got


def cached(name: str, loader: Callable[[], Any]) -> Any:
    """A data artifact (npz/json under exported/) through its loader, cached per file version; None on UserError."""
    try:
        return _cached_data(name, _stamp(name), loader)
    except UserError as exc:
        st.error(str(exc))
        return None


@st.cache_resource(show_spinner=False, max_entries=64)
def _cached_data(name: str, stamp: tuple, _loader: Callable[[], Any]) -> Any:
    return _loader()


@contextlib.contextmanager
def guard() -> Iterator[None]:
    """Show a UserError as a clear message (no traceback); the rest of the page keeps going."""
    try:
        yield
    except UserError as exc:
        st.error(str(exc))


# ------------------------------------------------------------------------------------------ view state in the URL
def _key(name: str, scope: str | None = None) -> str:
    return f"{scope or st.session_state.get(_PAGE, 'page')}.{name}"


def param(name: str, default: Any, cast: Callable[[str], Any] = str, choices: Sequence | None = None,
          lo: float | None = None, hi: float | None = None, scope: str | None = None) -> str:
    """The session-state key for a view widget whose value lives in the URL as ``?name=value``.

    On a page's first run in this session the value comes from the URL (a shared link), else from what this session
    last chose on this page, else ``default``; invalid or out-of-range URL values fall back to the default. The
    widget is created with ``key=`` this key (and no value), and the current value is written back to the URL.
    """
    key = _key(name, scope)
    keep = _KEEP + key
    if key not in st.session_state:
        value = st.session_state.get(keep, default)
        raw = st.query_params.get(name)
        if raw is not None:
            try:
                value = cast(raw)
            except (TypeError, ValueError):
                value = default
        if choices is not None and value not in choices:
            value = default
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                value = default
        st.session_state[key] = value
    value = st.session_state[key]
    st.session_state[keep] = value
    if str(st.query_params.get(name)) != str(value):
        st.query_params[name] = str(value)
    return key


def get(name: str, scope: str | None = None) -> Any:
    return st.session_state.get(_key(name, scope))


def put(name: str, value: Any, scope: str | None = None, in_callback: bool = False) -> None:
    """Set a view value from code: in a widget callback (``in_callback=True``) or before its widget is drawn.

    A query-param change made inside a callback does not reach the browser's address bar, so there the URL is
    left to ``param()`` on the rerun that follows (it writes whatever differs).
    """
    key = _key(name, scope)
    st.session_state[key] = value
    st.session_state[_KEEP + key] = value
    if not in_callback:
        st.query_params[name] = str(value)


# ------------------------------------------------------------------------------------- timing, charts, downloads
class Timer:
    """``with ui.Timer() as t: ...`` then ``t.ms``."""

    def __enter__(self) -> "Timer":
        self.t0 = time.perf_counter()
        self.ms = 0.0
        return self

    def __exit__(self, *exc) -> None:
        self.ms = (time.perf_counter() - self.t0) * 1000.0


def timing(label: str, ms: float, m: LoadedModel | Sequence[LoadedModel] | None = None, cached: bool = False
           ) -> None:
    """The inference time of the last run, beside its demo (``cached``: that run was for an earlier rerun)."""
    where = ""
    if m is not None:
        ms_list = m if isinstance(m, (list, tuple)) else [m]
        provs = sorted({_short(x.providers[0]) for x in ms_list if x and x.providers})
        where = f" on {', '.join(provs)}" if provs else ""
    note = " (when first computed; this view is cached)" if cached else ""
    st.caption(f":material/timer: {label}: **{ms:.1f} ms**{where}{note}")


def fig(builder: Callable[..., Any], *args, **kwargs) -> Any:
    """``builder(*args, **kwargs)`` (a core.figures function), cached on a digest of its arguments.

    Building a Plotly figure validates every value (10-60 ms each); most reruns change one widget, so most of a
    page's figures are the same as last time and come from here instead. The digest is ours (numpy bytes and JSON
    through blake2b): Streamlit's own argument hashing walks lists of dicts item by item and costs as much.
    """
    name = f"{builder.__module__}.{builder.__qualname__}"
    return _cached_fig(name, _digest((args, kwargs)), builder, args, kwargs)


@st.cache_resource(show_spinner=False, max_entries=256)
def _cached_fig(name: str, digest: str, _builder: Callable[..., Any], _args: tuple, _kwargs: dict) -> Any:
    return _builder(*_args, **_kwargs)  # the figure is shared: st.plotly_chart only reads it


def _digest(obj: Any) -> str:
    h = hashlib.blake2b(digest_size=16)
    _feed(h, obj)
    return h.hexdigest()


def _feed(h, obj: Any) -> None:
    if isinstance(obj, np.ndarray):
        h.update(f"nd{obj.dtype}{obj.shape}".encode())
        h.update(np.ascontiguousarray(obj).tobytes())
    elif isinstance(obj, (list, tuple)):
        try:  # plain data (numbers, strings, dicts of them): one C call
            h.update(b"j" + json.dumps(obj, sort_keys=True).encode())
        except (TypeError, ValueError):
            h.update(b"[")
            for item in obj:
                _feed(h, item)
            h.update(b"]")
    elif isinstance(obj, dict):
        h.update(b"{")
        for k in sorted(obj, key=str):
            _feed(h, str(k))
            _feed(h, obj[k])
        h.update(b"}")
    elif callable(obj):
        h.update(f"fn{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', repr(obj))}".encode())
    else:
        h.update(f"{type(obj).__name__}:{obj!r}".encode())


def chart(fig, key: str, filename: str | None = None, **kwargs) -> Any:
    """A Plotly chart whose toolbar saves a PNG (the file named after the chart)."""
    config = {**PLOT_CONFIG, "toImageButtonOptions": {**PLOT_CONFIG["toImageButtonOptions"],
                                                       "filename": filename or key}}
    return st.plotly_chart(fig, key=key, config=config, **kwargs)


def table(rows: Sequence[dict], align: dict[str, str] | None = None) -> None:
    """A small table as Markdown: no pandas/pyarrow import (st.dataframe would add ~70 MB to the server)."""
    if not rows:
        return
    cols = list(rows[0])
    align = align or {}

    def cell(v: Any) -> str:
        if isinstance(v, bool):
            return ":green[:material/check:]" if v else ":red[:material/close:]"
        if isinstance(v, float):
            v = f"{v:.4g}"
        elif isinstance(v, int):
            v = f"{v:,}"
        return str("" if v is None else v).replace("|", "\\|").replace("\n", " ")

    head = "| " + " | ".join(cols) + " |"
    rule = "|" + "|".join({"r": "---:", "c": ":---:"}.get(align.get(c, ""), "---") for c in cols) + "|"
    body = ["| " + " | ".join(cell(r.get(c)) for c in cols) + " |" for r in rows]
    st.markdown("\n".join([head, rule, *body]))


def to_csv(matrix: np.ndarray, row_labels: Sequence[str] | None = None, col_labels: Sequence[str] | None = None,
           corner: str = "") -> str:
    """A 2-D array as CSV text with optional row and column headers (labels quoted as needed)."""
    import csv

    m = np.atleast_2d(np.asarray(matrix))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if col_labels is not None:
        w.writerow(([corner] if row_labels is not None else []) + [str(c) for c in col_labels])
    for i, row in enumerate(m):
        cells = [f"{v:.6g}" if isinstance(v, (float, np.floating)) else str(v) for v in row]
        w.writerow(([str(row_labels[i])] if row_labels is not None else []) + cells)
    return buf.getvalue()


def csv_button(label: str, matrix: np.ndarray, file_name: str, key: str, row_labels: Sequence[str] | None = None,
               col_labels: Sequence[str] | None = None, corner: str = "") -> None:
    st.download_button(label, to_csv(matrix, row_labels, col_labels, corner), file_name=file_name, mime="text/csv",
                       key=key, icon=":material/download:")
