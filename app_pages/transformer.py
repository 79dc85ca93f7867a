"""Transformer: the same dates through an encoder-decoder Transformer — encoder self-attention, decoder
self-attention and cross-attention per layer and head, all heads at once, the additive model beside it, and a
step-through of the greedy decoding."""

import streamlit as st

import ui
from core.figures import attention_grid, attention_heatmap, bars
from core.runtime.decode import mean_cross
from ui import live
from ui.seq import date_input, decoded, result_header, seq_model

ui.header("transformer")
t, lang = ui.t, ui.lang()


@ui.fragment
def heads_section(d, src: list[str], out: list[str], dec_in: list[str]) -> None:
    """Every head of one kind at once (its own rerun: the decoded date comes from the page's last full run)."""
    st.subheader(t("transformer.all_heads"))
    kinds = ("cross", "enc", "dec")
    kind = ui.url_choice(st.radio, t("transformer.which"), kinds, key="heads", default="cross",
                         format_func=lambda k: t(f"transformer.kind_{k}"), horizontal=True)
    w_all, xs, ys = {"cross": (d.cross, src, out), "enc": (d.enc_self, src, src),
                     "dec": (d.dec_self, dec_in, out)}[kind]
    kind_name = t(f"transformer.kind_{kind}")
    ui.chart(ui.fig(attention_grid, w_all, xs, ys, title=t("transformer.grid_title", kind=kind_name), lang=lang),
             key="heads_grid", filename=t("transformer.file_grid", kind=kind_name))


@ui.fragment
def step_section(d, ld: int, src: list[str], out: list[str]) -> None:
    """One output step at a time, in layer ``ld`` (the page's layer: a layer change reruns the whole page)."""
    st.subheader(t("transformer.step_through"))
    T = len(out)
    ui.keep_in_range("t", 1, T, 1)
    step = st.slider(t("transformer.step"), 1, T, 1, key="t", bind=ui.BIND) if T > 1 else 1
    s = step - 1
    written = "".join(out[:s])
    st.markdown(t("transformer.step_line", input=d.input, written=written or t("transformer.nothing"), next=out[s]))
    c1, c2 = st.columns(2)
    with c1:
        w = d.cross[ld, :, s].mean(0)
        ui.chart(ui.fig(bars, w, src, title=t("transformer.step_cross", step=step, layer=ld + 1),
                        y_title=t("attention.weight"), highlight=int(w.argmax())),
                 key="step_cross", filename=t("transformer.file_step_cross", step=step))
    with c2:
        prev = ["<bos>"] + out[:s]
        ui.chart(ui.fig(bars, d.dec_self[ld, :, s, : s + 1].mean(0), prev, y_title=t("attention.weight"),
                        title=t("transformer.step_self", step=step)),
                 key="step_self", filename=t("transformer.file_step_self", step=step))


text = date_input()
# every keystroke decodes in the browser; Enter commits the text to the box above and reruns the page
live.date_box("dates_live", "transformer", text=text, on_commit=ui.setter("text"))
model = seq_model("transformer")
if model is None or not text:
    ui.stop()

with ui.guard():
    d = decoded("transformer", model, text)
    result_header(d, model)

    L_enc, H = d.enc_self.shape[:2]
    L_dec = d.cross.shape[0]
    n_layers = max(L_enc, L_dec)
    c1, c2 = st.columns(2)
    layer = c1.selectbox(t("transformer.layer"), list(range(1, n_layers + 1)), key="layer", bind=ui.BIND)
    head = c2.selectbox(t("transformer.head"), list(range(1, H + 1)), key="head", bind=ui.BIND)
    le, ld, h = min(layer, L_enc) - 1, min(layer, L_dec) - 1, head - 1
    src, out = d.src_tokens, d.out_tokens
    dec_in = ["<bos>"] + out[:-1]  # what the decoder read at each step (its keys); the rows are what it wrote
    maps = {  # kind: (weights, keys, queries, x title, y title, layer index)
        "cross": (d.cross[ld, h], src, out, t("transformer.x_input"), t("transformer.y_output"), ld),
        "dec_self": (d.dec_self[ld, h], dec_in, out, t("transformer.x_dec"), t("transformer.y_writes"), ld),
        "enc_self": (d.enc_self[le, h], src, src, t("transformer.x_key"), t("transformer.y_query"), le),
    }
    st.subheader(t("transformer.layer_head", layer=layer, head=head))
    # cross-attention is wide (output x input) and decoder self-attention small (output x output): side by side;
    # encoder self-attention is input x input, square, so it gets a row of its own
    row1 = st.columns([3, 2])
    row2 = st.columns([3, 2])
    for col, kind in zip((row1[0], row1[1], row2[0]), ("cross", "dec_self", "enc_self")):
        w, xs, ys, xt, yt, li = maps[kind]
        name = t(f"transformer.kind_{kind}")
        with col:
            ui.chart(ui.fig(attention_heatmap, w, xs, ys, x_title=xt, y_title=yt, lang=lang,
                            title=f"{name}<br><sup>{t('transformer.lh', layer=li + 1, head=head)}</sup>",
                            height=max(300, 24 * len(ys) + 150)),
                     key=f"map_{kind}", filename=t("transformer.file_map", kind=name, layer=li + 1, head=head))
            ui.csv_button(t("app.csv"), w, t("transformer.file_map", kind=name, layer=li + 1, head=head) + ".csv",
                          key=f"csv_{kind}", row_labels=ys, col_labels=xs, corner=t("transformer.corner"))
    with row2[1]:
        st.caption(t("transformer.maps_caption"))

    heads_section(d, src, out, dec_in)

    st.subheader(t("transformer.beside"))
    additive = seq_model("seq2seq_attention")
    c1, c2 = st.columns(2)
    with c2:
        title = t("transformer.mean_cross", h=H, out=d.output)
        ui.chart(ui.fig(attention_heatmap, mean_cross(d), src, out, title=title, height=420, lang=lang),
                 key="cmp_tf", filename=t("transformer.file_mean"))
    if additive is not None:
        a = decoded("seq2seq_attention", additive, text)
        with c1:
            ui.chart(ui.fig(attention_heatmap, a.cross, a.src_tokens, a.out_tokens, height=420, lang=lang,
                            title=t("transformer.additive", out=a.output)),
                     key="cmp_add", filename=t("attention.file_map"))

    step_section(d, ld, src, out)
