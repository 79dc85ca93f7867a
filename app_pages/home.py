"""Home: what the lab is, the source text's three concepts, a card per page, and the runtime status."""

import onnxruntime as ort
import streamlit as st

import ui
from core import content
from core.manifest import read_manifest
from core.runtime.session import provider_list
from ui.app import present

ui.header("home")
st.markdown(ui.t("home.lead"))
lang = ui.lang()

with ui.guard():  # helper text lives in core/content; a broken file is reported, the rest of the page renders
    concepts = ui.content_view(content.concepts, lang)
    for col, c in zip(st.columns(len(concepts)), concepts):
        with col.container(border=True):
            st.markdown(f"**{c['title']}**\n\n{c['body']}")

st.subheader(ui.t("home.pages"))
cards = [p for p in present() if p.url]
for row in range(0, len(cards), 3):
    for col, page in zip(st.columns(3), cards[row: row + 3]):
        with col.container(border=True):
            st.page_link(page.file, label=f"**{ui.t(page.key + '.nav')}**", icon=page.icon)
            st.caption(ui.t(f"{page.key}.card"))

with ui.guard(), st.expander(ui.t("home.map")):  # one Markdown block: every element costs the server a message
    st.markdown("\n\n".join(f"**{item['title']}** (§{item['source_section']}) — {item['body']}"
                              for item in ui.content_view(content.project_map, lang)))

st.subheader(ui.t("home.runtime"))
files = {}
with ui.guard():  # a broken manifest is reported; the home page still renders
    files = read_manifest()["files"]
onnx_files = [k for k in files if k.endswith(".onnx")]
providers = ui.learner_providers()
c1, c2, c3 = st.columns(3)
c1.metric("onnxruntime", ort.__version__)
c2.metric(ui.t("home.providers"), ", ".join(ui.short(p) for p in providers), help=ui.t("home.providers_help"))
c3.metric(ui.t("home.n_models"), len(onnx_files))
chosen = ui.provider()
asked, _ = provider_list(chosen)
st.markdown(ui.t("home.provider_line", chosen=ui.PROVIDERS[chosen],
                 asked=" → ".join(f"`{ui.short(p)}`" for p in asked)))
if not onnx_files:
    st.info(ui.t("home.no_models"))
