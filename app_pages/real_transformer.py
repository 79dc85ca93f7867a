"""Real Transformer: a real pretrained BERT-family model (all-MiniLM-L6-v2, 6 layers x 12 heads, 22.6M parameters)
on any sentence: its tokens, a head view, a model view, token details, the head patterns measured on 120 sentences
(and how they hold on this one), what the model was trained for (sentence embeddings, similarity), and the lab's
small Transformer beside it. onnxruntime and tokenizers only; layers and heads count from 0, as in BertViz."""

import numpy as np
import streamlit as st

import ui
from core.pretrained import examples, heads
from core.pretrained import figures as F
from core.pretrained.runtime import HEADS, MAX_CHARS, TextError
from ui import pretrained as P

ui.header("realtf")
t, lang = ui.t, ui.lang()


def L(l: int) -> str:  # noqa: E743 - the layer's short name in figures
    return t("realtf.l", l=l)


def H(h: int) -> str:
    return t("realtf.h", h=h)


def LH(l: int, h: int) -> str:
    return t("realtf.lh", l=l, h=h)


m = P.minilm()
if m is None:
    ui.stop()
cfg = m.config

# ------------------------------------------------------------------------------------------------- the sentence
def _pick() -> None:
    choice = st.session_state.get("rpreset")
    if choice:
        st.session_state["sentence"] = choice


c1, c2 = st.columns([2, 3])
c1.selectbox(t("realtf.preset"), examples.PRESETS, index=None, placeholder=t("realtf.preset_placeholder"),
             key="rpreset", on_change=_pick)
with c2:
    text = st.text_area(t("realtf.box"), examples.DEFAULT, key="sentence", max_chars=MAX_CHARS, bind=ui.BIND, height=80,
                        help=t("realtf.box_help", n=MAX_CHARS, limit=cfg.max_tokens))
a = None
try:
    a = P.analyse(m, text or "")
except TextError as exc:
    P.text_error(exc)

if a is not None:
    tk = a.tokens
    T = tk.n_tokens
    kinds = [P.token_kind(tk, i) for i in range(T)]
    st.subheader(t("realtf.tokens"))
    c = st.columns(4)
    c[0].metric(t("realtf.n_tokens"), T, help=t("realtf.n_tokens_help"))
    c[1].metric(t("realtf.n_words"), len({w for w in tk.word_ids if w is not None}))
    c[2].metric(t("realtf.n_pieces"), kinds.count("piece"), help=t("realtf.n_pieces_help"))
    c[3].metric(t("realtf.n_unk"), tk.n_unk, help=t("realtf.n_unk_help"))
    P.token_strip(tk)
    st.caption(t("realtf.strip_legend"))
    if tk.capped:
        st.warning(t("realtf.capped", n=MAX_CHARS), icon=":material/content_cut:")
    if tk.truncated:
        st.warning(t("realtf.truncated", n=tk.n_tokens_full, limit=T), icon=":material/content_cut:")
    if tk.n_removed:
        st.info(t("realtf.removed", n=tk.n_removed), icon=":material/cleaning_services:")
    if tk.n_unk:
        st.info(t("realtf.unk", n=tk.n_unk, total=T, vocab=f"{cfg.vocab_size:,}", cjk=P.cjk_in_vocab(m)),
                icon=":material/help:")
    with st.expander(t("realtf.token_table")):
        rows = [{"i": i, "token": tk.tokens[i], "id": int(tk.ids[i]),
                 "word": "" if tk.word_ids[i] is None else tk.word_ids[i], "chars": P.source_chars(tk, i),
                 "kind": t(f"realtf.kind_{kinds[i]}")} for i in range(T)]
        ui.table(rows, align={"i": "r", "id": "r", "word": "r"},
                 headers={k: t(f"realtf.col_{k}") for k in ("i", "token", "id", "word", "chars", "kind")})

    # --------------------------------------------------------------------------------------------- head view
    st.header(t("realtf.head_view"))
    st.caption(t("realtf.head_view_caption"))
    c1, c2, c3 = st.columns(3)
    layer = c1.selectbox(t("realtf.layer"), list(range(cfg.n_layers)), key="rlayer", bind=ui.BIND,
                         help=t("realtf.count_from_0"))
    with c2:
        head_opt = ui.url_choice(st.selectbox, t("realtf.head"), ["all"] + [str(h) for h in range(cfg.n_heads)],
                                 key="rhead", default="all",
                                 format_func=lambda h: t("realtf.all_heads") if h == "all" else H(int(h)))
    with c3:
        focus_opt = ui.url_choice(st.selectbox, t("realtf.focus"), ["all"] + [str(i) for i in range(T)],
                                  key="focus", default="all",
                                  format_func=lambda i: t("realtf.all_tokens") if i == "all"
                                  else f"{i} · {tk.tokens[int(i)]}")
    head = None if head_opt == "all" else int(head_opt)
    focus = None if focus_opt == "all" else int(focus_opt)

    def _clicked() -> None:  # a click on a token of the head view keeps that token's lines
        event = st.session_state.get("head_view")
        try:
            points = event["selection"]["points"]
        except (KeyError, TypeError):
            return
        for p in points:
            idx = p.get("customdata")
            if isinstance(idx, list):
                idx = idx[0] if idx else None
            if isinstance(idx, (int, float)) and 0 <= int(idx) < T:
                ui.set_choice("focus", str(int(idx)))
                ui.set_choice("tok", str(int(idx)))  # the token details follow the clicked token
                return

    c1, c2 = st.columns([3, 2], gap="medium")
    with c1:
        title = t("realtf.hv_title", l=layer) if head is None else t("realtf.hv_title_one", l=layer, h=head)
        ui.chart(ui.fig(F.head_view, tk.tokens, a.attentions[layer], heads=None if head is None else [head],
                        focus=focus, title=title, head_label=H, left_title=t("realtf.from"),
                        right_title=t("realtf.to"), side_names=(t("realtf.from"), t("realtf.to"))),
                 key="head_view", filename=t("realtf.file_head_view", l=layer), on_select=_clicked,
                 selection_mode="points")
        st.caption(t("realtf.hv_help"))
    with c2:
        if head is None:
            w, name = a.attentions[layer].mean(0), t("realtf.map_mean", l=layer, n=cfg.n_heads)
        else:
            w, name = a.attentions[layer, head], t("realtf.map_one", l=layer, h=head)
        ui.chart(ui.fig(F.attention_map, tk.tokens, w, title=name, x_title=t("realtf.key"),
                        y_title=t("realtf.query"), height=max(320, min(900, 16 * T + 170))),
                 key="map", filename=t("realtf.file_map", l=layer, h="all" if head is None else head))
        labels = list(tk.tokens)
        ui.csv_button(t("realtf.csv_map"), w, t("realtf.file_map", l=layer, h="all" if head is None else head)
                      + ".csv", key="csv_map", row_labels=labels, col_labels=labels, corner=t("realtf.corner"))

    # -------------------------------------------------------------------------------------------- model view
    st.header(t("realtf.model_view"))
    st.caption(t("realtf.model_view_caption", n=32) if T > 32 else t("realtf.model_view_caption_all"))
    ui.chart(ui.fig(F.model_view, tk.tokens, a.attentions, layer_label=L, head_label=H,
                    title=t("realtf.mv_title", layers=cfg.n_layers, heads=cfg.n_heads)),
             key="model_view", filename=t("realtf.file_model_view"))

    # ----------------------------------------------------------------------------------------- token details
    st.header(t("realtf.details"))
    ids = [str(i) for i in range(T)]
    default_tok = "1" if T > 2 else "0"
    c1, c2 = st.columns([1, 2])
    with c1:
        q = int(ui.url_choice(st.selectbox, t("realtf.token"), ids, key="tok", default=default_tok,
                              format_func=lambda i: f"{i} · {tk.tokens[int(i)]}"))
        word = tk.word_ids[q]
        if word is None:
            st.markdown(t("realtf.is_special", token=ui.esc(tk.tokens[q])))
        else:
            pieces = [i for i in range(T) if tk.word_ids[i] == word]
            span = (tk.offsets[pieces[0]][0], tk.offsets[pieces[-1]][1])
            wtext = ui.esc(tk.text[span[0]:span[1]], 80)
            if len(pieces) == 1:
                st.markdown(t("realtf.is_word", token=ui.esc(tk.tokens[q]), word=wtext))
            else:
                st.markdown(t("realtf.is_piece", k=pieces.index(q) + 1, n=len(pieces), token=ui.esc(tk.tokens[q]),
                              word=wtext, pieces=" · ".join(ui.esc(tk.tokens[i]) for i in pieces[:24])))
            if tk.unk[q]:
                st.markdown(t("realtf.is_unk", chars=ui.esc(P.source_chars(tk, q), 40)))
        st.caption(t("realtf.details_caption", l=layer))
    with c2:
        wq = a.attentions[layer, :, q, :]  # (heads, keys)
        ui.chart(ui.fig(F.token_heads, tk.tokens, wq, q, head_label=H, x_title=t("realtf.key"),
                        title=t("realtf.th_title", l=layer, i=q, token=F.plot_text(tk.tokens[q]))),
                 key="token_heads", filename=t("realtf.file_token", l=layer, i=q))
        ui.csv_button(t("realtf.csv_token"), wq, t("realtf.file_token", l=layer, i=q) + ".csv", key="csv_token",
                      row_labels=[H(h) for h in range(cfg.n_heads)], col_labels=list(tk.tokens),
                      corner=t("realtf.corner_head"))
    top = []
    for h in range(cfg.n_heads):
        order = np.argsort(-wq[h], kind="stable")[:3]
        top.append({"head": H(h), **{f"k{r}": f"{tk.tokens[k]} ({k}) {wq[h, k]:.2f}" for r, k in enumerate(order)}})
    ui.table(top, headers={"head": t("realtf.head"), "k0": t("realtf.top1"), "k1": t("realtf.top2"),
                           "k2": t("realtf.top3")})
    with st.expander(t("realtf.by_layer", i=q)):
        wl = a.attentions[:, :, q, :].mean(1)  # (layers, keys), each layer's heads averaged
        ui.chart(ui.fig(F.token_heads, tk.tokens, wl, q, head_label=L, x_title=t("realtf.key"),
                        title=t("realtf.by_layer_title", i=q, token=F.plot_text(tk.tokens[q]))),
                 key="token_layers", filename=t("realtf.file_token_layers", i=q))


# ---------------------------------------------------------------------------------------- measured head patterns


@ui.fragment
def patterns_section(a, sel: tuple[int, int] | None) -> None:
    """The measured head patterns, checked on the sentence's attentions ``a`` (from the page's last full run);
    ``sel``: the head picked above, outlined."""
    st.header(t("realtf.patterns"))
    table = ui.cached(HEADS, heads.load_table)
    if table is not None:
        sents = table["sentences"]
        st.markdown(t("realtf.patterns_lead", n=sents["count"], tokens=f"{sents['tokens']:,}"))
        pattern = ui.url_choice(st.radio, t("realtf.pattern"), list(heads.PATTERNS), key="pattern", default="previous",
                                format_func=lambda p: t(f"realtf.pat_{p}"), horizontal=True)
        thr = float(table["thresholds"][pattern])
        measured = np.asarray(table["scores"][pattern]["mean"], dtype=np.float32)
        std = np.asarray(table["scores"][pattern]["std"], dtype=np.float32)
        found = table["heads_following"][pattern]
        yours = P.pattern_scores(m, a) if a is not None else None
        c1, c2 = st.columns(2)
        with c1:
            ui.chart(ui.fig(F.pattern_grid, measured, thr, layer_label=L, head_label=H, selected=sel,
                            title=t("realtf.grid_measured", pattern=t(f"realtf.pat_{pattern}"), n=sents["count"])),
                     key="grid_measured", filename=t("realtf.file_grid", pattern=pattern))
            ui.csv_button(t("realtf.csv_grid"), measured, t("realtf.file_grid", pattern=pattern) + ".csv",
                          key="csv_grid", row_labels=[L(l) for l in range(measured.shape[0])],
                          col_labels=[H(h) for h in range(measured.shape[1])], corner=t("realtf.corner_grid"))
        with c2:
            if yours is not None and np.isfinite(yours[pattern]).any():
                ui.chart(ui.fig(F.pattern_grid, np.nan_to_num(yours[pattern]), thr, layer_label=L, head_label=H,
                                selected=sel, title=t("realtf.grid_yours", pattern=t(f"realtf.pat_{pattern}"))),
                         key="grid_yours", filename=t("realtf.file_grid_yours", pattern=pattern))
            elif yours is not None:
                st.info(t("realtf.pattern_na"))
        if found:
            st.markdown(t("realtf.found", n=len(found), pattern=t(f"realtf.pat_{pattern}"), thr=f"{thr:.2f}"))
        else:
            s = table["strongest"][pattern]
            st.markdown(t("realtf.none_found", pattern=t(f"realtf.pat_{pattern}"), thr=f"{thr:.2f}",
                          head=LH(s["layer"], s["head"]), score=f"{s['score']:.2f}"))
        rows = []
        for f in found[:40]:
            l, h = f["layer"], f["head"]
            row = {"head": LH(l, h), "measured": f"{measured[l, h]:.2f} ± {std[l, h]:.2f}"}
            if yours is not None:
                v = float(yours[pattern][l, h])
                row["yours"] = f"{v:.2f}" if np.isfinite(v) else "—"
                row["holds"] = bool(np.isfinite(v) and v >= thr)
            rows.append(row)
        ui.table(rows, align={"measured": "r", "yours": "r", "holds": "c"},
                 headers={"head": t("realtf.col_head"), "measured": t("realtf.col_measured", n=sents["count"]),
                          "yours": t("realtf.col_yours"), "holds": t("realtf.col_holds", thr=f"{thr:.2f}")})
        with st.expander(t("realtf.all_patterns")):
            summary = []
            for p in heads.PATTERNS:
                s = table["strongest"][p]
                hits = table["heads_following"][p]
                pthr = float(table["thresholds"][p])
                row = {"pattern": t(f"realtf.pat_{p}"), "thr": f"≥ {pthr:.2f}", "n": len(hits),
                       "best": f"{LH(s['layer'], s['head'])} · {s['score']:.2f}"}
                if yours is not None:
                    ys = yours[p]
                    vals = [ys[x["layer"], x["head"]] for x in hits]
                    held = sum(1 for v in vals if np.isfinite(v) and v >= pthr)
                    row["held"] = t("realtf.k_of_n", k=held, n=len(hits)) if hits else "—"
                summary.append(row)
            ui.table(summary, align={"n": "r"},
                     headers={"pattern": t("realtf.pattern"), "thr": t("realtf.col_thr"), "n": t("realtf.col_n"),
                              "best": t("realtf.col_best"), "held": t("realtf.col_held")})
            st.caption(t("realtf.method"))


patterns_section(a, (layer, head) if a is not None and head is not None else None)

# ------------------------------------------------------------------------------------- what it was trained for
st.header(t("realtf.trained_for"))
st.markdown(t("realtf.trained_for_lead", d=cfg.d_model))
if a is not None:
    ui.csv_button(t("realtf.csv_emb"), a.embedding[None], t("realtf.file_emb") + ".csv", key="csv_emb",
                  col_labels=[f"e{i}" for i in range(a.embedding.shape[0])])


@ui.fragment
def pair_section() -> None:
    c1, c2 = st.columns(2)
    first = c1.text_input(t("realtf.sent_a"), examples.PAIR[0], key="sa", max_chars=MAX_CHARS, bind=ui.BIND)
    second = c2.text_input(t("realtf.sent_b"), examples.PAIR[1], key="sb", max_chars=MAX_CHARS, bind=ui.BIND)
    try:
        sim = P.similarity(m, first or "", second or "")
    except TextError as exc:
        sim = None
        P.text_error(exc)
    if sim is not None:
        c1, c2 = st.columns([1, 3])
        with c1:
            st.metric(t("realtf.cosine"), f"{sim.cosine:.3f}", help=t("realtf.cosine_help"))
            for which, tks in (("a", sim.a), ("b", sim.b)):
                if tks.n_unk or tks.truncated:
                    st.caption(t("realtf.pair_note", which=t(f"realtf.sent_{which}"), unk=tks.n_unk, n=tks.n_tokens))
        with c2:
            ha, hb = P.analyse(m, first).hidden, P.analyse(m, second).hidden
            ui.chart(ui.fig(F.token_similarity, ha, hb, sim.a.tokens, sim.b.tokens, title=t("realtf.tok_sim_title"),
                            x_title=t("realtf.sent_b"), y_title=t("realtf.sent_a")),
                     key="tok_sim", filename=t("realtf.file_tok_sim"))
        ui.csv_button(t("realtf.csv_pair"), sim.embeddings, t("realtf.file_pair") + ".csv", key="csv_pair",
                      row_labels=[t("realtf.sent_a"), t("realtf.sent_b")],
                      col_labels=[f"e{i}" for i in range(sim.embeddings.shape[1])], corner=t("realtf.corner_emb"))


pair_section()


@ui.fragment
def set_section() -> None:
    st.subheader(t("realtf.matrix"))
    raw = st.text_area(t("realtf.set_box", n=examples.MAX_SET), "\n".join(examples.SET), key="set",
                       max_chars=MAX_CHARS, bind=ui.BIND, height=170)
    lines = tuple(dict.fromkeys(s.strip() for s in (raw or "").splitlines() if s.strip()))
    if len(lines) > examples.MAX_SET:
        st.warning(t("realtf.set_cut", n=len(lines), k=examples.MAX_SET))
        lines = lines[: examples.MAX_SET]
    if len(lines) < 2:
        st.info(t("realtf.set_few"), icon=":material/keyboard:")
    else:
        try:
            E = P.embed(m, lines)
        except TextError as exc:
            E = None
            P.text_error(exc)
        if E is not None:
            c1, c2 = st.columns([3, 2])
            with c1:  # numbers on the axes, the sentences in the table beside: long labels would squash the matrix
                ui.chart(ui.fig(F.similarity_matrix, E, [str(i + 1) for i in range(len(lines))],
                                title=t("realtf.matrix_title")), key="sim_matrix", filename=t("realtf.file_matrix"))
            with c2:
                toks = [m.tokenize(s) for s in lines]
                ui.table([{"i": i + 1, "s": s, "n": tk_.n_tokens, "unk": tk_.n_unk}
                          for i, (s, tk_) in enumerate(zip(lines, toks))],
                         align={"i": "r", "n": "r", "unk": "r"},
                         headers={"i": "#", "s": t("realtf.corner_emb"), "n": t("realtf.n_tokens"),
                                  "unk": t("realtf.n_unk")})
            st.caption(t("realtf.matrix_caption"))
            ui.csv_button(t("realtf.csv_set"), E, t("realtf.file_set") + ".csv", key="csv_set",
                          row_labels=list(lines), col_labels=[f"e{i}" for i in range(E.shape[1])],
                          corner=t("realtf.corner_emb"))


set_section()

# ---------------------------------------------------------------------------------- beside the small Transformer
st.header(t("realtf.beside"))
small = ui.model("transformer.encoder.onnx", quiet=True)
mc = m.card
if small is None:
    st.info(t("realtf.no_small"))
else:
    sc = small.card
    small_files = [small.path.with_name(f"transformer.{part}.onnx") for part in ("encoder", "decoder_step")]
    small_files = [f for f in small_files if f.is_file()]
    scfg = sc["config"]
    big_p, small_p = int(mc["parameters"]), int(sc["parameters"])
    tc = sc.get("train_config", {})
    data = sc.get("data", {})
    metrics = sc.get("metrics", {})
    rows = [
        {"what": t("realtf.row_params"), "big": f"{big_p:,}", "small": f"{small_p:,}"},
        {"what": t("realtf.row_layers"), "big": t("realtf.enc_layers", n=mc["config"]["n_layers"]),
         "small": t("realtf.enc_dec_layers", e=scfg["n_enc_layer"], d=scfg["n_dec_layer"])},
        {"what": t("realtf.row_heads"), "big": mc["config"]["n_heads"], "small": scfg["n_head"]},
        {"what": t("realtf.row_d"), "big": f"{mc['config']['d_model']} / {mc['config']['d_ff']}",
         "small": f"{scfg['d_model']} / {scfg['d_ff']}"},
        {"what": t("realtf.row_vocab"), "big": t("realtf.vocab_big", n=f"{mc['config']['vocab_size']:,}"),
         "small": t("realtf.vocab_small", n=scfg["vocab_size"])},
        {"what": t("realtf.row_len"), "big": t("realtf.len_tokens", n=mc["config"]["max_tokens"]),
         "small": t("realtf.len_chars", n=sc.get("decoding", {}).get("max_src_len", scfg.get("max_len")))},
        {"what": t("realtf.row_attention"), "big": t("realtf.att_big"), "small": t("realtf.att_small")},
        {"what": t("realtf.row_trained"), "big": t("realtf.trained_big"),
         "small": t("realtf.trained_small", n=f"{int(tc.get('epochs', 0)) * int(tc.get('examples_per_epoch', 0)):,}",
                    formats=len(data.get("formats", [])), years=data.get("years", "?"))},
        {"what": t("realtf.row_output"), "big": t("realtf.out_big", d=mc["config"]["d_model"]),
         "small": t("realtf.out_small", acc=f"{100 * float(metrics.get('test_exact_match', 0)):.1f}",
                    n=f"{int(metrics.get('test_examples', 0)):,}")},
        {"what": t("realtf.row_weights"), "big": t("realtf.mb", mb=f"{int(mc['weights']['bytes']) / 1e6:.1f}"),
         "small": t("realtf.mb", mb=f"{sum(f.stat().st_size for f in small_files) / 1e6:.1f}")},
    ]
    ui.table(rows, headers={"what": "", "big": "MiniLM", "small": t("realtf.small_name")})
    st.caption(t("realtf.beside_caption", x=f"{big_p / small_p:.0f}", base=ui.esc(mc["original_model"]["base"]),
                 id=ui.esc(mc["original_model"]["id"])))
