"""The digit every MNIST demo starts from: an example digit, a drawing on the pad, or an uploaded image."""

from __future__ import annotations

import numpy as np
import streamlit as st

import ui
from core.errors import UserError
from core.runtime.mnist import load_examples
from core.runtime.preprocess import decode_data_url, preprocess
from ui import live

SOURCES = ("example", "draw", "upload")
UPLOAD_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "tif", "tiff", "webp"]


def examples() -> dict | None:
    """exported/examples.npz (500 validation digits and labels), cached; None after an error message."""
    return ui.cached("examples.npz", load_examples)


def digit_input(default_source: str = "example", live_mode: str = "autoencoder") -> tuple[np.ndarray | None, str]:
    """A float32 [28, 28] digit (ink = 1) from the chosen source, and a description; (None, why) if there is none.

    Drawing happens on the live pad (``live_mode``: "autoencoder" reconstructs in the browser as the pen moves,
    "discriminator" shows D's verdict); the drawing reaches Python when the pen is lifted. The description is
    Markdown-safe (an uploaded file's name is escaped)."""
    source = ui.url_choice(st.radio, ui.t("input.source"), SOURCES, key="source", default=default_source,
                           format_func=lambda s: ui.t(f"input.{s}"), horizontal=True)
    if source == "example":
        ex = examples()
        if ex is None:
            return None, ""
        labels = ex["labels"]
        c1, c2 = st.columns(2)
        d = c1.selectbox(ui.t("input.digit"), list(range(10)), index=3, key="digit", bind=ui.BIND)
        idx = np.nonzero(labels == d)[0]
        if idx.size == 0:
            st.warning(ui.t("input.no_example", d=d))
            return None, ""
        ui.keep_in_range("n", 0, len(idx) - 1, 0)  # another digit has fewer examples
        with c2:
            n = ui.int_input(ui.t("input.which", d=d, n=len(idx)), 0, len(idx) - 1, 0, key="n")
        i = int(idx[min(int(n), len(idx) - 1)])
        return ex["images"][i].astype(np.float32) / 255.0, ui.t("input.example_desc", i=i, d=d)
    if source == "draw":
        png = live.live_pad(f"{ui.page_id()}.pad", mode=live_mode).value
        if not png:
            st.info(ui.t("input.draw_prompt"))
            return None, ""
        try:
            return preprocess(decode_data_url(png)), ui.t("input.your_drawing")
        except UserError as exc:
            ui.show_error(exc)
            return None, ""
    up = st.file_uploader(ui.t("input.upload_label"), type=UPLOAD_TYPES, key=f"{ui.page_id()}.upload")
    if up is None:
        st.info(ui.t("input.upload_prompt"))
        return None, ""
    try:
        return preprocess(up.getvalue()), ui.t("input.upload_desc", name=ui.esc(up.name, 80))
    except UserError as exc:
        ui.show_error(exc)
        return None, ""
