"""What the two date pages share: the cached sequence models, the preset dates, the input box and the result row."""

from __future__ import annotations

from datetime import date

import streamlit as st

import ui
from core import EXPORTED
from core.errors import UserError
from core.figures import confidence_bars
from core.runtime.artifacts import load_dates_examples
from core.runtime.dates_check import explain, fmt_p
from core.runtime.decode import Decoded, SeqModel, decode, make_seq_model

MAX_CHARS = 64  # the box's cap; the tokenizer names the model's own limit (32) for anything longer
_DAYS = (date(1969, 7, 20), date(2026, 11, 28), date(1999, 12, 31), date(2004, 2, 29), date(1912, 4, 15))
_PICKS = (  # (format, case): a spread of the formats the models were trained on
    ("d_month_y", "title"), ("month_d_y", "title"), ("weekday_month_d_y", "title"), ("dd.mm.yyyy", "lower"),
    ("mm/dd/yyyy", "lower"), ("yyyy/mm/dd", "lower"), ("dth_of_month_y", "lower"), ("wkd_d_mon_y", "upper"),
    ("d-mon-y", "lower"), ("month_dth_y", "upper"),
)


def presets() -> dict[str, str]:
    """{input text: expected ISO date}: exported/dates_examples.json, else dates rendered by core.data.dates."""
    return _presets(ui.stamp("dates_examples.json"))


@st.cache_resource(show_spinner=False, max_entries=2)
def _presets(stamp: tuple) -> dict[str, str]:
    try:  # verified against the manifest and checked by schema; a missing or invalid file falls back quietly
        return {e["source"]: e["target"] for e in load_dates_examples(EXPORTED)}
    except UserError:
        pass
    from core.data.dates import iso, render

    return {render(d, fmt, case): iso(d) for i, d in enumerate(_DAYS) for fmt, case in _PICKS[i::len(_DAYS)]}


@st.cache_resource(show_spinner=False, max_entries=8)
def _cached_seq(kind: str, provider: str, stamp: tuple, _enc, _step) -> SeqModel:
    # what load_seq_model does, over the UI's cached (verified, single-thread) sessions
    return make_seq_model(kind, _enc.card, _enc.run, _step.run, _enc, _step)


def _files(kind: str) -> tuple[str, str]:
    return f"{kind}.encoder.onnx", f"{kind}.decoder_step.onnx"


def seq_model(kind: str) -> SeqModel | None:
    """The date model ``kind`` ("seq2seq_attention" | "transformer") on the sidebar's provider; None after an error."""
    parts = ui.models(*_files(kind))
    if parts is None:
        return None
    try:
        return _cached_seq(kind, ui.provider(), tuple(ui.stamp(f) for f in _files(kind)), *parts)
    except UserError as exc:
        ui.show_error(exc)
        return None


def decoded(kind: str, model: SeqModel, text: str) -> Decoded:
    """``decode(model, text)``, cached per model file version, provider and text; ``.seconds`` is its wall time."""
    return _decoded(kind, ui.provider(), tuple(ui.stamp(f) for f in _files(kind)), text, model)


@st.cache_resource(show_spinner=False, max_entries=64)
def _decoded(kind: str, provider: str, stamp: tuple, text: str, _model: SeqModel) -> Decoded:
    return decode(_model, text)  # read-only; a TokenizeError (UserError) is raised again: errors are not cached


def date_input() -> str:
    """A preset picker plus a free-text box; the text lives in the URL as ``?text=``. Returns the stripped text."""
    options = list(presets())
    default = options[0] if options else "28 November 2026"

    def pick() -> None:
        choice = st.session_state.get("preset")
        if choice:
            st.session_state["text"] = choice

    c1, c2 = st.columns([1, 1])
    c1.selectbox(ui.t("seq.preset"), options, index=None, placeholder=ui.t("seq.preset_placeholder"), key="preset",
                 on_change=pick)
    text = c2.text_input(ui.t("seq.box"), default, key="text", max_chars=MAX_CHARS, bind=ui.BIND,
                         help=ui.t("seq.box_help"))
    st.caption(ui.t("seq.trained_on"))
    text = (text or "").strip()
    if not text:
        st.info(ui.t("seq.empty"), icon=":material/keyboard:")
    return text


def expected(text: str) -> str | None:
    """The true ISO date when ``text`` is one of the presets."""
    return presets().get(text.strip())


def result_header(d: Decoded, model: SeqModel) -> None:
    """The answer — only when it is a real date the model is sure of — the expected ISO date where the input is a
    preset, the decoding time; otherwise why the output is withheld. Then each character's confidence."""
    want = expected(d.input)
    c1, c2, c3 = st.columns([2, 2, 3])
    c1.metric(ui.t("seq.output"), d.output if d.ok else ui.t("seq.withheld"))
    if want is not None:
        ok = d.ok and d.output == want
        c2.metric(ui.t("seq.expected"), want, ui.t("seq.correct" if ok else "seq.wrong"),
                  delta_color="green" if ok else "red", delta_arrow="off")
    with c3:
        ui.timing(ui.t("seq.timing", n=len(d.out_tokens)), d.seconds * 1000, [model.encoder, model.step], cached=True)
    if not d.ok:
        key, fields = explain(d.verdict, d.output)
        st.warning(ui.t("seq.rejected", reason=ui.t(key, **fields), output=d.output or "∅"),
                   icon=":material/report:")
    with st.expander(ui.t("seq.confidence", p=fmt_p(d.min_prob), threshold=fmt_p(d.verdict.threshold)),
                     expanded=not d.ok):
        st.plotly_chart(ui.fig(confidence_bars, d.out_tokens, d.probs, d.verdict.threshold,
                               y_title=ui.t("seq.p_axis"), threshold_label=ui.t("seq.threshold")),
                        key=f"confidence_{model.kind}", config=ui.PLOT_CONFIG)
        st.caption(ui.t("seq.confidence_caption"))
