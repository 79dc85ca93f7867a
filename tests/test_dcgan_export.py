"""DCGAN and fid_features export: parity on fresh models (tmp dir, two batch sizes), the committed files' contracts,
cards, references, timeline and history, the side-by-side data functions, and the CLI's clear errors."""

import json

import numpy as np
import pytest
import torch

from core.atomic import sha256_file
from core.manifest import read_manifest
from core.models.dcgan import DcganConfig, Discriminator, DiscriminatorUnit, Generator, GeneratorUnit
from core.models.fid_features import FidFeatures, FidFeaturesConfig
from core.runtime import gan_compare as gc
from core.runtime import mnist as rt
from core.runtime.session import open_session
from core.training.mnist import export_checked, rand_images, rand_z

ONNX_FILES = {  # file -> (input name, input shape tail, {output name: shape tail})
    "dcgan.generator.onnx": ("z", (100,), {"image": (1, 28, 28)}),
    "dcgan.discriminator.onnx": ("image", (1, 28, 28), {"logit": (1,)}),
    "fid_features.onnx": ("image", (1, 28, 28), {"logits": (10,), "features": (128,), "strokes": (32,)}),
}
OTHER_FILES = ["dcgan_timeline.npz", "dcgan_quality.json", "history/dcgan.json", "history/fid_features.json"]
CARD_KEYS = ("name", "architecture", "config", "parameters", "data", "metrics", "preprocessing", "seed", "versions",
             "differences_from_source", "train_command", "inputs", "outputs")


def trained_bn(module):
    """Give BatchNorm layers non-trivial running statistics, as training would."""
    for m in module.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    return module.eval()


@pytest.mark.parametrize("kind", ["generator", "discriminator", "fid_features"])
def test_fresh_models_round_trip_through_onnx(kind, tmp_path):
    torch.manual_seed(0)
    cfg = DcganConfig(ngf=8, ndf=8)
    if kind == "generator":
        module, inp, outs, make = GeneratorUnit(trained_bn(Generator(cfg))), "z", ["image"], rand_z(100)
    elif kind == "discriminator":
        d = Discriminator(cfg)
        d(torch.rand(4, 1, 28, 28))  # one power iteration
        module, inp, outs, make = DiscriminatorUnit(d.eval().fold_spectral_norm()), "image", ["logit"], rand_images
    else:
        net = trained_bn(FidFeatures(FidFeaturesConfig(channels=(8, 16), n_features=32)))
        net.calibrate(rand_images(20))
        module, inp, outs, make = net, "image", ["logits", "features", "strokes"], rand_images
    path = tmp_path / f"{kind}.onnx"
    worst = export_checked(module, make(2), path, inp, outs, {"name": kind, "metrics": {}}, make)  # batch 3 and 7
    assert worst <= 1e-4
    assert not list(tmp_path.glob("*.data"))  # one self-contained file
    sess = open_session(path, "cpu")
    assert sess.inputs == [inp] and sess.outputs == outs
    for n in (1, 5):  # the batch axis is really dynamic, 1 included
        x = make(n)
        got = sess.run({inp: x.numpy()})
        with torch.no_grad():
            want = module(x)
        want = want if isinstance(want, tuple) else (want,)
        for name, w in zip(outs, want):
            np.testing.assert_allclose(got[name], w.numpy(), atol=1e-4)


# ------------------------------------------------------------------------------------------ committed artifacts


@pytest.fixture(scope="module")
def manifest(exported_dir):
    m = read_manifest(exported_dir)
    missing = [f for f in [*ONNX_FILES, *OTHER_FILES] if f not in m["files"]]
    if missing:
        pytest.skip(f"DCGAN not exported yet ({', '.join(missing)}): run `python -m core.train fid_features` "
                    "and `python -m core.train dcgan`")
    return m


def test_manifest_lists_every_dcgan_file_and_they_stay_small(manifest, exported_dir):
    names = [*ONNX_FILES, *OTHER_FILES] + [f"reference/{f[:-5]}.npz" for f in ONNX_FILES]
    for name in names:
        entry = manifest["files"][name]
        path = exported_dir / name
        assert entry["sha256"] == sha256_file(path), name
        assert entry["bytes"] == path.stat().st_size, name
        assert entry["rebuild"] == f"python -m core.train {'fid_features' if 'fid_features' in name else 'dcgan'}"
    assert manifest["files"]["dcgan.generator.onnx"]["bytes"] < 2e6
    added = sum(manifest["files"][n]["bytes"] for n in names)
    assert added < 3.5e6, added  # what this model adds to exported/ (all of it must stay under ~25 MB)


@pytest.mark.parametrize("name", list(ONNX_FILES))
def test_committed_onnx_contract_card_and_reference(manifest, exported_dir, name):
    inp, in_tail, outs = ONNX_FILES[name]
    sess = open_session(exported_dir / name, "cpu")
    assert sess.inputs == [inp] and sess.outputs == list(outs)
    i0 = sess.session.get_inputs()[0]
    assert i0.type == "tensor(float)" and tuple(i0.shape[1:]) == in_tail and not isinstance(i0.shape[0], int)
    for o in sess.session.get_outputs():
        assert tuple(o.shape[1:]) == outs[o.name]
    card = sess.card
    for key in CARD_KEYS:
        assert key in card, f"{name}: card lacks {key}"
    assert card["parameters"] > 0 and card["metrics"] and card["onnx_max_abs_diff"] <= 1e-4
    assert card["data"]["split"] == {**card["data"]["split"], "train": 7200, "validation": 800, "test": 10000}
    assert card["train_command"].startswith("python -m core.train ")
    with np.load(exported_dir / "reference" / (name[:-5] + ".npz")) as ref:
        got = sess.run({inp: ref[f"in__{inp}"]})
        for o in outs:
            np.testing.assert_allclose(got[o], ref[f"out__{o}"], atol=1e-4)


def test_dcgan_card_says_what_differs_and_that_no_labels_were_used(manifest, exported_dir):
    card = open_session(exported_dir / "dcgan.generator.onnx", "cpu").card
    diffs = " ".join(card["differences_from_source"])
    for word in ("transposed convolutions", "BatchNorm", "tanh", "spectral", "no labels", "coach"):
        assert word in diffs, word
    assert card["training"]["labels_used"] is False
    assert card["training"]["selected_epoch"] == card["training"]["epochs"]  # the last epoch, no labelled choice
    assert card["config"]["z_dim"] == 100  # the text's GAN's noise size: same seed, same z


def test_timeline_and_history(manifest, exported_dir):
    card = open_session(exported_dir / "dcgan.generator.onnx", "cpu").card
    epochs = card["training"]["epochs"]
    tl = gc.load_timelines(exported_dir)
    dc, text = tl["dcgan"], tl["gan"]
    e = len(dc["epochs"])
    assert 2 <= e <= 12 and dc["images"].shape == (e, 64, 28, 28) and dc["images"].dtype == np.uint8
    assert dc["epochs"][0] == 1 and dc["epochs"][-1] == epochs and (np.diff(dc["epochs"]) > 0).all()
    assert dc["images"].shape[1:] == text["images"].shape[1:]  # same 64 noise vectors as the text's timeline
    assert dc["images"][-1].std() > 20 and dc["images"][-1].std() > 0.5 * dc["images"][0].std()
    hist = rt.load_history("dcgan", exported_dir)
    rows = hist["epochs"]
    assert len(rows) == epochs and [r["epoch"] for r in rows] == list(range(1, epochs + 1))
    assert all(np.isfinite(r["loss_d"]) and np.isfinite(r["loss_g"]) for r in rows)
    fids = [r["fid_val"] for r in rows if "fid_val" in r]
    assert len(fids) >= 3 and fids[-1] < 0.5 * fids[0]  # validation FID fell while training
    ff = rt.load_history("fid_features", exported_dir)["epochs"]
    assert ff[-1]["val_accuracy"] > 0.97


def test_side_by_side_data_from_one_seed(manifest, exported_dir):
    gens = gc.load_generators("cpu", exported_dir)
    discs = gc.load_discriminators("cpu", exported_dir)
    clf = open_session(exported_dir / "classifier.onnx", "cpu")
    real = rt.load_examples(exported_dir)["images"][:8]
    view = gc.side_by_side(gens, discs, clf, seed=7, n=6, real=real)
    np.testing.assert_array_equal(view["z"], rt.gan_noise(7, 6))
    for m in gc.MODELS:
        v = view["models"][m]
        assert v["images"].shape == (6, 1, 28, 28) and 0 <= v["images"].min() and v["images"].max() <= 1
        assert v["labels"].shape == (6,) and ((0 <= v["labels"]) & (v["labels"] <= 9)).all()
        assert ((0.1 <= v["confidence"]) & (v["confidence"] <= 1)).all()
        assert set(v["verdicts"]) == set(gc.MODELS)
        for p in v["verdicts"].values():
            assert p.shape == (6,) and ((0 <= p) & (p <= 1)).all()
        # the same seed gives the same images again; another seed other images
        again = gc.samples({m: gens[m]}, 7, 6)[m]
        np.testing.assert_array_equal(again, v["images"])
        assert not np.allclose(gc.samples({m: gens[m]}, 8, 6)[m], v["images"])
    assert view["real"]["images"].shape == (8, 1, 28, 28)
    assert not np.allclose(view["models"]["gan"]["images"], view["models"]["dcgan"]["images"])
    shares = gc.class_shares(gens, clf, n=200, seed=0)
    for m in gc.MODELS:
        assert shares[m]["counts"].sum() == 200 and shares[m]["fractions"].sum() == pytest.approx(1.0)
    with pytest.raises(ValueError):
        gc.samples(gens, 0, gc.MAX_SAMPLES + 1)
    rows = gc.quality_rows(gc.load_quality(exported_dir))
    assert [r["key"] for r in rows] == ["real", "blurred", "gan", "dcgan"]
    arch = gc.architecture({m: gens[m].card for m in gc.MODELS})
    assert arch[0]["labels_used"] is True and arch[1]["labels_used"] is False  # the text's GAN has the coach


def test_auc_and_verdict_summary(manifest, exported_dir):
    assert gc.auc([1, 2, 3], [0, 0, 0]) == 1.0 and gc.auc([0, 0], [0, 0]) == 0.5 and gc.auc([0], [1]) == 0.0
    rng = np.random.default_rng(0)
    assert 0.7 < gc.auc(rng.normal(1, 1, 500), rng.normal(0, 1, 500)) < 0.82  # Phi(1 / sqrt(2)) = 0.76
    gens = gc.load_generators("cpu", exported_dir)
    discs = gc.load_discriminators("cpu", exported_dir)
    real = rt.load_examples(exported_dir)["images"][:100]
    s = gc.verdict_summary(discs, gens, real, n=100)
    for d in gc.MODELS:
        assert set(s[d]["mean"]) == {"real", *gc.MODELS} and all(0 <= v <= 1 for v in s[d]["mean"].values())
        assert set(s[d]["auc"]) == set(gc.MODELS) and all(0 <= v <= 1 for v in s[d]["auc"].values())


def test_dcgan_without_fid_features_says_to_train_it_first(tmp_path, mnist_dir, capsys):
    from core.train import main

    rc = main(["dcgan", "--data-dir", str(mnist_dir), "--out", str(tmp_path / "o"), "--runs", str(tmp_path / "r"),
               "--quiet"])
    err = capsys.readouterr().err
    assert rc == 1 and "core.train fid_features" in err and "Traceback" not in err


def test_a_damaged_quality_table_names_the_rebuild_command(manifest, exported_dir, tmp_path):
    from core.manifest import ArtifactError, write_manifest

    table = json.loads((exported_dir / "dcgan_quality.json").read_text())
    del table["rows"]["blurred"]  # the blurred-digit reference must always be shown beside the generators
    (tmp_path / "dcgan_quality.json").write_text(json.dumps(table))
    write_manifest(tmp_path)
    with pytest.raises(ArtifactError, match="python -m core.train dcgan") as exc:
        gc.load_quality(tmp_path)
    assert exc.value.key == "errors.artifact.unexpected"


def test_quality_json_is_the_cards_figures(manifest, exported_dir):
    table = json.loads((exported_dir / "dcgan_quality.json").read_text())
    card = open_session(exported_dir / "dcgan.generator.onnx", "cpu").card["metrics"]
    assert card["fid"] == table["rows"]["dcgan"]["fid"] and card["fid_blur"] == table["rows"]["blurred"]["fid"]
    assert card["fid_real_floor"] == table["rows"]["real"]["fid"]
