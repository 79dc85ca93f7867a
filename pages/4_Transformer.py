"""Transformer: the same dates through an encoder-decoder Transformer — encoder self-attention, decoder
self-attention and cross-attention per layer and head, all heads at once, the additive model beside it, and a
step-through of the greedy decoding."""

import streamlit as st

import ui
from core.figures import attention_grid, attention_heatmap, bars
from core.runtime.decode import mean_cross
from ui.seq import date_input, decoded, result_header, seq_model

ui.setup("transformer", "Transformer", ":material/hub:",
         "Scaled dot-product attention, softmax(QKᵀ/√d_k)V, in several heads per layer: the encoder attends over "
         "the input, the decoder over what it has written so far (masked) and over the encoder's output.")

text = date_input()
model = seq_model("transformer")
if model is None or not text:
    st.stop()

with ui.guard():
    d = decoded("transformer", model, text)
    result_header(d, model)

    L_enc, H = d.enc_self.shape[:2]
    L_dec = d.cross.shape[0]
    c1, c2 = st.columns(2)
    layer = c1.selectbox("Layer", list(range(1, max(L_enc, L_dec) + 1)),
                         key=ui.param("layer", 1, int, choices=list(range(1, max(L_enc, L_dec) + 1))))
    head = c2.selectbox("Head", list(range(1, H + 1)), key=ui.param("head", 1, int, choices=list(range(1, H + 1))))
    le, ld, h = min(layer, L_enc) - 1, min(layer, L_dec) - 1, head - 1
    src, out = d.src_tokens, d.out_tokens
    dec_in = ["<bos>"] + out[:-1]  # what the decoder read at each step (its keys); the rows are what it wrote
    maps = {
        "encoder self-attention": (d.enc_self[le, h], src, src, "key (input)", "query (input)", "enc_self", le),
        "decoder self-attention": (d.dec_self[ld, h], dec_in, out, "key (decoder input)", "query (writes)", "dec_self",
                                   ld),
        "cross-attention": (d.cross[ld, h], src, out, "input character", "output character", "cross", ld),
    }
    st.subheader(f"Layer {layer}, head {head}")
    for col, (title, (w, xs, ys, xt, yt, short, l)) in zip(st.columns(3), maps.items()):
        with col:
            ui.chart(ui.fig(attention_heatmap, w, xs, ys, title=f"{title}<br><sup>layer {l + 1}, head {head}</sup>",
                                       x_title=xt, y_title=yt, height=420),
                     key=f"map_{short}", filename=f"transformer_{short}_L{l + 1}H{head}")
            ui.csv_button("CSV", w, f"transformer_{short}_L{l + 1}H{head}.csv", key=f"csv_{short}",
                          row_labels=ys, col_labels=xs, corner="query\\key")

    st.subheader("All heads")
    kinds = {"cross": "cross-attention", "enc": "encoder self-attention", "dec": "decoder self-attention"}
    kind = st.radio("Attention", list(kinds), format_func=kinds.get, horizontal=True,
                    key=ui.param("grid", "cross", str, choices=list(kinds)))
    w_all, xs, ys = {"cross": (d.cross, src, out), "enc": (d.enc_self, src, src),
                     "dec": (d.dec_self, dec_in, out)}[kind]
    ui.chart(ui.fig(attention_grid, w_all, xs, ys, title=f"{kinds[kind]}: every layer and head"), key="grid",
             filename=f"transformer_{kind}_all_heads")

    st.subheader("Additive attention beside the Transformer")
    additive = seq_model("seq2seq_attention")
    c1, c2 = st.columns(2)
    with c2:
        title = f"Transformer: last-layer cross-attention, mean of {H} heads<br><sup>output {d.output}</sup>"
        ui.chart(ui.fig(attention_heatmap, mean_cross(d), src, out, title=title, x_title="input", y_title="output",
                        height=420), key="cmp_tf", filename="transformer_mean_cross")
    if additive is not None:
        a = decoded("seq2seq_attention", additive, text)
        with c1:
            title = f"Additive (GRU) alignment<br><sup>output {a.output}</sup>"
            ui.chart(ui.fig(attention_heatmap, a.cross, a.src_tokens, a.out_tokens, title=title, x_title="input",
                            y_title="output", height=420), key="cmp_add", filename="additive_alignment")

    st.subheader("Step through the decoding")
    T = len(out)
    skey = ui.param("t", 1, int, lo=1, hi=T)
    if st.session_state[skey] > T:
        ui.put("t", 1)
    step = st.slider("Decoding step", 1, T, key=skey) if T > 1 else 1
    s = step - 1
    written = "".join(out[:s])
    st.markdown(f"Input `{d.input}` · written so far `{written or '(nothing: only <bos>)'}` → next token "
                f"**`{out[s]}`**")
    c1, c2 = st.columns(2)
    with c1:
        w = d.cross[ld, :, s].mean(0)
        ui.chart(ui.fig(bars, w, src, title=f"Cross-attention of step {step} (layer {ld + 1}, mean of heads)",
                        y_title="weight", highlight=int(w.argmax())),
                 key="step_cross", filename=f"transformer_step{step}_cross")
    with c2:
        prev = ["<bos>"] + out[:s]
        ui.chart(ui.fig(bars, d.dec_self[ld, :, s, : s + 1].mean(0), prev,
                        title=f"Decoder self-attention of step {step} (mean of heads)", y_title="weight"),
                 key="step_self", filename=f"transformer_step{step}_self")
