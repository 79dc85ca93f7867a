"""The digit every MNIST demo starts from: an example digit, a drawing on the pad, or an uploaded image."""

from __future__ import annotations

import numpy as np
import streamlit as st

import ui
from core.errors import UserError
from core.runtime.mnist import load_examples
from core.runtime.preprocess import decode_data_url, preprocess
from ui.canvas import drawing_pad

SOURCES = ["Example", "Draw", "Upload"]
UPLOAD_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "tif", "tiff", "webp"]


def examples() -> dict | None:
    """exported/examples.npz (500 validation digits and labels), cached; None after an error message."""
    return ui.cached("examples.npz", load_examples)


def digit_input(default_source: str = "Example") -> tuple[np.ndarray | None, str]:
    """A float32 [28, 28] digit (ink = 1) from the chosen source, and a description; (None, why) if there is none."""
    source = st.radio("Input", SOURCES, key=ui.param("source", default_source, str, choices=SOURCES),
                      horizontal=True)
    if source == "Example":
        ex = examples()
        if ex is None:
            return None, "no examples"
        labels = ex["labels"]
        dkey = ui.param("digit", 3, int, choices=list(range(10)))
        c1, c2 = st.columns(2)
        d = c1.selectbox("Digit", list(range(10)), key=dkey)
        idx = np.nonzero(labels == d)[0]
        if idx.size == 0:
            st.warning(f"No example of digit {d} in examples.npz.")
            return None, "no example"
        nkey = ui.param("n", 0, int, lo=0, hi=len(idx) - 1)
        if not 0 <= st.session_state[nkey] < len(idx):  # another digit has fewer examples
            ui.put("n", 0)
        n = c2.number_input(f"Which {d} (of {len(idx)})", min_value=0, max_value=len(idx) - 1, step=1, key=nkey)
        i = int(idx[min(int(n), len(idx) - 1)])
        return ex["images"][i].astype(np.float32) / 255.0, f"validation example #{i} (label {d})"
    if source == "Draw":
        png = drawing_pad(key=f"{st.session_state.get('_ui_page', 'page')}.pad")
        if not png:
            st.info("Draw a digit on the pad; the models run when you lift the pen.")
            return None, "nothing drawn"
        try:
            return preprocess(decode_data_url(png)), "your drawing"
        except UserError as exc:
            st.error(str(exc))
            return None, "unreadable drawing"
    up = st.file_uploader("An image of one digit (any common format)", type=UPLOAD_TYPES,
                          key=f"{st.session_state.get('_ui_page', 'page')}.upload")
    if up is None:
        st.info("Upload a photo or scan of one digit: dark ink on light paper or light on dark both work.")
        return None, "nothing uploaded"
    try:
        return preprocess(up.getvalue()), f"upload `{up.name}`"
    except UserError as exc:
        st.error(str(exc))
        return None, "unreadable upload"
