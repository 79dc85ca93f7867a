"""Attention: the GRU encoder-decoder with additive (Bahdanau) attention turns a written date into YYYY-MM-DD; see
which input characters each output character attends to."""

import streamlit as st

import ui
from core.figures import attention_heatmap, bars
from ui import live
from ui.seq import date_input, decoded, result_header, seq_model

ui.header("attention")
t, lang = ui.t, ui.lang()

text = date_input()
# every keystroke decodes in the browser; Enter commits the text to the box above and reruns the page
live.date_box("dates_live", "seq2seq_attention", text=text, on_commit=ui.setter("text"))
model = seq_model("seq2seq_attention")
if model is not None and text:
    with ui.guard():
        d = decoded("seq2seq_attention", model, text)
        result_header(d, model)
        ui.chart(ui.fig(attention_heatmap, d.cross, d.src_tokens, d.out_tokens, title=t("attention.map_title"),
                        x_title=t("attention.x"), y_title=t("attention.y"), lang=lang),
                 key="alignment", filename=t("attention.file_map"))
        ui.csv_button(t("attention.csv"), d.cross, t("attention.file_map") + ".csv", key="csv_align",
                      row_labels=d.out_tokens, col_labels=d.src_tokens, corner=t("attention.corner"))

        st.subheader(t("attention.one_step"))
        T = len(d.out_tokens)
        ui.keep_in_range("step", 1, T, 1)  # a shorter output than the last one
        step = st.slider(t("attention.step"), 1, T, 1, key="step", bind=ui.BIND) if T > 1 else 1
        tok = d.out_tokens[step - 1]
        w = d.cross[step - 1]
        top = int(w.argmax())
        ui.chart(ui.fig(bars, w, d.src_tokens, title=t("attention.step_title", step=step, tok=repr(tok)),
                        y_title=t("attention.weight"), highlight=top),
                 key="step_bars", filename=t("attention.file_step", step=step))
        st.caption(t("attention.step_caption", so_far="".join(d.out_tokens[:step]), pos=top + 1,
                     char=repr(d.src_tokens[top]), w=f"{w[top]:.2f}"))
