"""GAN: samples from a seed, judged by the classifier and the discriminator; interpolation between seeds; the training
timeline; a mode-collapse check; the discriminator's verdict on your own drawing."""

import time

import numpy as np
import streamlit as st

import ui
from core.figures import class_histogram, digit_grid, loss_curves
from core.runtime import mnist
from ui import live
from ui.inputs import digit_input

ui.header("gan")
t, lang = ui.t, ui.lang()
G, D, C = "gan.generator.onnx", "gan.discriminator.onnx", "classifier.onnx"
SEED_MAX = 2**31 - 1


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def judge(images: np.ndarray, d, c) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(classifier label, its softmax confidence, D's probability of 'real') for float images [B, 1, 28, 28]."""
    logits, _ = mnist.classify(c, images)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    return p.argmax(1), p.max(1), sigmoid(mnist.run_batched(d, "image", images)["logit"][:, 0])


@st.cache_resource(show_spinner=False, max_entries=8)
def histogram_of(seed: int, n: int, stamp: tuple, _g, _c) -> tuple[np.ndarray, float]:
    """Counts of the classifier's labels over n generated samples (the mode-collapse check), and the time taken."""
    t0 = time.perf_counter()
    # batches of 100: onnxruntime's arena keeps its peak, and 1,000 images at once would hold ~150 MB for good
    imgs = mnist.run_batched(_g, "z", mnist.gan_noise(seed, n), batch=100)["image"]
    labels = mnist.classify(_c, imgs, batch=100)[0].argmax(1)
    return np.rint(mnist.class_histogram(labels) * n).astype(int), (time.perf_counter() - t0) * 1000.0


@st.cache_resource(show_spinner=False, max_entries=32)
def generate(what: tuple, stamp: tuple, _z: np.ndarray, _g, _d, _c) -> dict:
    """G's images for the noise ``_z``, judged by the classifier and D, and the time that took; cached on ``what``
    made it (("seed", seed, n) or ("path", a, b, steps)), not on the 100-D vectors themselves. Read-only."""
    z = _z
    t0 = time.perf_counter()
    imgs = mnist.run_batched(_g, "z", z)["image"]
    labels, conf, score = judge(imgs, _d, _c)
    return {"images": imgs, "labels": labels, "conf": conf, "score": score,
            "ms": (time.perf_counter() - t0) * 1000.0}


gdc = ui.models(G, D, C)
stamp = ui.stamp(G) + ui.stamp(D) + ui.stamp(C) + (ui.provider(),)

# ------------------------------------------------------------------------------------------------------- samples
st.header(t("gan.samples"))
c1, c2, _ = st.columns([1, 1, 2])
with c1:
    seed = ui.int_input(t("gan.seed"), 0, SEED_MAX, 0, key="seed")
grid = c2.slider(t("gan.grid"), 2, 8, 4, key="grid", bind=ui.BIND)
if gdc is not None:
    g, d, c = gdc
    n = int(grid) ** 2
    z = mnist.gan_noise(int(seed), n)
    res = generate(("seed", int(seed), n), stamp, z, g, d, c)
    imgs, labels, conf, score = res["images"], res["labels"], res["conf"], res["score"]
    ui.chart(ui.fig(digit_grid, imgs[:, 0], [f"{l} · D {s:.2f}" for l, s in zip(labels, score)], ncols=int(grid),
                    tile_px=70), key="samples", filename=t("gan.file_samples", seed=seed))
    ui.timing(t("gan.timing_samples", n=n), res["ms"], [g, d, c], cached=True)
    st.caption(t("gan.samples_caption", d=f"{score.mean():.2f}", conf=f"{conf.mean():.0%}"))
    ui.csv_button(t("gan.csv_z"), z, t("gan.file_z", seed=seed) + ".csv", key="csv_z",
                  col_labels=[f"z{i + 1}" for i in range(z.shape[1])])

# -------------------------------------------------------------------------------------------------- interpolation
st.header(t("gan.between"))
c1, c2, c3 = st.columns(3)
with c1:
    sa = ui.int_input(t("gan.from_seed"), 0, SEED_MAX, 1, key="seed_a")
with c2:
    sb = ui.int_input(t("gan.to_seed"), 0, SEED_MAX, 2, key="seed_b")
steps = c3.slider(t("gan.steps"), 3, 16, 10, key="steps", bind=ui.BIND)
if gdc is not None:
    # dragging along the path (or a random walk in z) regenerates in the browser; the grid below is the server's
    live.gan_live("gan_live", mnist.gan_noise(int(sa), 1)[0], mnist.gan_noise(int(sb), 1)[0], walk_seed=int(sa))
    g, d, c = gdc
    path = mnist.interpolate(mnist.gan_noise(int(sa), 1)[0], mnist.gan_noise(int(sb), 1)[0], int(steps))
    res = generate(("path", int(sa), int(sb), int(steps)), stamp, path, g, d, c)
    ui.chart(ui.fig(digit_grid, res["images"][:, 0], [f"{l} · D {s:.2f}" for l, s in zip(res["labels"], res["score"])],
                    ncols=int(steps), tile_px=64), key="gan_interp", filename=t("gan.file_interp", a=sa, b=sb))
    ui.timing(t("gan.timing_path"), res["ms"], [g, d, c], cached=True)

# ------------------------------------------------------------------------------------------------------- timeline
st.header(t("gan.timeline"))
timeline = ui.cached("gan_timeline.npz", mnist.load_timeline)
history = ui.cached("history/gan.json", lambda: mnist.load_history("gan"))
if timeline is not None:
    epochs = [int(e) for e in timeline["epochs"]]
    epoch = st.select_slider(t("gan.epoch"), options=epochs, value=epochs[-1], key="epoch", bind=ui.BIND)
    i = epochs.index(int(epoch))
    c1, c2 = st.columns([1, 1], gap="large")
    with c1:
        ui.chart(ui.fig(digit_grid, timeline["images"][i], ncols=8, tile_px=40,
                        title=t("gan.timeline_title", epoch=epoch)),
                 key="timeline", filename=t("gan.file_epoch", epoch=epoch))
    with c2:
        if history is not None:
            rows = history.get("epochs", [])
            names = {k: t(f"gan.series_{k}") for k in ("loss_d", "loss_g", "d_real", "d_fake")}
            keys = [k for k in ("loss_d", "loss_g") if any(k in r for r in rows)]
            ui.chart(ui.fig(loss_curves, rows, keys or None, title=t("gan.losses_title"), marker_epoch=epoch,
                            height=280, names=names, lang=lang), key="gan_losses", filename=t("gan.file_losses"))
            if any("d_real" in r for r in rows):
                ui.chart(ui.fig(loss_curves, rows, ["d_real", "d_fake"], title=t("gan.d_title"), marker_epoch=epoch,
                                y_title="D(x)", height=260, names=names, lang=lang),
                         key="gan_d", filename=t("gan.file_d"))

# ------------------------------------------------------------------------------------------------- mode collapse
st.header(t("gan.collapse"))
st.caption(t("gan.collapse_caption"))
st.caption(t("gan.coach_caption"))
if gdc is not None:
    g, d, c = gdc
    with st.columns([1, 3])[0]:
        hseed = ui.int_input(t("gan.hseed"), 0, SEED_MAX, 0, key="hseed")
    counts, ms = histogram_of(int(hseed), 1000, stamp, g, c)
    c1, c2 = st.columns([2, 1])
    with c1:
        ui.chart(ui.fig(class_histogram, counts, title=t("gan.hist_title", seed=hseed), lang=lang),
                 key="hist", filename=t("gan.file_hist", seed=hseed))
    with c2:
        frac = counts / counts.sum()
        entropy = float(-(frac[frac > 0] * np.log2(frac[frac > 0])).sum())
        st.metric(t("gan.entropy"), t("gan.bits", v=f"{entropy:.2f}"), help=t("gan.entropy_help"))
        st.metric(t("gan.rarest"), t("gan.rarest_value", d=int(counts.argmin()), n=int(counts.min())))
        ui.timing(t("gan.timing_hist"), ms, [g, c], cached=True)

# ------------------------------------------------------------------------------------------------ your drawing
st.header(t("gan.yours"))
c1, c2 = st.columns([1, 2], gap="large")
with c1:
    x, what = digit_input(default_source="draw", live_mode="discriminator")
with c2:
    if x is not None and gdc is not None:
        g, d, c = gdc
        with ui.Timer() as timer:
            labels, conf, score = judge(mnist.to_model_input(x), d, c)
        st.plotly_chart(ui.fig(digit_grid, x[None], ncols=1, tile_px=160), key="yours", config=ui.PLOT_CONFIG)
        st.caption(what)
        st.metric(t("gan.d_real"), f"{score[0]:.2f}")
        st.metric(t("gan.classifier"), f"{labels[0]} ({conf[0]:.0%})")
        ui.timing(t("gan.timing_yours"), timer.ms, [d, c])
