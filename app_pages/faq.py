"""FAQ: the source text's questions, trends, challenges, corrections and references — searchable, in English or
Chinese — and a "how big is big" memory calculator."""

import streamlit as st

import ui
from core import content
from core import sizecalc as sc
from core.figures import memory_bars
from core.errors import UserError
from core.manifest import read_manifest
from core.runtime.session import load_model

ui.header("faq")
t, lang = ui.t, ui.lang()
def _hits(name: str, query: str, lang: str) -> list:
    items = content.section(name)  # raw and bilingual: the search looks at both languages
    return [content.tr(i, lang) for i in content.search(items, query, lang)]


def hits(name: str, query: str) -> list:
    return ui.content_view(_hits, name, query, lang)


@ui.fragment
def content_section() -> None:
    """The searchable text: typing a search reruns this section alone."""
    query = st.text_input(t("faq.search"), key="q", max_chars=100, bind=ui.BIND, placeholder=t("faq.search_hint"))
    with ui.guard():
        st.caption(ui.content_view(content.source, lang)["note"])
        sections = {name: hits(name, query) for name in ("faq", "trends", "challenges", "corrections", "references")}
        if query and not any(sections.values()):
            st.info(t("faq.none"))

        if sections["faq"]:
            st.header(t("faq.faq"))
            for item in sections["faq"]:
                with st.expander(item["question"], expanded=bool(query)):
                    st.markdown(item["answer"])
                    if item.get("correction"):
                        st.warning(f"**{t('faq.corrected')}:** {item['correction']}", icon=":material/edit_note:")
        for name in ("trends", "challenges"):
            if sections[name]:
                st.header(t(f"faq.{name}"))
                cols = st.columns(len(sections[name]))
                for col, item in zip(cols, sections[name]):
                    with col.container(border=True):
                        st.markdown(f"**{item['title']}**")
                        st.write(item["body"])
                        if item.get("example"):
                            st.caption(f"{t('faq.example')}: {item['example']}")
        if sections["corrections"]:
            st.header(t("faq.corrections"))
            for item in sections["corrections"]:
                section = item["section"].replace("references", t("faq.references"))
                with st.expander(f"§{section} · {item['topic']}", expanded=bool(query)):
                    st.markdown(f":red[:material/close: **{t('faq.source_says')}:**] {item['source_says']}")
                    st.markdown(f":green[:material/check: **{t('faq.correct')}:**] {item['correct']}")
                    if item.get("latex"):
                        st.latex(item["latex"])
                    st.caption(f"{t('faq.why')}: {item['why']}")
                    if item.get("fixed_code"):
                        st.markdown(f"**{t('faq.fixed')}**")
                        st.code(item["fixed_code"], language="python")
        if sections["references"]:
            st.header(t("faq.references"))
            for ref in sections["references"]:
                if ref["status"] == "correct":
                    st.markdown(f"[{ref['n']}] {ref['corrected']}  \n:green[✓] {ref['note']}")
                else:
                    st.markdown(f"[{ref['n']}] {ref['corrected']}  \n:orange[**{t('faq.corrected')}**] — "
                                f"{ref['note']}  \n<small>{t('faq.as_cited')}: <s>{ref['as_cited']}</s></small>",
                                unsafe_allow_html=True)


content_section()


# ---------------------------------------------------------------------------------------------- size calculator
st.header(t("faq.calc"))
st.caption(t("faq.calc_caption"))


@st.cache_resource(show_spinner=False, max_entries=2)
def project_models(stamp: tuple) -> list:
    """This project's exported models as presets, their parameter counts read from their ONNX model cards (once per
    manifest version: opening every session on each run was a third of a FAQ run)."""
    try:
        files = read_manifest()["files"]
    except Exception:  # the Models page reports a broken manifest; the calculator works without these presets
        return []
    cards = {}
    for name in sorted(k for k in files if k.endswith(".onnx") and ".int8." not in k):
        try:
            cards[name] = load_model(name, "cpu", threads=1).card  # verified; the session is dropped after this
        except UserError:
            continue
    return sc.project_presets(cards)


@ui.fragment
def calc_section() -> None:
    presets = project_models(ui.stamp("manifest.json")) + list(sc.PRESETS)
    by_name = {p.name: p for p in presets}
    raw = st.text_input(t("faq.params"), "175B", key="params", max_chars=64, bind=ui.BIND,
                        help=t("faq.params_help"))
    with ui.guard():
        n = sc.parse_count(raw)
        cols = st.columns(4)
        for col, dtype in zip(cols, ("fp32", "fp16", "int8")):
            col.metric(dtype, sc.human_bytes(sc.memory_bytes(n, dtype)))
        cols[3].metric(t("faq.training"), sc.human_bytes(sc.training_memory_bytes(n)), help=t("faq.training_help"))
        gpus = sc.devices_needed(sc.memory_bytes(n, "fp16"), 80e9)
        st.markdown(t("faq.fill", count=sc.human_count(n), n=f"{n:,}", gpus=gpus))
    default = [p.name for p in presets if p.kind == "project"][-2:] + ["ResNet-50", "BERT-base", "GPT-2", "GPT-3"]
    chosen = st.multiselect(t("faq.compare"), list(by_name), default=[d for d in default if d in by_name],
                            key="compare")
    rows = sc.table([by_name[c] for c in chosen], ("fp32", "fp16", "int8"))
    if rows:
        ui.chart(ui.fig(memory_bars, rows, fmt=sc.human_bytes, lang=lang), key="memory", filename=t("faq.file_memory"))
    with st.expander(t("faq.all_presets")):
        ui.table([{"model": r["name"], "parameters": sc.human_count(r["params"]), "fp32": sc.human_bytes(r["fp32"]),
                   "fp16": sc.human_bytes(r["fp16"]), "int8": sc.human_bytes(r["int8"]),
                   "train": sc.human_bytes(r["train_adam"]),
                   "source": t("faq.card_of", name=r["name"]) if r["kind"] == "project" else r["source"]}
                  for r in sc.table(presets, ("fp32", "fp16", "int8"))],
                 {k: "r" for k in ("parameters", "fp32", "fp16", "int8", "train")},
                 headers={"model": t("faq.col_model"), "parameters": t("faq.col_params"), "train": t("faq.training"),
                          "source": t("faq.col_source")})
    if sc.OMITTED:
        st.caption(t("faq.omitted", names=", ".join(sc.OMITTED)))


calc_section()
