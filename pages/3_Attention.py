"""Attention: the GRU encoder-decoder with additive (Bahdanau) attention turns a written date into YYYY-MM-DD; see
which input characters each output character attends to."""

import streamlit as st

import ui
from core.figures import attention_heatmap, bars
from ui.seq import date_input, decoded, result_header, seq_model

ui.setup("attention", "Attention", ":material/center_focus_strong:",
         "At every output step the decoder scores each encoder state, softmaxes the scores into weights and reads "
         "their weighted sum. The weights are the alignment drawn below.")

text = date_input()
model = seq_model("seq2seq_attention")
if model is not None and text:
    with ui.guard():
        d = decoded("seq2seq_attention", model, text)
        result_header(d, model)
        ui.chart(ui.fig(attention_heatmap, d.cross, d.src_tokens, d.out_tokens, title="Alignment: output × input",
                                   x_title="input character", y_title="output character"),
                 key="alignment", filename="additive_alignment")
        ui.csv_button("Alignment matrix (CSV)", d.cross, "additive_alignment.csv", key="csv_align",
                      row_labels=d.out_tokens, col_labels=d.src_tokens, corner="output\\input")

        st.subheader("One output step")
        T = len(d.out_tokens)
        skey = ui.param("step", 1, int, lo=1, hi=T)
        if st.session_state[skey] > T:  # a shorter output than the last one
            ui.put("step", 1)
        step = st.slider("Output step", 1, T, key=skey) if T > 1 else 1
        tok = d.out_tokens[step - 1]
        w = d.cross[step - 1]
        top = int(w.argmax())
        ui.chart(ui.fig(bars, w, d.src_tokens, title=f"Step {step}: writing {tok!r} — attention over the input",
                      y_title="weight", highlight=top), key="step_bars", filename=f"additive_step{step}")
        st.caption(f"Output so far: `{''.join(d.out_tokens[:step])}` · strongest input position: "
                   f"{top + 1} ({d.src_tokens[top]!r}, weight {w[top]:.2f}).")
