"""Train, evaluate and export the DCGAN (core/models/dcgan.py) and the FID feature extractor (fid_features.onnx).

    python -m core.train fid_features   # the measuring instrument: train it before the DCGAN
    python -m core.train dcgan

Both reuse the MNIST trainers' pieces (data and split, batches, export with ORT-vs-PyTorch validation, cards,
references, BatchNorm recalibration of the averaged G). A run logs per epoch into runs/<model>/ (history.json,
and for the DCGAN timeline.npz); the export phase (export_* functions) writes only under the folder it is given,
the stage of core.transaction.export_transaction: the whole set is switched in at once, or not at all.
Labels never reach the DCGAN: not its loss, not its epoch choice (the last epoch is exported). The judge
(classifier.onnx) and the extractor only measure.
"""

from __future__ import annotations

import copy
import math
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from core.atomic import atomic_save_npz, atomic_write_json
from core.export import stamp_card
from core.models.dcgan import DcganConfig, Discriminator, DiscriminatorUnit, Generator, GeneratorUnit
from core.models.fid_features import FidFeatures, FidFeaturesConfig
from core.runtime import gan_compare as gc
from core.runtime import mnist as rt
from core.runtime import quality as q
from core.runtime.session import open_session
from core.training import distributed as dd
from core.training.common import (
    History, TrainError, TrainOptions, load_checkpoint, progress, resolve_device, run_history, save_checkpoint,
    set_seed, stage_run_files,
)
from core.transaction import export_transaction
from core.training.mnist import (
    GAN_TIMELINE_SEED, Data, batches, common_card, evaluate_classifier, export_checked, gan_metrics, load_data,
    rand_images, rand_z, recalibrate_bn, reference, run_dir, use_threads,
)

FEATURES_SEED_OFFSET = 4241  # the extractor's own initialisation, not the judge's


def threads() -> None:
    """All the cores this process may use, or $OMP_NUM_THREADS when set (a shared machine: one thread)."""
    use_threads()
    n = os.environ.get("OMP_NUM_THREADS", "")
    if n.isdigit() and int(n) > 0:
        torch.set_num_threads(int(n))


# --------------------------------------------------------------------------------------------- the extractor


@dataclass(frozen=True)
class FidFeaturesTrain:
    epochs: int = 8
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 1e-4
    # no augmentation at all: nothing teaches the features to ignore how strokes look


FEATURES_DIFFERENCES = [
    "not in the source text: the FID/KID/precision-recall feature extractor for both GANs, in place of Inception",
    "trained without augmentation (the judge, classifier.onnx, uses random shifts), so no invariance to stroke "
    "appearance is taught; its own seed, never seen by any generator in training",
]


def train_fid_features(opts: TrainOptions) -> dict:
    threads()
    gen = set_seed(opts.seed + FEATURES_SEED_OFFSET)
    device = resolve_device(opts.device)
    tc = replace(FidFeaturesTrain(), epochs=opts.epochs or FidFeaturesTrain.epochs)
    config = FidFeaturesConfig()
    data = load_data(opts)
    rd = run_dir(opts, "fid_features")
    ckpt = rd / "best.pt"
    model = FidFeatures(config)
    if not opts.export_only:
        model.to(device)
        model = dd.prepare(model)  # torchrun: SyncBatchNorm, rank 0's initial weights everywhere
        net = dd.ddp(model)
        dd.fork_rng(opts.seed + FEATURES_SEED_OFFSET)
        opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
        steps = tc.epochs * math.ceil(len(data.x_train) / tc.batch_size)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=tc.lr, total_steps=steps, pct_start=0.2)
        hist = History(run_history(opts, "fid_features"), {"model": "fid_features", "config": asdict(config), "train": asdict(tc),
                                             "seed": opts.seed})
        best = -1.0
        for epoch in progress(range(1, tc.epochs + 1), "fid_features", quiet=opts.quiet):
            net.train()
            total, n = 0.0, 0
            for idx in batches(len(data.x_train), tc.batch_size, gen):
                if not dd.takes_part(len(idx)):
                    continue
                xb, yb = dd.local(data.x_train[idx]).to(device), dd.local(data.y_train[idx]).to(device)
                loss = F.cross_entropy(net(xb)[0], yb)
                opt.zero_grad(set_to_none=True)
                dd.scaled(loss, len(xb), len(idx)).backward()
                opt.step()
                sched.step()
                total, n = total + loss.item() * len(xb), n + len(xb)
            total, n = dd.reduce_sums({"total": total, "n": n}).values()
            dd.sync_buffers(model)
            if not dd.is_main():
                continue  # rank 0 evaluates and keeps the checkpoint
            cpu_model = dd.cpu_copy(model)  # the model itself on the CPU; a copy on a GPU (DDP's must stay)
            val_loss, val_acc = evaluate_classifier(cpu_model, data.x_val, data.y_val)
            hist.log(train_loss=total / n, val_loss=val_loss, val_accuracy=val_acc, lr=sched.get_last_lr()[0])
            if val_acc >= best:
                best = val_acc
                cpu_model.calibrate(data.x_train)  # the strokes' standardisation: not in the training loss
                save_checkpoint(ckpt, model=cpu_model.state_dict(), config=asdict(config), epoch=epoch,
                                val_accuracy=val_acc)
    if not dd.is_main():
        return {}  # rank 0 exports; core.train makes this rank wait for it
    state = load_checkpoint(ckpt)
    model = FidFeatures(config)
    model.load_state_dict(state["model"])
    model.eval()
    with export_transaction(opts.out) as stage:  # all or nothing: a killed run leaves opts.out as it was
        metrics = export_fid_features(stage, model, config, tc, data, opts, state)
    return metrics


def export_fid_features(stage: Path, model: FidFeatures, config: FidFeaturesConfig, tc: FidFeaturesTrain,
                        data: Data, opts: TrainOptions, state: dict) -> dict:
    """Write fid_features.onnx (card with the blur-sensitivity figures), its reference and history under ``stage``."""
    path = stage / q.FEATURES_FILE
    outs = ["logits", "features", "strokes"]
    card = common_card("fid_features", model, config, data, opts, tc.epochs,
                       summary="feature extractor for FID / KID / precision-recall: features = penultimate layer, "
                               "strokes = standardised first-block map means",
                       training=asdict(tc) | {"augmentation": "none", "selected_epoch": state["epoch"],
                                              "optimizer": "AdamW + OneCycle",
                                              "seed": opts.seed + FEATURES_SEED_OFFSET},
                       differences_from_source=FEATURES_DIFFERENCES,
                       input_shapes={"image": ["B", 1, 28, 28]},
                       output_shapes={"logits": ["B", 10], "features": ["B", config.n_features],
                                      "strokes": ["B", config.channels[0]]})
    diff = export_checked(model, rand_images(2), path, "image", outs, card, rand_images)
    sess = open_session(path, "cpu")
    logits = rt.run_batched(sess, "image", data.x_test, outputs=["logits"])["logits"]
    metrics = {"test_accuracy": round(float((logits.argmax(1) == data.y_test).mean()), 5),
               "val_accuracy": round(float(state["val_accuracy"]), 5)}
    metrics |= blur_sensitivity(sess, data.x_test, data.y_test)
    stamp_card(path, {"metrics": metrics, "onnx_max_abs_diff": diff})
    reference(stage, "fid_features", model, "image", torch.from_numpy(data.x_test[:8]), outs)
    stage_run_files(stage, opts, "fid_features")
    return metrics


def blur_sensitivity(extractor, x_test: np.ndarray, y_test: np.ndarray) -> dict:
    """FID of real half A and of blurred half A against half B, on `features` and on `strokes`."""
    sets = q.reference_sets(x_test, y_test)
    out = {}
    for name in ("features", "strokes"):
        f = {k: rt.run_batched(extractor, "image", v, outputs=[name])[name] for k, v in sets.items()}
        out[f"fid_{name}_real_floor"] = round(rt.frechet_distance(f["real"], f["reference"]), 4)
        out[f"fid_{name}_blur"] = round(rt.frechet_distance(f["blurred"], f["reference"]), 4)
    return out


# --------------------------------------------------------------------------------------------- the DCGAN


@dataclass(frozen=True)
class DcganTrain:
    epochs: int = 100  # validation FID still fell at 100 (2.1; 4.2 at 60, 12 at 24)
    batch_size: int = 64
    lr_g: float = 2e-4  # the paper's Adam settings
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    real_label: float = 1.0
    # R1 penalty (Mescheder et al. 2018): gamma/2 * E ||grad_x D(x)||^2 on real digits. Without it (or with
    # dropout in D) G collapsed to one pattern within 300 steps; a BatchNorm D also held, but sees the batch.
    r1_gamma: float = 10.0
    ema: float = 0.999  # the exported G is an exponential moving average of G's weights
    eval_every: int = 2  # FID on validation digits, logged (never used to choose: the last epoch is exported)
    eval_samples: int = 2000
    timeline_frames: int = 12  # epochs kept in the exported timeline (all are kept in runs/dcgan/timeline.npz)


DCGAN_DIFFERENCES = [
    "not in the source text: a DCGAN (Radford et al. 2016) beside the text's dense GAN, to show what "
    "convolutions buy a generator. G grows z (100-D, the text's size, so one seed drives both) as a 1x1 image "
    "through transposed convolutions 4 -> 7 -> 14 -> 28 px with BatchNorm + ReLU and a tanh output; the text's G "
    "is dense layers to 784 independent pixels",
    "D: strided convolutions with LeakyReLU(0.2) and spectral normalisation (Miyato et al. 2018) in place of the "
    "paper's BatchNorm, so the exported D judges each image alone; D's loss adds the R1 penalty on real digits "
    "(Mescheder et al. 2018, gamma 10): without it G collapsed to one pattern within 300 steps",
    "trained with the non-saturating loss and the paper's Adam (lr 2e-4, beta1 0.5) for both nets; no label "
    "smoothing, no coach: no labels anywhere (the text's GAN uses a labelled coach for its class balance)",
    "the exported G is an exponential moving average of G's weights (decay 0.999) with BatchNorm statistics "
    "recomputed for the averaged weights; the last epoch is exported (no epoch chosen by a labelled judge)",
]


def timeline_epochs(total: int, frames: int) -> list[int]:
    """About ``frames`` epochs from 1 to ``total``, denser early (where the samples change most)."""
    if total <= frames:
        return list(range(1, total + 1))
    return sorted({int(round(e)) for e in np.geomspace(1, total, frames)} | {total})


def train_dcgan(opts: TrainOptions, config: DcganConfig | None = None, tc: DcganTrain | None = None) -> dict:
    threads()
    gen = set_seed(opts.seed)
    device = resolve_device(opts.device)
    tc = replace(tc or DcganTrain(), epochs=opts.epochs or (tc or DcganTrain()).epochs)
    config = config or DcganConfig()
    data = load_data(opts)
    out = Path(opts.out)
    rd = run_dir(opts, "dcgan")
    ckpt = rd / "last.pt"
    needed = {"fid_features": out / q.FEATURES_FILE, "classifier": out / "classifier.onnx"}
    for model_name, p in needed.items():
        if dd.is_main() and not p.is_file():  # rank 0 alone measures
            raise TrainError(f"the DCGAN is measured with {p.name}, which is missing from {out}: "
                             f"run `python -m core.train {model_name}` first")
    extractor = open_session(needed["fid_features"], "cpu") if dd.is_main() else None
    if not opts.export_only:
        fit_dcgan(opts, config, tc, data, extractor, device, gen, rd, ckpt)
    if not dd.is_main():
        return {}
    state = load_checkpoint(ckpt)
    G, D = Generator(config), Discriminator(config)
    G.load_state_dict(state["G"])
    D.load_state_dict(state["D"])
    g_unit, d_unit = GeneratorUnit(G.eval()).eval(), DiscriminatorUnit(D.eval().fold_spectral_norm()).eval()
    with export_transaction(out) as stage:  # all or nothing: a killed run leaves opts.out as it was
        metrics = export_dcgan(stage, g_unit, d_unit, config, tc, data, opts, state, rd)
    return {k: metrics[k] for k in ("fid", "fid_real_floor", "fid_blur", "kid_x1000", "precision", "recall",
                                    "max_class_fraction")}


def dcgan_step(G: nn.Module, D: nn.Module, G_ema: nn.Module, opt_g, opt_d, real: torch.Tensor, z: torch.Tensor,
               tc: DcganTrain, step: int, n_global: int) -> dict:
    """One D step (with R1 on real digits), one G step and the EMA update, on this rank's rows (real, z) of a global
    batch of ``n_global``. Under torchrun each backward is followed by an all-reduce of that network's gradients
    (R1's double backward and two optimisers: DDP does not fit). Returns this rank's part of the step's figures
    (its means times its share of the global batch; summed over ranks, the global batch's means)."""
    part = dd.share(len(real), n_global)
    out = {}
    fake = G(z)
    # D step: real -> real_label, fake -> 0, plus the R1 penalty on real digits
    d_real, d_fake = D(real), D(fake.detach())
    loss_d = (F.binary_cross_entropy_with_logits(d_real, torch.full_like(d_real, tc.real_label))
              + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))
    if tc.r1_gamma > 0:
        (grad,) = torch.autograd.grad(d_real.sum(), real, create_graph=True)  # (B, 1, 28, 28)
        r1 = grad.pow(2).sum((1, 2, 3)).mean()
        loss_d = loss_d + tc.r1_gamma / 2 * r1
        out["r1"] = r1.item() * part
    opt_d.zero_grad(set_to_none=True)
    dd.scaled(loss_d, len(real), n_global).backward()
    dd.average_gradients(D)
    opt_d.step()
    # G step, non-saturating: maximise log D(G(z))
    d_gen = D(fake)
    loss_g = F.binary_cross_entropy_with_logits(d_gen, torch.ones_like(d_gen))
    opt_g.zero_grad(set_to_none=True)
    dd.scaled(loss_g, len(real), n_global).backward()
    dd.average_gradients(G)
    opt_g.step()
    with torch.no_grad():
        decay = min(tc.ema, (1 + step) / (10 + step))  # warm-up: early epochs follow G closely
        for pe, p in zip(G_ema.parameters(), G.parameters()):
            pe.lerp_(p, 1 - decay)
    return out | {"loss_d": loss_d.item() * part, "loss_g": loss_g.item() * part,
                  "d_real": torch.sigmoid(d_real).mean().item() * part,
                  "d_fake": torch.sigmoid(d_fake).mean().item() * part}


def fit_dcgan(opts: TrainOptions, config: DcganConfig, tc: DcganTrain, data: Data, extractor, device,
              gen: torch.Generator, rd: Path, ckpt: Path) -> None:
    """The training loop: per epoch a history row and a timeline frame in ``rd``; the last epoch in ``ckpt``."""
    G, D = Generator(config).to(device), Discriminator(config).to(device)
    G_ema = copy.deepcopy(G).eval()  # plain BatchNorm: every rank recalibrates it alike
    G, D = dd.prepare(G, D)  # torchrun: SyncBatchNorm in G, rank 0's initial weights everywhere
    dd.broadcast_state(G_ema)
    opt_g = torch.optim.Adam(G.parameters(), lr=tc.lr_g, betas=tc.betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=tc.lr_d, betas=tc.betas)
    hist = History(run_history(opts, "dcgan"), {"model": "dcgan", "config": asdict(config), "train": asdict(tc),
                                         "seed": opts.seed})
    fixed = torch.from_numpy(rt.gan_noise(GAN_TIMELINE_SEED, 64, config.z_dim))  # the text's GAN's timeline noise
    if dd.is_main():
        val_feats = q.features(extractor, data.x_val.numpy())
        eval_noise = torch.from_numpy(rt.gan_noise(q.NOISE_SEED + 1, tc.eval_samples, config.z_dim))
    dd.fork_rng(opts.seed)
    x_real = data.x_train * 2 - 1  # (N, 1, 28, 28) in [-1, 1]
    timeline, step = [], 0
    for epoch in progress(range(1, tc.epochs + 1), "dcgan", quiet=opts.quiet):
        G.train(), D.train()
        sums = {"loss_d": 0.0, "loss_g": 0.0, "d_real": 0.0, "d_fake": 0.0, "r1": 0.0}
        steps = 0
        for idx in batches(len(x_real), tc.batch_size, gen):
            if len(idx) < 2 or not dd.takes_part(len(idx)):
                continue
            # every rank draws the whole batch's z, as one process does, and keeps its rows
            real = dd.local(x_real[idx]).to(device).requires_grad_(tc.r1_gamma > 0)
            z = dd.local(torch.randn(len(idx), config.z_dim, generator=gen)).to(device)
            parts = dcgan_step(G, D, G_ema, opt_g, opt_d, real, z, tc, step, len(idx))
            step += 1
            for k, v in parts.items():
                sums[k] += v
            steps += 1
        row = {k: v / steps for k, v in dd.reduce_sums(sums).items()}
        recalibrate_bn(G_ema, config.z_dim, gen, device)  # every rank: it draws from gen
        dd.sync_buffers(G, D, G_ema)
        if not dd.is_main():
            continue  # rank 0 alone measures, logs and writes
        with torch.no_grad():
            timeline.append(rt.to_uint8(((G_ema(fixed.to(device)) + 1) / 2).cpu().numpy()))
        if epoch % tc.eval_every == 0 or epoch == tc.epochs:
            with torch.no_grad():
                imgs = torch.cat([(G_ema(eval_noise[i:i + 500].to(device)) + 1) / 2
                                  for i in range(0, len(eval_noise), 500)]).cpu().numpy()
            row["fid_val"] = rt.frechet_distance(q.features(extractor, imgs), val_feats)
        hist.log(**row)
        atomic_save_npz(rd / "timeline.npz", images=np.stack(timeline),
                        epochs=np.arange(1, len(timeline) + 1, dtype=np.int64))
        save_checkpoint(ckpt, G=G_ema.cpu().state_dict(), D=D.cpu().state_dict(), config=asdict(config),
                        epoch=epoch, fid_val=row.get("fid_val"))
        G_ema.to(device), D.to(device)


def export_dcgan(stage: Path, g_unit: nn.Module, d_unit: nn.Module, config: DcganConfig, tc: DcganTrain, data: Data,
                 opts: TrainOptions, state: dict, rd: Path) -> dict:
    """Write everything the DCGAN exports under ``stage``: both ONNX files with cards, references, history,
    timeline (a subset of epochs) and dcgan_quality.json (every figure, both GANs, floor and blur on one scale)."""
    g_path, d_path = stage / "dcgan.generator.onnx", stage / "dcgan.discriminator.onnx"
    extra = dict(training=asdict(tc) | {"selected_epoch": state["epoch"], "selection": "the last epoch",
                                        "loss": "non-saturating BCE", "labels_used": False},
                 differences_from_source=DCGAN_DIFFERENCES)
    g_card = common_card("dcgan.generator", g_unit, config, data, opts, tc.epochs,
                         summary="DCGAN generator: z ~ N(0, I) (100-D) -> image in [0, 1]",
                         input_shapes={"z": ["B", config.z_dim]}, output_shapes={"image": ["B", 1, 28, 28]}, **extra)
    d_card = common_card("dcgan.discriminator", d_unit, config, data, opts, tc.epochs,
                         summary="DCGAN discriminator: image in [0, 1] -> logit (real > 0)",
                         input_shapes={"image": ["B", 1, 28, 28]}, output_shapes={"logit": ["B", 1]}, **extra)
    d1 = export_checked(g_unit, rand_z(config.z_dim)(2), g_path, "z", ["image"], g_card, rand_z(config.z_dim))
    d2 = export_checked(d_unit, rand_images(2), d_path, "image", ["logit"], d_card, rand_images)

    g_sess, clf = open_session(g_path, "cpu"), open_session(stage / "classifier.onnx", "cpu")
    extractor = open_session(stage / q.FEATURES_FILE, "cpu")
    gens = {"dcgan": g_sess}
    if (stage / "gan.generator.onnx").is_file():
        gens["gan"] = open_session(stage / "gan.generator.onnx", "cpu")
    table = q.quality_table(extractor, data.x_test, data.y_test, gens, classifier=clf)
    old = gan_metrics(g_sess, clf, data.x_test, config.z_dim)  # the classifier-FID figures, as the text's GAN has
    rows = table["rows"]
    metrics = {
        **{k: v for k, v in rows["dcgan"].items()},
        "fid_real_floor": rows["real"]["fid"], "fid_blur": rows["blurred"]["fid"],
        "kid_x1000_real_floor": rows["real"]["kid_x1000"], "kid_x1000_blur": rows["blurred"]["kid_x1000"],
        "precision_blur": rows["blurred"]["precision"], "recall_blur": rows["blurred"]["recall"],
        "n_samples": table["n"], "noise_seed": table["noise_seed"], "fid_features": table["features"],
        "classifier_fid_test": old["fid_test"], "classes_present": old["classes_present"],
        "class_fractions_10k": old["class_fractions"], "confident_fraction": old["confident_fraction"],
        "confident_fraction_real": old["confident_fraction_real"], "class_labels_from": "classifier.onnx",
    }
    if "gan" in rows:  # the text's GAN measured the same way, for the comparison
        metrics["text_gan"] = {k: rows["gan"][k] for k in ("fid", "kid_x1000", "precision", "recall", "fid_strokes",
                                                           "max_class_fraction")}
    stamp_card(g_path, {"metrics": metrics, "onnx_max_abs_diff": d1})
    stamp_card(d_path, {"metrics": metrics, "onnx_max_abs_diff": d2})
    z_ref = torch.from_numpy(rt.gan_noise(q.NOISE_SEED, 8, config.z_dim))
    reference(stage, "dcgan.generator", g_unit, "z", z_ref, ["image"])
    reference(stage, "dcgan.discriminator", d_unit, "image", torch.from_numpy(data.x_test[:8]), ["logit"])
    if "gan" in gens and (stage / "gan.discriminator.onnx").is_file():
        # each D's verdicts on real digits (t10k half A) and on both G's samples (the same noise)
        discs = {"gan": open_session(stage / "gan.discriminator.onnx", "cpu"), "dcgan": open_session(d_path, "cpu")}
        real = q.reference_sets(data.x_test, data.y_test)["real"][:gc.MAX_SAMPLES]
        table["verdicts"] = gc.verdict_summary(discs, gens, real, n=gc.MAX_SAMPLES, seed=q.NOISE_SEED)
        table["verdicts_what"] = (f"mean P(real) and AUC (real digits against each G's samples) of each D, "
                                  f"{gc.MAX_SAMPLES} t10k half-A digits and {gc.MAX_SAMPLES} samples per G")
    atomic_write_json(stage / "dcgan_quality.json", table | {"what": "FID, KID x1000, precision and recall against "
                      "t10k half B; class shares from classifier.onnx; every set 5,000 images"})
    stage_run_files(stage, opts, "dcgan")
    if (rd / "timeline.npz").is_file():
        with np.load(rd / "timeline.npz") as f:
            keep = [e - 1 for e in timeline_epochs(len(f["epochs"]), tc.timeline_frames)]
            atomic_save_npz(stage / "dcgan_timeline.npz", images=f["images"][keep], epochs=f["epochs"][keep])
    return metrics


TRAINERS = {"fid_features": train_fid_features, "dcgan": train_dcgan}
