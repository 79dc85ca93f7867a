"""GAN: the text's dense GAN and a DCGAN side by side from the same seed: samples judged by the classifier and each
D, an honest quality table, what the architecture changed, interpolation, both training timelines, the
mode-collapse check, and both Ds' verdicts on your own drawing."""

import time
from typing import Iterator

import numpy as np
import streamlit as st

import ui
from core.figures import class_histogram, digit_grid, loss_curves, score_bars
from core.runtime import gan_compare as gc
from core.runtime import mnist
from ui import live
from ui.inputs import digit_input

ui.header("gan")
t, lang = ui.t, ui.lang()
C = "classifier.onnx"
MODELS = gc.MODELS  # ("gan", "dcgan"): the text's first
FILES = {m: (f"{m}.generator.onnx", f"{m}.discriminator.onnx") for m in MODELS}
KEY = {"gan": "", "dcgan": "d"}  # chart/widget key prefix: the text's GAN keeps the keys (and links) it always had
SEED_MAX = 2**31 - 1


def judge(images: np.ndarray, d, c) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(classifier label, its softmax confidence, D's probability of 'real') for float images [B, 1, 28, 28]."""
    labels, conf = gc.labels(c, images)
    return labels, conf, gc.sigmoid(mnist.run_batched(d, "image", images)["logit"][:, 0])


@st.cache_resource(show_spinner=False, max_entries=16)
def histogram_of(model: str, seed: int, n: int, stamp: tuple, _g, _c) -> tuple[np.ndarray, float]:
    """Counts of the classifier's labels over n samples of one generator (the mode-collapse check), and the time."""
    t0 = time.perf_counter()
    # batches of 100: onnxruntime's arena keeps its peak, and 1,000 images at once would hold ~150 MB for good
    imgs = mnist.run_batched(_g, "z", mnist.gan_noise(seed, n), batch=100)["image"]
    labels = mnist.classify(_c, imgs, batch=100)[0].argmax(1)
    return np.rint(mnist.class_histogram(labels) * n).astype(int), (time.perf_counter() - t0) * 1000.0


@st.cache_resource(show_spinner=False, max_entries=64)
def generate(model: str, what: tuple, stamp: tuple, _z: np.ndarray, _g, _d, _c) -> dict:
    """One generator's images for the noise ``_z``, judged by the classifier and its own D, and the time that took;
    cached on ``what`` made it (("seed", seed, n) or ("path", a, b, steps)), not on the 100-D vectors. Read-only."""
    t0 = time.perf_counter()
    imgs = mnist.run_batched(_g, "z", _z)["image"]
    labels, conf, score = judge(imgs, _d, _c)
    return {"images": imgs, "labels": labels, "conf": conf, "score": score,
            "ms": (time.perf_counter() - t0) * 1000.0}


def captions(res: dict) -> list[str]:
    return [f"{lab} · D {s:.2f}" for lab, s in zip(res["labels"], res["score"])]


def model_columns(loaded_only: bool = True) -> Iterator[str]:
    """Each generator in its own column under its name (the text's on the left); ``loaded_only``: skip one whose
    sessions did not load (its error is already on the page)."""
    for m, col in zip(MODELS, st.columns(2, gap="large")):
        with col:
            st.subheader(name[m])
            if not loaded_only or m in nets:
                yield m


# each generator loads on its own: a missing or corrupt file takes out its half of the page, not the other's
clf = ui.model(C)
nets = {}
for m in MODELS:
    got = ui.models(*FILES[m])
    if got is not None and clf is not None:
        nets[m] = (*got, clf)
stamps = {m: ui.stamp(FILES[m][0]) + ui.stamp(FILES[m][1]) + ui.stamp(C) + (ui.provider(),) for m in MODELS}
name = {m: t(f"gan.name_{m}") for m in MODELS}


# ------------------------------------------------------------------------------------------------------- samples


@ui.fragment
def samples_section() -> None:
    st.header(t("gan.samples"))
    st.caption(t("gan.same_seed"))
    c1, c2, _ = st.columns([1, 1, 2])
    with c1:
        seed = ui.int_input(t("gan.seed"), 0, SEED_MAX, 0, key="seed")
    grid = c2.slider(t("gan.grid"), 2, 8, 4, key="grid", bind=ui.BIND)
    n = int(grid) ** 2
    z = mnist.gan_noise(int(seed), n)
    for m in model_columns():
        g, d, c = nets[m]
        res = generate(m, ("seed", int(seed), n), stamps[m], z, g, d, c)
        ui.chart(ui.fig(digit_grid, res["images"][:, 0], captions(res), ncols=int(grid), tile_px=62),
                 key=KEY[m] + "samples", filename=t("gan.file_samples", model=m, seed=seed))
        st.caption(t("gan.samples_caption", d=f"{res['score'].mean():.2f}", conf=f"{res['conf'].mean():.0%}"))
        ui.timing(t("gan.timing_samples", n=n), res["ms"], [g, d, c], cached=True)
    ui.csv_button(t("gan.csv_z"), z, t("gan.file_z", seed=seed) + ".csv", key="csv_z",
                  col_labels=[f"z{i + 1}" for i in range(z.shape[1])])


samples_section()

# ------------------------------------------------------------------------------------------------------- quality
st.header(t("gan.quality"))
quality = ui.cached(gc.QUALITY_FILE, gc.load_quality)
if quality is not None:
    rows = quality["rows"]
    sets = [k for k in ("real", "blurred", *MODELS) if k in rows]
    set_name = {"real": t("gan.set_real"), "blurred": t("gan.set_blurred"), **name}
    c1, c2 = st.columns([3, 2], gap="large")
    with c1:
        ui.table([{"set": set_name[k], "fid": rows[k]["fid"], "kid": rows[k]["kid_x1000"],
                   "precision": rows[k]["precision"], "recall": rows[k]["recall"],
                   "max_class": (f"{rows[k]['max_class_fraction']:.1%}" if "max_class_fraction" in rows[k] else "—")}
                  for k in sets],
                 align={c: "r" for c in ("fid", "kid", "precision", "recall", "max_class")},
                 headers={c: t(f"gan.col_{c}") for c in ("set", "fid", "kid", "precision", "recall", "max_class")})
    with c2:
        ui.chart(ui.fig(score_bars, [set_name[k] for k in sets], [rows[k]["fid"] for k in sets],
                        [k in ("real", "blurred") for k in sets], title=t("gan.fid_title"),
                        x_title=t("gan.fid_axis")),
                 key="quality_fid", filename=t("gan.file_quality"))
    st.caption(t("gan.quality_caption", n=f"{int(quality.get('n', 0)):,}", k=quality.get("pr_k", 3)))
    old = nets["gan"][0].card.get("metrics", {}) if "gan" in nets else {}
    if all(k in old for k in ("fid_test", "fid_blur", "fid_real_floor")) and {"gan", "blurred", "real"} <= set(rows):
        st.info(t("gan.old_figure", old_gan=f"{old['fid_test']:.2f}", old_blur=f"{old['fid_blur']:.2f}",
                  old_floor=f"{old['fid_real_floor']:.2f}", gan=f"{rows['gan']['fid']:.2f}",
                  blur=f"{rows['blurred']['fid']:.2f}", floor=f"{rows['real']['fid']:.3f}",
                  ratio=f"{rows['blurred']['fid'] / max(rows['real']['fid'], 1e-9):.0f}"))

    # ------------------------------------------------------------------------------------------- D's verdicts
    st.subheader(t("gan.verdicts"))
    v = quality.get("verdicts", {})
    if all(d in v for d in MODELS):
        # one row per image set, one column per D: three columns fit a phone
        measures = [("mean", "real", t("gan.row_mean_real"))]
        measures += [("mean", m, t("gan.row_mean_of", model=t(f"gan.short_{m}"))) for m in MODELS]
        measures += [("auc", m, t("gan.row_auc_of", model=t(f"gan.short_{m}"))) for m in MODELS]
        ui.table([{"what": label, **{d: v[d][kind][k] for d in MODELS}} for kind, k, label in measures],
                 align={d: "r" for d in MODELS}, headers={"what": "", **{d: t(f"gan.d_of_{d}") for d in MODELS}})
        st.caption(t("gan.verdicts_caption"))

# ----------------------------------------------------------------------------------------- architecture changed
st.header(t("gan.architecture"))
if nets:
    cards = {m: (nets[m][0].card, nets[m][1].card) for m in MODELS if m in nets}
    facts = [("g", lambda m: cards[m][0].get("parameters")), ("dp", lambda m: cards[m][1].get("parameters")),
             ("layers", lambda m: t(f"gan.layers_{m}")), ("labels", lambda m: t(f"gan.labels_{m}")),
             ("epochs", lambda m: cards[m][0].get("training", {}).get("epochs"))]
    ui.table([{"what": t(f"gan.col_{f}"), **{m: get(m) for m in cards}} for f, get in facts],
             headers={"what": "", **{m: name[m] for m in cards}})
st.markdown(t("gan.architecture_text"))


# -------------------------------------------------------------------------------------------------- interpolation


@ui.fragment
def path_section() -> None:
    st.header(t("gan.between"))
    c1, c2, c3 = st.columns(3)
    with c1:
        sa = ui.int_input(t("gan.from_seed"), 0, SEED_MAX, 1, key="seed_a")
    with c2:
        sb = ui.int_input(t("gan.to_seed"), 0, SEED_MAX, 2, key="seed_b")
    steps = c3.slider(t("gan.steps"), 3, 16, 10, key="steps", bind=ui.BIND)
    za, zb = mnist.gan_noise(int(sa), 1)[0], mnist.gan_noise(int(sb), 1)[0]
    if "gan" in nets:
        # dragging along the path (or a random walk in z) regenerates the text's GAN in the browser
        live.gan_live("gan_live", za, zb, walk_seed=int(sa))
    path = mnist.interpolate(za, zb, int(steps))
    for m in MODELS:
        if m not in nets:
            continue
        g, d, c = nets[m]
        res = generate(m, ("path", int(sa), int(sb), int(steps)), stamps[m], path, g, d, c)
        ui.chart(ui.fig(digit_grid, res["images"][:, 0], captions(res), ncols=int(steps), tile_px=60, title=name[m]),
                 key=KEY[m] + "gan_interp", filename=t("gan.file_interp", model=m, a=sa, b=sb))
        ui.timing(t("gan.timing_path"), res["ms"], [g, d, c], cached=True)


path_section()


# ------------------------------------------------------------------------------------------------------- timeline


@ui.fragment
def timeline_section() -> None:
    st.header(t("gan.timeline"))
    st.caption(t("gan.timeline_caption"))
    names = {k: t(f"gan.series_{k}") for k in ("loss_d", "loss_g", "d_real", "d_fake")}
    for m in model_columns(loaded_only=False):
        timeline = ui.cached(f"{m}_timeline.npz", lambda m=m: mnist.load_timeline(name=f"{m}_timeline.npz"))
        history = ui.cached(f"history/{m}.json", lambda m=m: mnist.load_history(m))
        if timeline is None:
            continue
        epochs = [int(e) for e in timeline["epochs"]]
        epoch = st.select_slider(t("gan.epoch"), options=epochs, value=epochs[-1], key=KEY[m] + "epoch",
                                 bind=ui.BIND)
        i = epochs.index(int(epoch))
        ui.chart(ui.fig(digit_grid, timeline["images"][i], ncols=8, tile_px=34,
                        title=t("gan.timeline_title", epoch=epoch)),
                 key=KEY[m] + "timeline", filename=t("gan.file_epoch", model=m, epoch=epoch))
        if history is not None:
            rows = history.get("epochs", [])
            keys = [k for k in ("loss_d", "loss_g") if any(k in r for r in rows)]
            ui.chart(ui.fig(loss_curves, rows, keys or None, title=t("gan.losses_title"), marker_epoch=epoch,
                            height=260, names=names, lang=lang),
                     key=KEY[m] + "gan_losses", filename=t("gan.file_losses", model=m))
            if any("d_real" in r for r in rows):
                ui.chart(ui.fig(loss_curves, rows, ["d_real", "d_fake"], title=t("gan.d_title"), marker_epoch=epoch,
                                y_title="D(x)", height=240, names=names, lang=lang),
                         key=KEY[m] + "gan_d", filename=t("gan.file_d", model=m))


timeline_section()


# ------------------------------------------------------------------------------------------------- mode collapse


@ui.fragment
def collapse_section() -> None:
    st.header(t("gan.collapse"))
    st.caption(t("gan.collapse_caption"))
    with st.columns([1, 3])[0]:
        hseed = ui.int_input(t("gan.hseed"), 0, SEED_MAX, 0, key="hseed")
    for m in model_columns():
        g, _, c = nets[m]
        counts, ms = histogram_of(m, int(hseed), 1000, stamps[m], g, c)
        ui.chart(ui.fig(class_histogram, counts, title=t("gan.hist_title", seed=hseed), lang=lang),
                 key=KEY[m] + "hist", filename=t("gan.file_hist", model=m, seed=hseed))
        frac = counts / counts.sum()
        entropy = float(-(frac[frac > 0] * np.log2(frac[frac > 0])).sum())
        m1, m2 = st.columns(2)
        m1.metric(t("gan.entropy"), t("gan.bits", v=f"{entropy:.2f}"), help=t("gan.entropy_help"))
        m2.metric(t("gan.rarest"), t("gan.rarest_value", d=int(counts.argmin()), n=int(counts.min())))
        st.caption(t(f"gan.balance_{m}"))
        ui.timing(t("gan.timing_hist"), ms, [g, c], cached=True)


collapse_section()


# ------------------------------------------------------------------------------------------------ your drawing


@ui.fragment
def drawing_section() -> None:
    st.header(t("gan.yours"))
    c1, c2 = st.columns([1, 2], gap="large")
    with c1:
        x, what = digit_input(default_source="draw", live_mode="discriminator")
    with c2:
        if x is not None and nets:
            st.plotly_chart(ui.fig(digit_grid, x[None], ncols=1, tile_px=140), key="yours", config=ui.PLOT_CONFIG)
            st.caption(what)
            cols = st.columns(len(nets) + 1)
            with ui.Timer() as timer:
                verdict = {m: judge(mnist.to_model_input(x), nets[m][1], nets[m][2]) for m in nets}
            for col, (m, (labels, conf, score)) in zip(cols, verdict.items()):
                col.metric(t("gan.d_real_of", model=name[m]), f"{score[0]:.2f}")
            labels, conf, _ = next(iter(verdict.values()))
            cols[-1].metric(t("gan.classifier"), f"{labels[0]} ({conf[0]:.0%})")
            st.caption(t("gan.yours_caption"))
            ui.timing(t("gan.timing_yours"), timer.ms, [nets[m][1] for m in nets] + [clf])


drawing_section()
