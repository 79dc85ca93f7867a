"""Autoencoder: a digit in, its reconstruction out — the text's MLP, a conv model and PCA side by side; the 2-D
latent map; interpolation through the 32-D code."""

import numpy as np
import streamlit as st

import ui
from core.figures import digit, digit_grid, latent_scatter, reconstruction_panel
from core.runtime import mnist
from core.runtime.mnist import load_pca
from ui.inputs import digit_input, examples

ui.setup("autoencoder", "Autoencoder", ":material/cycle:",
         "An autoencoder squeezes a 784-pixel digit through a small code z and rebuilds it; what survives the "
         "squeeze is what the code has learned.")


@st.cache_data(show_spinner=False, max_entries=8)
def example_codes(stamp: tuple, _enc, _images: np.ndarray) -> np.ndarray:
    """The 2-D codes of the 500 example digits (computed once per model file and provider)."""
    return mnist.encode(_enc, mnist.to_model_input(_images))


# -------------------------------------------------------------------------------------------------- reconstruction
st.header("Reconstruction")
left, right = st.columns([1, 3], gap="large")
with left:
    x, what = digit_input()
with right:
    if x is not None:
        batch = mnist.to_model_input(x)
        pairs = {label: ui.models(f"{stem}.encoder.onnx", f"{stem}.decoder.onnx")  # an error message if missing
                 for label, stem in (("MLP", "autoencoder"), ("conv", "conv_autoencoder"))}
        pairs = {label: pair for label, pair in pairs.items() if pair is not None}
        used = [m for pair in pairs.values() for m in pair]
        recons, mse, z_dims = {}, {}, []
        with ui.Timer() as t:
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
            st.markdown(f"Input: {what}")
            ui.chart(ui.fig(reconstruction_panel, x, recons, mse), key="recon", filename="reconstruction")
            if used:
                ui.timing("autoencoders (encode + decode)", t.ms, used)
            best = min(mse, key=mse.get)
            st.caption(f"Lowest error: **{best}** (MSE {mse[best]:.4f}). Error maps show |reconstruction − input|.")

# ------------------------------------------------------------------------------------------------------ latent map
st.header("The 2-D latent map")
st.caption("A second copy of the text's model with a 2-number code. Each dot is one example digit's code, coloured "
           "by its label. Click a dot, or move the sliders, to decode any point.")
m2 = ui.models("autoencoder_2d.encoder.onnx", "autoencoder_2d.decoder.onnx")
ex = examples()
if m2 is not None and ex is not None:
    enc2, dec2 = m2
    codes = example_codes(ui._stamp("autoencoder_2d.encoder.onnx") + (ui.provider(),), enc2, ex["images"])
    lo, hi = np.floor(codes.min(0) - 0.5), np.ceil(codes.max(0) + 0.5)
    k1 = ui.param("z1", round(float(np.median(codes[:, 0])), 2), float, lo=float(lo[0]), hi=float(hi[0]))
    k2 = ui.param("z2", round(float(np.median(codes[:, 1])), 2), float, lo=float(lo[1]), hi=float(hi[1]))

    def on_pick() -> None:
        pts = st.session_state["latent_map"].selection.get("points", [])
        if pts and "x" in pts[0]:
            ui.put("z1", round(float(pts[0]["x"]), 2), in_callback=True)
            ui.put("z2", round(float(pts[0]["y"]), 2), in_callback=True)

    c1, c2 = st.columns([3, 1], gap="large")
    with c2:
        z1 = st.slider("z₁", float(lo[0]), float(hi[0]), step=0.01, key=k1)
        z2 = st.slider("z₂", float(lo[1]), float(hi[1]), step=0.01, key=k2)
        with ui.Timer() as t:
            img = mnist.decode(dec2, np.array([[z1, z2]], np.float32))[0, 0]
        st.plotly_chart(ui.fig(digit, img, f"decoded z = ({z1:.2f}, {z2:.2f})"), key="decoded", config=ui.PLOT_CONFIG)
        ui.timing("decoder", t.ms, dec2)
        ui.csv_button("Latent codes (CSV)", np.column_stack([codes, ex["labels"]]), "latent_2d_codes.csv",
                      key="csv_latent", col_labels=["z1", "z2", "label"])
    with c1:
        mine = tuple(mnist.encode(enc2, mnist.to_model_input(x))[0]) if x is not None else None
        fig = ui.fig(latent_scatter, codes, ex["labels"], selected=(z1, z2), mark=mine, mark_name="input digit")
        ui.chart(fig, key="latent_map", filename="latent_map", on_select=on_pick, selection_mode="points")

# --------------------------------------------------------------------------------------------------- interpolation
st.header("Interpolation through the 32-D code")
pair32 = ui.models("autoencoder.encoder.onnx", "autoencoder.decoder.onnx")
if pair32 is not None and ex is not None:
    n_ex = len(ex["labels"])
    c1, c2, c3 = st.columns(3)
    a = c1.number_input("From example #", 0, n_ex - 1, step=1, key=ui.param("a", 0, int, lo=0, hi=n_ex - 1))
    b = c2.number_input("To example #", 0, n_ex - 1, step=1, key=ui.param("b", 1, int, lo=0, hi=n_ex - 1))
    steps = c3.slider("Steps", 3, 16, key=ui.param("steps", 10, int, lo=3, hi=16))
    enc, dec = pair32
    with ui.Timer() as t:
        za = mnist.encode(enc, mnist.to_model_input(ex["images"][[a, b]]))
        path = mnist.interpolate(za[0], za[1], int(steps))
        imgs = mnist.decode(dec, path)
    captions = [f"t={i / (steps - 1):.2f}" for i in range(int(steps))]
    ui.chart(ui.fig(digit_grid, imgs[:, 0], captions, ncols=int(steps), tile_px=64,
                        title=f"#{a} (label {ex['labels'][a]}) → #{b} (label {ex['labels'][b]})"),
             key="interp", filename="interpolation")
    ui.timing("encode 2 + decode path", t.ms, pair32)
    ui.csv_button("Path codes (CSV)", path, "interpolation_codes.csv", key="csv_interp",
                  row_labels=captions, col_labels=[f"z{i + 1}" for i in range(path.shape[1])], corner="t")
