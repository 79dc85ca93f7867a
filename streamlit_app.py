"""Home: what the lab is, the source text's three concepts, a card per page, and the runtime status."""

from pathlib import Path

import onnxruntime as ort
import streamlit as st

import ui
from core import content
from core.manifest import read_manifest
from core.runtime.session import available_providers, provider_list

ui.setup("home", "Big-Model Lab", ":material/science:",
         "Small models trained for real on two CPU cores, exported to ONNX, and run here by onnxruntime alone.")

st.markdown(
    "A Chinese tutorial on *large models* explains neural networks, deep learning, autoencoders, GANs, attention "
    "and the Transformer with short code snippets. This lab trains each of those models for real — on MNIST digits "
    "and on a date-normalisation task — and lets you watch them work: draw a digit, change a seed, type a date."
)

LANGS = {"en": "English", "zh": "中文"}
lang = st.radio("Language of the concepts", list(LANGS), format_func=LANGS.get, horizontal=True,
                key=ui.param("lang", "en", str, choices=list(LANGS), scope="global"))
with ui.guard():  # helper text lives in core/content; a broken file is reported, the rest of the page renders
    concepts = content.concepts(lang)
    for col, c in zip(st.columns(len(concepts)), concepts):
        with col.container(border=True):
            st.markdown(f"**{c['title']}**")
            st.write(c["body"])

st.subheader("Pages")
PAGES = [  # (file, label, icon, what it shows)
    ("pages/1_Autoencoder.py", "Autoencoder", ":material/cycle:",
     "Draw or upload a digit; compare the text's MLP, a conv model and PCA; walk the 2-D latent map; interpolate "
     "through the 32-D code."),
    ("pages/2_GAN.py", "GAN", ":material/casino:",
     "Samples from a seed with the classifier's label and the discriminator's score; the training timeline; a "
     "mode-collapse check; D's verdict on your drawing."),
    ("pages/3_Attention.py", "Attention", ":material/center_focus_strong:",
     "A GRU encoder–decoder with additive attention normalises dates; see which input characters each output "
     "character looks at."),
    ("pages/4_Transformer.py", "Transformer", ":material/hub:",
     "The same task through an encoder–decoder Transformer: self- and cross-attention per layer and head, and a "
     "token-by-token step-through."),
    ("pages/5_Models.py", "Models", ":material/deployed_code:",
     "Every exported ONNX file: parameters, operators, metrics, sha256; parity and latency on demand; downloads and "
     "snippets for Python, JavaScript and C#."),
    ("pages/6_FAQ.py", "FAQ", ":material/quiz:",
     "The text's questions, trends, challenges and references in English and Chinese, corrected where it is wrong; "
     "a 'how big is big' memory calculator."),
]
PAGES = [p for p in PAGES if (Path(__file__).parent / p[0]).is_file()]
for row in range(0, len(PAGES), 3):
    for col, (path, label, icon, text) in zip(st.columns(3), PAGES[row: row + 3]):
        with col.container(border=True):
            st.page_link(path, label=f"**{label}**", icon=icon)
            st.caption(text)

with ui.guard(), st.expander("Which part of the tutorial each page shows"):
    for item in content.project_map(lang):
        st.markdown(f"**{item['title']}** (§{item['source_section']}) — {item['body']}")

st.subheader("Runtime")
try:
    files = read_manifest().get("files", {})
except Exception as exc:  # a corrupt manifest is reported, the home page still renders
    st.error(str(exc))
    files = {}
onnx_files = [k for k in files if k.endswith(".onnx")]
c1, c2, c3 = st.columns(3)
c1.metric("onnxruntime", ort.__version__)
c2.metric("Providers available", len(available_providers()), help=", ".join(available_providers()))
c3.metric("Exported ONNX models", len(onnx_files))
chosen = ui.provider()
asked, note = provider_list(chosen)
st.markdown(
    f"Available execution providers: {', '.join(f'`{p}`' for p in available_providers())}. "
    f"The sidebar asks for **{chosen.upper() if chosen != 'auto' else 'Auto'}**, so sessions are opened with "
    f"{' → '.join(f'`{p}`' for p in asked)}; each page lists the providers its sessions really use "
    "(`session.get_providers()`)."
)
if not onnx_files:
    st.info("No exported models yet. Build them with `python -m core.train all` (then reload this page).")
