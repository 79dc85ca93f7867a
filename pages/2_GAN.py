"""GAN: samples from a seed, judged by the classifier and the discriminator; interpolation between seeds; the training
timeline; a mode-collapse check; the discriminator's verdict on your own drawing."""

import time

import numpy as np
import streamlit as st

import ui
from core.figures import class_histogram, digit_grid, loss_curves
from core.runtime import mnist
from ui.inputs import digit_input

ui.setup("gan", "GAN", ":material/casino:",
         "A generator G turns 100 random numbers into a digit; a discriminator D learns to tell G's digits from real "
         "ones, and G learns to fool it. The classifier (trained separately on real digits) labels what G makes.")

G, D, C = "gan.generator.onnx", "gan.discriminator.onnx", "classifier.onnx"


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def judge(images: np.ndarray, d, c) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(classifier label, its softmax confidence, D's probability of 'real') for float images [B, 1, 28, 28]."""
    logits, _ = mnist.classify(c, images)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    return p.argmax(1), p.max(1), sigmoid(mnist.run_batched(d, "image", images)["logit"][:, 0])


@st.cache_data(show_spinner=False, max_entries=16)
def histogram_of(seed: int, n: int, stamp: tuple, _g, _c) -> tuple[np.ndarray, float]:
    """Counts of the classifier's labels over n generated samples (the mode-collapse check), and the time taken."""
    t0 = time.perf_counter()
    # batches of 100: onnxruntime's arena keeps its peak, and 1,000 images at once would hold ~150 MB for good
    imgs = mnist.run_batched(_g, "z", mnist.gan_noise(seed, n), batch=100)["image"]
    labels = mnist.classify(_c, imgs, batch=100)[0].argmax(1)
    return np.rint(mnist.class_histogram(labels) * n).astype(int), (time.perf_counter() - t0) * 1000.0


@st.cache_data(show_spinner=False, max_entries=32)
def generate(z: np.ndarray, stamp: tuple, _g, _d, _c) -> dict:
    """G's images for the noise z, judged by the classifier and D, and the time that took (cached per z)."""
    t0 = time.perf_counter()
    imgs = mnist.run_batched(_g, "z", z)["image"]
    labels, conf, score = judge(imgs, _d, _c)
    return {"images": imgs, "labels": labels, "conf": conf, "score": score,
            "ms": (time.perf_counter() - t0) * 1000.0}


gdc = ui.models(G, D, C)
stamp = ui._stamp(G) + ui._stamp(D) + ui._stamp(C) + (ui.provider(),)

# ------------------------------------------------------------------------------------------------------- samples
st.header("Samples")
c1, c2, _ = st.columns([1, 1, 2])
seed = c1.number_input("Seed", 0, 2**31 - 1, step=1, key=ui.param("seed", 0, int, lo=0, hi=2**31 - 1))
grid = c2.slider("Grid size", 2, 8, key=ui.param("grid", 4, int, lo=2, hi=8))
if gdc is not None:
    g, d, c = gdc
    n = int(grid) ** 2
    z = mnist.gan_noise(int(seed), n)
    res = generate(z, stamp, g, d, c)
    imgs, labels, conf, score = res["images"], res["labels"], res["conf"], res["score"]
    ui.chart(ui.fig(digit_grid, imgs[:, 0], [f"{l} · D {s:.2f}" for l, s in zip(labels, score)], ncols=int(grid),
                    tile_px=70), key="samples", filename=f"gan_seed{seed}")
    ui.timing(f"generator + D + classifier, {n} samples", res["ms"], [g, d, c], cached=True)
    st.caption("Under each sample: the classifier's label · D's probability that it is real. "
               f"Mean D score {score.mean():.2f}; classifier confidence {conf.mean():.0%} on average.")
    ui.csv_button("Noise vectors z (CSV)", z, f"gan_seed{seed}_z.csv", key="csv_z",
                  col_labels=[f"z{i + 1}" for i in range(z.shape[1])])

# -------------------------------------------------------------------------------------------------- interpolation
st.header("Between two seeds")
c1, c2, c3 = st.columns(3)
sa = c1.number_input("From seed", 0, 2**31 - 1, step=1, key=ui.param("seed_a", 1, int, lo=0, hi=2**31 - 1))
sb = c2.number_input("To seed", 0, 2**31 - 1, step=1, key=ui.param("seed_b", 2, int, lo=0, hi=2**31 - 1))
steps = c3.slider("Steps", 3, 16, key=ui.param("steps", 10, int, lo=3, hi=16))
if gdc is not None:
    g, d, c = gdc
    path = mnist.interpolate(mnist.gan_noise(int(sa), 1)[0], mnist.gan_noise(int(sb), 1)[0], int(steps))
    res = generate(path, stamp, g, d, c)
    ui.chart(ui.fig(digit_grid, res["images"][:, 0], [f"{l} · D {s:.2f}" for l, s in zip(res["labels"], res["score"])],
                    ncols=int(steps), tile_px=64), key="gan_interp", filename=f"gan_{sa}_to_{sb}")
    ui.timing("generator + D + classifier along the path", res["ms"], [g, d, c], cached=True)

# ------------------------------------------------------------------------------------------------------- timeline
st.header("Training timeline")
timeline = ui.cached("gan_timeline.npz", mnist.load_timeline)
history = ui.cached("history/gan.json", lambda: mnist.load_history("gan"))
if timeline is not None:
    epochs = [int(e) for e in timeline["epochs"]]
    ekey = ui.param("epoch", epochs[-1], int, choices=epochs)
    epoch = st.select_slider("Epoch", options=epochs, key=ekey)
    i = epochs.index(int(epoch))
    c1, c2 = st.columns([1, 1], gap="large")
    with c1:
        ui.chart(ui.fig(digit_grid, timeline["images"][i], ncols=8, tile_px=40,
                            title=f"The same 64 noise vectors after epoch {epoch}"),
                 key="timeline", filename=f"gan_epoch{epoch}")
    with c2:
        if history is not None:
            rows = history.get("epochs", [])
            keys = [k for k in ("loss_d", "loss_g") if any(k in r for r in rows)]
            ui.chart(ui.fig(loss_curves, rows, keys or None, title="G and D losses", marker_epoch=epoch,
                                 height=280), key="gan_losses", filename="gan_losses")
            if any("d_real" in r for r in rows):
                ui.chart(ui.fig(loss_curves, rows, ["d_real", "d_fake"], title="D's mean output", marker_epoch=epoch,
                                     y_title="D(x)", height=260),
                         key="gan_d", filename="gan_d_scores")

# ------------------------------------------------------------------------------------------------- mode collapse
st.header("Mode-collapse check")
st.caption("A GAN that has collapsed draws only a few kinds of digit. 1,000 samples from their own seed (drawing "
           "them takes about a second on a CPU, so they do not follow the seed above), labelled by the classifier.")
st.caption("This generator's balance is partly taught: during training a separate, smaller coach classifier pushed "
           "G away from the digits it over-produced (its model card on the Models page has the details and the "
           "figures without it). The classifier that labels these samples never took part in training.")
if gdc is not None:
    g, d, c = gdc
    hseed = st.columns([1, 3])[0].number_input("Seed of the 1,000 samples", 0, 2**31 - 1, step=1,
                            key=ui.param("hseed", 0, int, lo=0, hi=2**31 - 1))
    counts, ms = histogram_of(int(hseed), 1000, stamp, g, c)
    c1, c2 = st.columns([2, 1])
    with c1:
        ui.chart(ui.fig(class_histogram, counts, title=f"Classifier labels of 1,000 samples (seed {hseed})"),
                 key="hist", filename=f"gan_class_histogram_seed{hseed}")
    with c2:
        frac = counts / counts.sum()
        entropy = float(-(frac[frac > 0] * np.log2(frac[frac > 0])).sum())
        st.metric("Label entropy", f"{entropy:.2f} bits", help="log2(10) = 3.32 bits when all ten digits are equally "
                  "common; a collapsed GAN that draws only a few digits scores far lower.")
        st.metric("Rarest digit", f"{int(counts.argmin())} ({counts.min()} of 1,000)")
        ui.timing("generator + classifier, 1,000 samples", ms, [g, c], cached=True)

# ------------------------------------------------------------------------------------------------ your drawing
st.header("Does D think your digit is real?")
c1, c2 = st.columns([1, 2], gap="large")
with c1:
    x, what = digit_input(default_source="Draw")
with c2:
    if x is not None and gdc is not None:
        g, d, c = gdc
        with ui.Timer() as t:
            labels, conf, score = judge(mnist.to_model_input(x), d, c)
        st.plotly_chart(ui.fig(digit_grid, x[None], [what], ncols=1, tile_px=160), key="yours", config=ui.PLOT_CONFIG)
        st.metric("D: probability real", f"{score[0]:.2f}")
        st.metric("Classifier", f"{labels[0]} ({conf[0]:.0%})")
        ui.timing("discriminator + classifier", t.ms, [d, c])
