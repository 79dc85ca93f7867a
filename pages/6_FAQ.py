"""FAQ: the source text's questions, trends, challenges, corrections and references — searchable, in English or
Chinese — and a "how big is big" memory calculator."""

import streamlit as st

import ui
from core import content
from core import sizecalc as sc
from core.figures import memory_bars
from core.manifest import read_manifest

ui.setup("faq", "FAQ", ":material/quiz:",
         "The tutorial's questions and outlook, answered in this project's own words and corrected where it is wrong.")

LANGS = {"en": "English", "zh": "中文"}
c1, c2 = st.columns([1, 3])
lang = c1.radio("Language", list(LANGS), format_func=LANGS.get, horizontal=True,
                key=ui.param("lang", "en", str, choices=list(LANGS), scope="global"))
query = c2.text_input("Search everything below", key=ui.param("q", "", str),
                      placeholder="e.g. overfitting, GAN loss, 过拟合, BERT")
ZH = lang == "zh"
L = {  # the few labels this page adds around the content
    "faq": ("Questions", "常见问题"), "trends": ("Future trends", "未来趋势"), "challenges": ("Challenges", "挑战"),
    "corrections": ("Where the text is wrong", "原文的错误与更正"), "references": ("References", "参考文献"),
    "corrected": ("Corrected", "已更正"), "source_says": ("The text says", "原文"), "correct": ("Correct", "正确说法"),
    "why": ("Why it matters", "原因"), "as_cited": ("As cited", "原文引用"), "example": ("Example", "例子"),
    "none": ("Nothing matches the search.", "没有匹配的内容。"), "fixed": ("Corrected code", "更正后的代码"),
}


def t(key: str) -> str:
    return L[key][1 if ZH else 0]


def hits(name: str) -> list:
    items = content.section(name)  # raw and bilingual: the search looks at both languages
    return [content.tr(i, lang) for i in content.search(items, query, lang)]


with ui.guard():
    st.caption(content.source(lang)["note"])
    sections = {name: hits(name) for name in ("faq", "trends", "challenges", "corrections", "references")}
    if query and not any(sections.values()):
        st.info(t("none"))
    corrections = {c["id"]: c for c in content.section("corrections", lang)}

    if sections["faq"]:
        st.header(t("faq"))
        for item in sections["faq"]:
            with st.expander(item["question"], expanded=bool(query)):
                st.markdown(item["answer"])
                if item.get("correction"):
                    st.warning(f"**{t('corrected')}:** {item['correction']}", icon=":material/edit_note:")
    for name in ("trends", "challenges"):
        if sections[name]:
            st.header(t(name))
            cols = st.columns(len(sections[name]))
            for col, item in zip(cols, sections[name]):
                with col.container(border=True):
                    st.markdown(f"**{item['title']}**")
                    st.write(item["body"])
                    if item.get("example"):
                        st.caption(f"{t('example')}: {item['example']}")
    if sections["corrections"]:
        st.header(t("corrections"))
        for item in sections["corrections"]:
            with st.expander(f"§{item['section']} · {item['topic']}", expanded=bool(query)):
                st.markdown(f":red[:material/close: **{t('source_says')}:**] {item['source_says']}")
                st.markdown(f":green[:material/check: **{t('correct')}:**] {item['correct']}")
                if item.get("latex"):
                    st.latex(item["latex"])
                st.caption(f"{t('why')}: {item['why']}")
                if item.get("fixed_code"):
                    st.markdown(f"**{t('fixed')}**")
                    st.code(item["fixed_code"], language="python")
    if sections["references"]:
        st.header(t("references"))
        for ref in sections["references"]:
            if ref["status"] == "correct":
                st.markdown(f"[{ref['n']}] {ref['corrected']}  \n:green[✓] {ref['note']}")
            else:
                st.markdown(f"[{ref['n']}] {ref['corrected']}  \n:orange[**{t('corrected')}**] — {ref['note']}  \n"
                            f"<small>{t('as_cited')}: <s>{ref['as_cited']}</s></small>", unsafe_allow_html=True)

# ---------------------------------------------------------------------------------------------- size calculator
st.header("How big is big?" if not ZH else "多大才算大？")
st.caption("Memory for the weights alone: parameters × bytes per parameter (fp32 4, fp16 2, int8 1). Training "
           "with Adam needs about 16 bytes per parameter before activations. Decimal units (1 GB = 10⁹ bytes).")


def project_models() -> list:
    """This project's exported models as presets, their parameter counts read from their ONNX model cards."""
    try:
        files = read_manifest().get("files", {})
    except Exception:
        return []
    cards = {}
    for name in sorted(k for k in files if k.endswith(".onnx")):
        m = ui.model(name, quiet=True)
        if m is not None and m.card:
            cards[name] = m.card
    return sc.project_presets(cards)


presets = project_models() + list(sc.PRESETS)
by_name = {p.name: p for p in presets}
raw = st.text_input("Parameters", key=ui.param("params", "175B", str),
                    help="A count like 175B, 340M, 1.5e9 or 25,557,032.")
with ui.guard():
    n = sc.parse_count(raw)
    cols = st.columns(4)
    for col, dtype in zip(cols, ("fp32", "fp16", "int8")):
        col.metric(dtype, sc.human_bytes(sc.memory_bytes(n, dtype)))
    cols[3].metric("training (Adam)", sc.human_bytes(sc.training_memory_bytes(n)),
                   help="Weights, gradients and Adam's two moments in fp32: 16 bytes per parameter, "
                   "activations excluded.")
    gpus = sc.devices_needed(sc.memory_bytes(n, "fp16"), 80e9)
    st.markdown(f"**{sc.human_count(n)} parameters** ({n:,}). At fp16 the weights alone fill **{gpus}** × 80 GB "
                f"accelerator{'s' if gpus != 1 else ''}; training needs several times more.")
default = [p.name for p in presets if p.kind == "project"][-2:] + ["ResNet-50", "BERT-base", "GPT-2", "GPT-3"]
chosen = st.multiselect("Compare", list(by_name), default=[d for d in default if d in by_name], key="faq.compare")
rows = sc.table([by_name[c] for c in chosen], ("fp32", "fp16", "int8"))
if rows:
    ui.chart(ui.fig(memory_bars, rows, fmt=sc.human_bytes), key="memory", filename="model_memory")
with st.expander("All presets"):
    ui.table([{"model": r["name"], "parameters": sc.human_count(r["params"]), "fp32": sc.human_bytes(r["fp32"]),
               "fp16": sc.human_bytes(r["fp16"]), "int8": sc.human_bytes(r["int8"]),
               "training (Adam)": sc.human_bytes(r["train_adam"]), "source": r["source"]}
              for r in sc.table(presets, ("fp32", "fp16", "int8"))],
             {k: "r" for k in ("parameters", "fp32", "fp16", "int8", "training (Adam)")})
if sc.OMITTED:
    st.caption(" · ".join(f"{k}: {v}" for k, v in sc.OMITTED.items()))
