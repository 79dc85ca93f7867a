"""What every dashboard page shares: the language and its strings, cached ONNX sessions, URL-bound widgets,
timing, errors and downloads. Pages stay thin: they call these helpers, the runtime functions in ``core.runtime``
and the figure builders in ``core.figures``. No torch anywhere on this path.

The router (``ui/app.py``, run by ``streamlit_app.py``) draws the sidebar, picks the page and runs it inside a
guard; a page only calls ``ui.header(...)`` and draws its body.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import logging
import math
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import streamlit as st

from core import EXPORTED, i18n
from core.errors import UserError
from core.manifest import MANIFEST
from core.runtime.session import LoadedModel, available_providers, load_model

LOG = logging.getLogger("bml.ui")
PROVIDERS = {"auto": "Auto", "cuda": "CUDA", "cpu": "CPU"}
SESSION_THREADS = 1
_USED = "_ui_used"  # session-state key: {model: (providers, note)} loaded on this run
_STATUS = "_ui_status"  # session-state key: the sidebar slot that lists this page's sessions
_PAGE = "_ui_page"  # session-state key: the url path of the page now running
PLOT_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}}
BIND = "query-params"


# ------------------------------------------------------------------------------------------ language and strings
def lang() -> str:
    """The language the visitor chose in the sidebar (``?lang=``), else the one their browser asks for."""
    return i18n.check_lang(st.session_state.get("lang") or browser_lang())


def browser_lang() -> str:
    try:
        return i18n.lang_from_locale(st.context.locale)
    except Exception:  # no browser context (a bare script, an old server): English
        return i18n.DEFAULT


def t(key: str, **fields) -> str:
    """``key`` in the visitor's language (trusted catalogue text; escape visitor values with ``esc``)."""
    return i18n.t(key, lang(), **fields)


def esc(text: object, limit: int = 200) -> str:
    """Visitor text made inert for Markdown (see ``core.i18n.esc_md``)."""
    return i18n.esc_md(text, limit)


def page_id() -> str:
    return st.session_state.get(_PAGE, "home")


def start_run(page: str) -> None:
    """Called by the router before a page runs: which page this is, and no sessions used yet."""
    st.session_state[_PAGE] = page
    st.session_state[_USED] = {}


def status_slot() -> None:
    """Called by the router in the sidebar: the place where ``model()`` lists what this page's sessions run on."""
    st.session_state[_STATUS] = st.empty()


def header(page: str) -> None:
    """The page's title and one-line introduction from the catalogue (``<page>.title``, ``<page>.intro``)."""
    st.title(t(f"{page}.title"))
    if i18n.has(f"{page}.intro"):
        st.caption(t(f"{page}.intro"))


# --------------------------------------------------------------------------------------------- execution provider
def provider() -> str:
    """The sidebar's execution provider ("auto" | "cuda" | "cpu")."""
    value = st.session_state.get("provider", "auto")
    return value if value in PROVIDERS else "auto"


def short(p: str) -> str:
    """CUDAExecutionProvider -> CUDA."""
    return p.replace("ExecutionProvider", "")


def learner_providers() -> list[str]:
    """The providers worth naming to a learner: CUDA and CPU (onnxruntime also lists e.g. Azure, which runs
    nothing on this machine)."""
    return [p for p in available_providers() if p in ("CUDAExecutionProvider", "CPUExecutionProvider")]


def stop() -> None:
    """``st.stop()`` for a page: the sidebar still lists the sessions it used (the router's ``finally`` cannot draw
    once Streamlit stops the run)."""
    show_used()
    st.stop()


def show_used() -> None:
    """Called by the router after the page ran: list, in the sidebar slot, where this page's sessions run."""
    slot = st.session_state.get(_STATUS)
    used = st.session_state.get(_USED, {})
    if slot is None or not used:
        return
    groups: dict[str, list[str]] = {}
    for name, (provs, _) in sorted(used.items()):
        groups.setdefault(" → ".join(short(p) for p in provs), []).append(name.replace(".onnx", ""))
    notes = sorted({note for _, note in used.values() if note})
    if provider() == "cuda" and "CUDAExecutionProvider" not in available_providers():
        notes = []  # the sidebar already says so, once
    with slot.container():
        st.markdown(f"**{t('app.sessions_run_on')}**")
        for provs, names in groups.items():
            st.markdown(f":material/memory: **{provs}** — {t('app.n_sessions', n=len(names))}",
                        help=t("app.sessions_help", names=", ".join(names)))
        for _ in notes:
            st.warning(t("app.cuda_fell_back"))


# ------------------------------------------------------------------------------------------------ cached models
def stamp(name: str, root: Path | None = None) -> tuple:
    """Changes whenever the file or the manifest changes, so a rebuilt model is re-verified and reloaded."""
    root = EXPORTED if root is None else root
    out = []
    for p in (root / name, root / MANIFEST):
        try:
            s = p.stat()
            out.append((s.st_mtime_ns, s.st_size, s.st_ino))
        except OSError:
            out.append(None)
    return tuple(out)


@st.cache_resource(show_spinner=False, max_entries=64)
def _cached_model(name: str, provider: str, stamp: tuple) -> LoadedModel:
    """One session per model file version and provider, its sha256 and graph checked first.

    One intra-op thread: these models take a millisecond or two, and onnxruntime's spinning thread pool costs
    more than it gives on a small shared host (measured here under load: classifier on 16 digits 18 ms -> 9 ms).
    """
    return load_model(name, provider, threads=SESSION_THREADS)


def model(name: str, quiet: bool = False) -> LoadedModel | None:
    """The verified ONNX session of ``exported/<name>`` on the sidebar's provider, or None after showing why not."""
    prov = provider()
    try:
        m = _cached_model(name, prov, stamp(name))
    except UserError as exc:
        if not quiet:
            show_error(exc)
        return None
    st.session_state.setdefault(_USED, {})[name] = (list(m.providers), m.note)
    return m


def note_used(m: LoadedModel) -> None:
    """Name a session the page built by other means (the pretrained model's own loader) in the sidebar's list of
    what this page's sessions run on, as ``model()`` does for the sessions it loads."""
    st.session_state.setdefault(_USED, {})[m.name] = (list(m.providers), m.note)


def models(*names: str) -> list[LoadedModel] | None:
    """Several sessions at once; None (after an error message for each missing one) unless all load."""
    got = [model(n) for n in names]
    return None if any(m is None for m in got) else got


def cached(name: str, loader: Callable[[], Any]) -> Any:
    """A data artifact (npz/json under exported/) through its loader, cached per file version; None on UserError."""
    try:
        return _cached_data(name, stamp(name), loader)
    except UserError as exc:
        show_error(exc)
        return None


@st.cache_resource(show_spinner=False, max_entries=64)
def _cached_data(name: str, stamp: tuple, _loader: Callable[[], Any]) -> Any:
    return _loader()


def content_view(fn: Callable[..., Any], *args) -> Any:
    """``fn(*args)`` of core.content (e.g. ``content.concepts, "zh"``), shared read-only: the accessors deep-copy
    the whole content file on every call, which was a third of a Home run."""
    return _content_view(f"{fn.__module__}.{fn.__qualname__}", fn, *args)


@st.cache_resource(show_spinner=False, max_entries=64)
def _content_view(name: str, _fn: Callable[..., Any], *args) -> Any:
    return _fn(*args)


# ------------------------------------------------------------------------------------------------------- errors
def show_error(exc: BaseException) -> None:
    """A UserError as one plain message: translated where the error carries a catalogue key, else its text with
    every Markdown character made inert (messages can quote visitor input)."""
    key = getattr(exc, "key", None)
    if key and i18n.has(key):
        fields = {k: esc(v) for k, v in (getattr(exc, "fields", None) or {}).items()}
        try:
            st.error(t(key, **fields))
            return
        except (KeyError, IndexError, ValueError):
            pass
    st.error(esc(str(exc), limit=600))


@contextlib.contextmanager
def guard() -> Iterator[None]:
    """Show a UserError as a clear message (no traceback); the rest of the page keeps going."""
    try:
        yield
    except UserError as exc:
        show_error(exc)


@contextlib.contextmanager
def contained(what: str) -> Iterator[None]:
    """Whatever fails inside stays a message: a UserError as ``show_error`` shows it, anything else as one short
    line on screen and its traceback in the server log (st.rerun/st.stop are BaseExceptions and pass through)."""
    try:
        yield
    except UserError as exc:
        show_error(exc)
    except Exception:  # never a traceback on screen
        LOG.exception("%s failed", what)
        st.error(t("app.unexpected"), icon=":material/error:")


def fragment(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A page section that reruns alone when one of its own widgets changes (``st.fragment``): a click costs the
    server that section, not the whole page. Errors are contained as the router contains a page's, because a
    section's own rerun does not pass through the router."""

    @functools.wraps(fn)
    def section(*args, **kwargs):
        with contained(f"section {fn.__qualname__} of page {page_id()}"):
            return fn(*args, **kwargs)

    return st.fragment(section)


# ------------------------------------------------------------------------------------------ widgets bound to the URL
def clean_url_int(key: str, lo: int, hi: int) -> None:
    """Drop ``?key=`` from the URL when it is not a whole number in [lo, hi], then rerun once.

    Streamlit's own binding ignores most invalid values, but an integer number_input fed ``?key=1e400`` (or
    ``inf``) raises OverflowError while seeding, before any of our code can look at the value.
    """
    raw = st.query_params.get(key)
    if raw is None or url_int_ok(raw, lo, hi):
        return
    try:
        del st.query_params[key]
    except Exception:  # already bound to a widget: its value comes from the widget, not this text
        return
    st.rerun()


def url_int_ok(raw: str, lo: int, hi: int) -> bool:
    if not isinstance(raw, str) or len(raw) > 24:
        return False
    try:
        v = float(raw)
    except ValueError:
        return False
    return math.isfinite(v) and lo <= v <= hi


def int_input(label: str, lo: int, hi: int, default: int, key: str, **kwargs) -> int:
    """An integer number_input whose value lives in the URL as ``?key=`` (shared links, Back and Forward)."""
    clean_url_int(key, lo, hi)
    held = st.session_state.get(key)
    if held is not None and (isinstance(held, bool) or not isinstance(held, (int, float))):
        del st.session_state[key]  # another widget's value under this key: start from the default, not a crash
    return int(st.number_input(label, lo, hi, default, step=1, key=key, bind=BIND, **kwargs))


def url_choice(widget: Callable[..., Any], label: str, options: Sequence[str], key: str, default: str,
               format_func: Callable[[str], str], **kwargs) -> str:
    """A radio/selectbox whose option *ids* live in the URL as ``?key=id`` while the options show translated labels.

    Streamlit's ``bind="query-params"`` writes the displayed label into the URL, so a link made in one language
    would not open in another. Here the URL holds the id: it is read on a page's first run, and on any run where
    it differs from the widget while the visitor did not just change the widget (Back/Forward, an edited link;
    no parameter means the default); an id that is not an option is dropped. The widget's value is written back
    (the default leaves no parameter).
    """
    changed = f"_ui_changed.{key}"
    raw = st.query_params.get(key)
    if raw is not None and raw not in options:
        del st.query_params[key]
        raw = None
    if not st.session_state.pop(changed, False):  # the URL decides: a link, Back/Forward, or no parameter
        want = default if raw is None else raw
        if st.session_state.get(key) != want:
            st.session_state[key] = want
    value = widget(label, list(options), format_func=format_func, key=key,
                   on_change=lambda: st.session_state.__setitem__(changed, True), **kwargs)
    if value == default:
        if key in st.query_params:
            del st.query_params[key]
    elif st.query_params.get(key) != value:
        st.query_params[key] = value
    return value


def set_choice(key: str, value: str) -> None:
    """From a callback (a click on a chart, say): make ``value`` the choice of the ``url_choice`` widget ``key`` as if
    the visitor had picked it there, so it is shown and written to the URL on the next run."""
    st.session_state[key] = value
    st.session_state[f"_ui_changed.{key}"] = True


def setter(key: str) -> Callable[[Any], None]:
    """A callback that puts a committed value (not None) into the widget ``key`` (e.g. a live view's on_commit)."""
    def put(value: Any) -> None:
        if value is not None:
            st.session_state[key] = value
    return put


def keep_in_range(key: str, lo: float, hi: float, reset: float) -> None:
    """Before drawing a widget whose range depends on the data (a shorter output, another model), move a stored
    value that no longer fits back to ``reset``."""
    v = st.session_state.get(key)
    if isinstance(v, (int, float)) and not isinstance(v, bool) and not (lo <= v <= hi):
        st.session_state[key] = reset


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
        provs = sorted({short(x.providers[0]) for x in ms_list if x and x.providers})
        where = t("app.timing_on", where=", ".join(provs)) if provs else ""
    note = t("app.timing_cached") if cached else ""
    st.caption(f":material/timer: {label}: **{ms:.1f} ms**{where}{note}")


def fig(builder: Callable[..., Any], *args, **kwargs) -> Any:
    """``builder(*args, **kwargs)`` (a core.figures function), cached on a digest of its arguments.

    Building a Plotly figure validates every value (10-60 ms each); most reruns change one widget, so most of a
    page's figures are the same as last time and come from here instead. The digest is ours (numpy bytes and JSON
    through blake2b): Streamlit's own argument hashing walks lists of dicts item by item and costs as much.
    """
    name = f"{builder.__module__}.{builder.__qualname__}"
    return _cached_fig(name, _digest((args, kwargs)), builder, args, kwargs)


@st.cache_resource(show_spinner=False, max_entries=160)  # bounded: a figure can hold a few hundred kB
def _cached_fig(name: str, digest: str, _builder: Callable[..., Any], _args: tuple, _kwargs: dict) -> Any:
    return _freeze(_builder(*_args, **_kwargs))  # the figure is shared: st.plotly_chart only reads it


def _freeze(figure: Any) -> Any:
    """Give a cached Plotly figure a to_dict() that is computed once.

    st.plotly_chart calls ``to_dict()`` on every run: a deep copy of every trace and a walk that turns arrays into
    base64 (a third of a chart's cost on the busiest pages). A cached figure is shared by every session and never
    changed after it is built, so the same dict serves every run. The class is swapped rather than the figure rebuilt
    because building one re-validates every value.
    """
    import plotly.graph_objects as go

    if type(figure) is go.Figure:
        figure.__class__ = _frozen_figure()
    return figure


@functools.cache
def _frozen_figure() -> type:
    import plotly.graph_objects as go

    def to_dict(self):
        d = self.__dict__.get("_bml_dict")
        if d is None:
            d = go.Figure.to_dict(self)
            for trace in d.get("data", []):  # what plotly.io.to_json pops on every call: gone once, here
                trace.pop("uid", None)
            object.__setattr__(self, "_bml_dict", d)
        return d

    return type("FrozenFigure", (go.Figure,), {"to_dict": to_dict, "__doc__": _freeze.__doc__})


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
    """A Plotly chart whose toolbar saves a PNG (the file named after the chart, in the visitor's language)."""
    config = {**PLOT_CONFIG, "toImageButtonOptions": {**PLOT_CONFIG["toImageButtonOptions"],
                                                       "filename": filename or key}}
    return st.plotly_chart(fig, key=key, config=config, **kwargs)


def table(rows: Sequence[dict], align: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> None:
    """A small table as Markdown (no pandas/pyarrow import: st.dataframe would add ~70 MB to the server).

    Cells are escaped: a table may show file names or card values, which are data, not Markdown. ``headers``
    maps column keys to the (translated) header text.
    """
    if not rows:
        return
    cols = list(rows[0])
    align = align or {}
    headers = headers or {}

    def cell(v: Any) -> str:
        if isinstance(v, bool):
            return ":green[:material/check:]" if v else ":red[:material/close:]"
        if isinstance(v, float):
            v = f"{v:.4g}"
        elif isinstance(v, int):
            v = f"{v:,}"
        return esc("" if v is None else v, limit=300)

    head = "| " + " | ".join(headers.get(c, c) for c in cols) + " |"
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
        w.writerow(([corner] if row_labels is not None else []) + [_csv_safe(c) for c in col_labels])
    for i, row in enumerate(m):
        cells = [f"{v:.6g}" if isinstance(v, (float, np.floating)) else str(v) for v in row]
        w.writerow(([_csv_safe(row_labels[i])] if row_labels is not None else []) + cells)
    return buf.getvalue()


def _csv_safe(label: object) -> str:
    """A header cell a spreadsheet will not run as a formula (visitor text can start with = + - @)."""
    s = str(label)
    risky = s[:1] in ("=", "+", "@", "\t", "\r") or (s[:1] == "-" and len(s) > 1)
    return "'" + s if risky else s


def csv_button(label: str, matrix: np.ndarray, file_name: str, key: str, row_labels: Sequence[str] | None = None,
               col_labels: Sequence[str] | None = None, corner: str = "") -> None:
    # a callable: the CSV text is built when the visitor clicks, not on every rerun
    st.download_button(label, lambda: to_csv(matrix, row_labels, col_labels, corner), file_name=file_name,
                       mime="text/csv", key=key, icon=":material/download:", on_click="ignore")
