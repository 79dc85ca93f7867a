"""Autoencoder: a digit in, its reconstruction out — the text's MLP, a conv model and PCA side by side; the 2-D
latent map; interpolation through the 32-D code."""

import numpy as np
import streamlit as st

import ui
from core.figures import digit, digit_grid, latent_scatter, reconstruction_panel
from core.runtime import mnist
from core.runtime.mnist import load_pca
from ui import live
from ui.inputs import digit_input, examples

ui.header("autoencoder")
t, lang = ui.t, ui.lang()


@st.cache_resource(show_spinner=False, max_entries=4)
def example_codes(stamp: tuple, _enc, _images: np.ndarray) -> np.ndarray:
    """The 2-D codes of the 500 example digits (computed once per model file and provider)."""
    return mnist.encode(_enc, mnist.to_model_input(_images))


# -------------------------------------------------------------------------------------------------- reconstruction
st.header(t("autoencoder.recon"))
left, right = st.columns([1, 3], gap="large")
with left:
    x, what = digit_input()
with right:
    if x is not None:
        batch = mnist.to_model_input(x)
        pairs = {label: ui.models(f"{stem}.encoder.onnx", f"{stem}.decoder.onnx")  # an error message if missing
                 for label, stem in (("MLP", "autoencoder"), (t("autoencoder.conv"), "conv_autoencoder"))}
        pairs = {label: pair for label, pair in pairs.items() if pair is not None}
        used = [m for pair in pairs.values() for m in pair]
        recons, mse, z_dims = {}, {}, []
        with ui.Timer() as timer:
            for label, pair in pairs.items():
                z, r = mnist.reconstruct(*pair, batch)
                recons[f"{label} · z={z.shape[1]}"] = r[0, 0]
                z_dims.append(z.shape[1])
        pca = ui.cached("pca.npz", load_pca)
        if pca is not None:  # PCA with as many components as the text's model has code numbers
            k = z_dims[0] if z_dims else int(np.asarray(pca["components"]).shape[0])
            recons[f"PCA · k={k}"] = mnist.pca_reconstruct(pca, batch, k)[0, 0]
        for name, r in recons.items():
            mse[name] = float(mnist.mse_per_image(batch, r[None, None])[0])
        if recons:
            st.markdown(t("autoencoder.input_is", what=what))
            ui.chart(ui.fig(reconstruction_panel, x, recons, mse, lang=lang), key="recon",
                     filename=t("autoencoder.file_recon"))
            if used:
                ui.timing(t("autoencoder.timing_recon"), timer.ms, used)
            best = min(mse, key=mse.get)
            st.caption(t("autoencoder.lowest", best=best, mse=f"{mse[best]:.4f}"))


# ------------------------------------------------------------------------------------------------------ latent map


@ui.fragment
def latent_section(x: np.ndarray | None) -> None:
    """The 2-D map; ``x`` (the digit above, marked on the map) comes from the page's last full run."""
    st.header(t("autoencoder.latent"))
    m2 = ui.models("autoencoder_2d.encoder.onnx", "autoencoder_2d.decoder.onnx")
    ex = examples()
    if m2 is not None:
        text_model = [ui.model(f"autoencoder.{part}.onnx", quiet=True) for part in ("encoder", "decoder")]
        st.caption(t("autoencoder.latent_caption", params=f"{sum(m.card.get('parameters', 0) for m in m2):,}",
                     text_params=f"{sum(m.card.get('parameters', 0) for m in text_model if m):,}"))
    if m2 is not None and ex is not None:
        enc2, dec2 = m2
        codes = example_codes(ui.stamp("autoencoder_2d.encoder.onnx") + (ui.provider(),), enc2, ex["images"])
        lo, hi = np.floor(codes.min(0) - 0.5), np.ceil(codes.max(0) + 0.5)
        med = np.round(np.median(codes, axis=0), 2)

        def put_z(z) -> None:
            if z is not None:
                st.session_state["z1"] = float(np.clip(round(float(z[0]), 2), lo[0], hi[0]))
                st.session_state["z2"] = float(np.clip(round(float(z[1]), 2), lo[1], hi[1]))

        def on_pick() -> None:
            pts = st.session_state["latent_map"].selection.get("points", [])
            if pts and "x" in pts[0]:
                put_z((pts[0]["x"], pts[0]["y"]))

        c1, c2 = st.columns([3, 1], gap="large")
        with c2:
            ui.keep_in_range("z1", float(lo[0]), float(hi[0]), float(med[0]))
            ui.keep_in_range("z2", float(lo[1]), float(hi[1]), float(med[1]))
            z1 = st.slider("z₁", float(lo[0]), float(hi[0]), float(med[0]), step=0.01, key="z1", bind=ui.BIND)
            z2 = st.slider("z₂", float(lo[1]), float(hi[1]), float(med[1]), step=0.01, key="z2", bind=ui.BIND)
            with ui.Timer() as timer:
                img = mnist.decode(dec2, np.array([[z1, z2]], np.float32))[0, 0]
            st.plotly_chart(ui.fig(digit, img, t("autoencoder.decoded_at", z1=f"{z1:.2f}", z2=f"{z2:.2f}"), lang=lang),
                            key="decoded", config=ui.PLOT_CONFIG)
            ui.timing(t("autoencoder.timing_decoder"), timer.ms, dec2)
            ui.csv_button(t("autoencoder.csv_codes"), np.column_stack([codes, ex["labels"]]),
                          t("autoencoder.file_codes") + ".csv", key="csv_latent",
                          col_labels=["z1", "z2", t("autoencoder.col_label")])
        with c1:
            mine = tuple(mnist.encode(enc2, mnist.to_model_input(x))[0]) if x is not None else None
            live_col, chart_col = st.columns([2, 3])
            with live_col:  # hover decodes the point under the pointer in the browser; a click commits it
                live.latent_map("latent_live", codes, ex["labels"], (z1, z2), tuple(lo), tuple(hi), mark=mine,
                                on_commit=put_z)
            with chart_col:
                fig = ui.fig(latent_scatter, codes, ex["labels"], selected=(z1, z2), mark=mine,
                             mark_name=t("autoencoder.input_digit"), lang=lang)
                ui.chart(fig, key="latent_map", filename=t("autoencoder.file_map"), on_select=on_pick,
                         selection_mode="points")


latent_section(x)


# --------------------------------------------------------------------------------------------------- interpolation


@ui.fragment
def interp_section() -> None:
    st.header(t("autoencoder.interp"))
    pair32 = ui.models("autoencoder.encoder.onnx", "autoencoder.decoder.onnx")
    ex = examples()
    if pair32 is not None and ex is not None:
        n_ex = len(ex["labels"])
        c1, c2, c3 = st.columns(3)
        with c1:
            a = ui.int_input(t("autoencoder.from"), 0, n_ex - 1, 0, key="a")
        with c2:
            b = ui.int_input(t("autoencoder.to"), 0, n_ex - 1, 1, key="b")
        steps = c3.slider(t("autoencoder.steps"), 3, 16, 10, key="steps", bind=ui.BIND)
        enc, dec = pair32
        with ui.Timer() as timer:
            za = mnist.encode(enc, mnist.to_model_input(ex["images"][[a, b]]))
            path = mnist.interpolate(za[0], za[1], int(steps))
            imgs = mnist.decode(dec, path)
        captions = [f"t={i / (steps - 1):.2f}" for i in range(int(steps))]
        title = t("autoencoder.interp_title", a=a, la=int(ex["labels"][a]), b=b, lb=int(ex["labels"][b]))
        ui.chart(ui.fig(digit_grid, imgs[:, 0], captions, ncols=int(steps), tile_px=64, title=title),
                 key="interp", filename=t("autoencoder.file_interp"))
        ui.timing(t("autoencoder.timing_interp"), timer.ms, pair32)
        ui.csv_button(t("autoencoder.csv_path"), path, t("autoencoder.file_path") + ".csv", key="csv_interp",
                      row_labels=captions, col_labels=[f"z{i + 1}" for i in range(path.shape[1])], corner="t")


interp_section()
