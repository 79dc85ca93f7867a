"""Home: what the lab is, the source text's three concepts, a card per page, and the runtime status."""

from pathlib import Path

import onnxruntime as ort
import streamlit as st

import ui
from core.manifest import read_manifest
from core.runtime.session import available_providers

ui.setup("home", "Big-Model Lab", "🧪",
         "Small models trained for real on two CPU cores, exported to ONNX, and run here by onnxruntime alone.")

st.markdown(
    "A Chinese tutorial on *large models* explains neural networks, deep learning, autoencoders, GANs, attention and "
    "the Transformer with short code snippets. This lab trains each of those models for real — on MNIST digits and on "
    "a date-normalisation task — and lets you watch them work: draw a digit, change a seed, type a date."
)

CONCEPTS = {
    "Neural networks": "Layers of simple units: each multiplies its inputs by learned weights, adds a bias and "
    "applies a non-linearity. Training nudges the weights to lower a loss — the error on examples.",
    "Deep learning": "Many such layers stacked, so each builds features out of the previous one's (strokes → "
    "loops → digits). The features are learned from data rather than designed by hand.",
    "Large models": "The same recipe at huge scale: hundreds of millions to hundreds of billions of parameters "
    "(BERT, GPT, ResNet…), trained on vast data. Their memory alone is a challenge — see the calculator on the FAQ page.",
}
try:
    from core.content import concepts as _concepts  # helper D's bilingual text, when present

    CONCEPTS = {c["title"]["en"] if isinstance(c.get("title"), dict) else c["title"]:
                c["body"]["en"] if isinstance(c.get("body"), dict) else c["body"] for c in _concepts()[:3]} or CONCEPTS
except Exception:  # the home page must render even without the content package
    pass

cols = st.columns(len(CONCEPTS))
for col, (title, text) in zip(cols, CONCEPTS.items()):
    with col.container(border=True):
        st.markdown(f"**{title}**")
        st.write(text)

st.subheader("Pages")
PAGES = [
    ("pages/1_Autoencoder.py", "Autoencoder", "🔁", "Draw or upload a digit; compare the text's MLP, a conv model and "
     "PCA; walk the 2-D latent map; interpolate through the 32-D code."),
    ("pages/2_GAN.py", "GAN", "🎲", "Samples from a seed with the classifier's label and the discriminator's score; "
     "the training timeline; a mode-collapse check; D's verdict on your drawing."),
    ("pages/3_Attention.py", "Attention", "🎯", "A GRU encoder–decoder with additive attention normalises dates; "
     "see which input characters each output character looks at."),
    ("pages/4_Transformer.py", "Transformer", "🧠", "The same task through an encoder–decoder Transformer: self- and "
     "cross-attention per layer and head, and a token-by-token step-through."),
    ("pages/5_Models.py", "Models", "📦", "Every exported ONNX file: parameters, operators, metrics, sha256; parity "
     "and latency on demand; downloads and snippets for Python, JavaScript and C#."),
    ("pages/6_FAQ.py", "FAQ", "❓", "The text's questions, trends, challenges and references in English and Chinese, "
     "corrected where it is wrong; a 'how big is big' memory calculator."),
]
PAGES = [p for p in PAGES if (Path(__file__).parent / p[0]).is_file()]
for row in range(0, len(PAGES), 3):
    for col, (path, label, icon, text) in zip(st.columns(3), PAGES[row: row + 3]):
        with col.container(border=True):
            st.page_link(path, label=f"**{label}**", icon=icon)
            st.caption(text)

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
st.markdown(
    f"Available execution providers: {', '.join(f'`{p}`' for p in available_providers())}. "
    f"The sidebar asks for **{chosen.upper() if chosen != 'auto' else 'Auto'}**; each page lists the providers its "
    "sessions really use (`session.get_providers()`)."
)
if not onnx_files:
    st.info("No exported models yet. Build them with `python -m core.train all` (then reload this page).")
