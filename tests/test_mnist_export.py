"""Export round trip on fresh small models (tmp dir), the committed artifacts' cards, manifest and references,
and the CLI's clear errors."""

import json

import numpy as np
import onnx
import pytest
import torch

from core.atomic import sha256_file
from core.export import export_onnx, finish, validate_onnx
from core.manifest import read_manifest
from core.models.autoencoder import Autoencoder, AutoencoderConfig
from core.models.classifier import Classifier, ClassifierConfig
from core.models.conv_autoencoder import ConvAutoencoder, ConvAutoencoderConfig
from core.models.gan import Discriminator, DiscriminatorUnit, GanConfig, Generator, GeneratorUnit
from core.runtime import mnist as rt
from core.runtime.session import open_session
from core.training.mnist import export_checked, image_dim, rand_images, rand_z

ONNX_FILES = {  # file -> (input name, input shape tail, {output name: shape tail})
    "autoencoder.encoder.onnx": ("image", (1, 28, 28), {"z": (32,)}),
    "autoencoder.decoder.onnx": ("z", (32,), {"image": (1, 28, 28)}),
    "autoencoder_2d.encoder.onnx": ("image", (1, 28, 28), {"z": (2,)}),
    "autoencoder_2d.decoder.onnx": ("z", (2,), {"image": (1, 28, 28)}),
    "conv_autoencoder.encoder.onnx": ("image", (1, 28, 28), {"z": (32,)}),
    "conv_autoencoder.decoder.onnx": ("z", (32,), {"image": (1, 28, 28)}),
    "gan.generator.onnx": ("z", (100,), {"image": (1, 28, 28)}),
    "gan.discriminator.onnx": ("image", (1, 28, 28), {"logit": (1,)}),
    "classifier.onnx": ("image", (1, 28, 28), {"logits": (10,), "features": (None,)}),
}
CARD_KEYS = ("name", "architecture", "config", "parameters", "data", "metrics", "preprocessing", "seed", "versions",
             "differences_from_source", "train_command", "inputs", "outputs")


def trained_bn(module):
    """Give BatchNorm layers non-trivial running statistics, as training would."""
    for m in module.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    return module.eval()


@pytest.mark.parametrize("kind", ["autoencoder", "conv_autoencoder", "classifier", "gan"])
def test_fresh_models_round_trip_through_onnx(kind, tmp_path):
    torch.manual_seed(0)
    if kind == "autoencoder":
        model = Autoencoder(AutoencoderConfig())
        parts = [(model.encoder, "image", ["z"], rand_images), (model.decoder, "z", ["image"], rand_z(32))]
    elif kind == "conv_autoencoder":
        model = trained_bn(ConvAutoencoder(ConvAutoencoderConfig(channels=(8, 16))))
        parts = [(model.encoder, "image", ["z"], rand_images), (model.decoder, "z", ["image"], rand_z(32))]
    elif kind == "classifier":
        model = trained_bn(Classifier(ClassifierConfig(channels=(8, 16), n_features=32)))
        parts = [(model, "image", ["logits", "features"], rand_images)]
    else:
        cfg = GanConfig(g_hidden=(32, 64))
        parts = [(GeneratorUnit(trained_bn(Generator(cfg))), "z", ["image"], rand_z(100)),
                 (DiscriminatorUnit(Discriminator(cfg).eval().fold_spectral_norm()), "image", ["logit"], rand_images)]
    for i, (module, inp, outs, make) in enumerate(parts):
        path = tmp_path / f"{kind}.{i}.onnx"
        card = {"name": f"{kind}.{i}", "metrics": {}}
        worst = export_checked(module, make(2), path, inp, outs, card, make)  # validates at batch 3 and 7
        assert worst <= 1e-4
        assert not list(tmp_path.glob("*.data"))  # one self-contained file
        model_proto = onnx.load(str(path))
        assert not any(n.metadata_props for n in model_proto.graph.node)  # stack traces with local paths stripped
        sess = open_session(path, "cpu")
        assert sess.inputs == [inp] and sess.outputs == outs
        assert sess.card["name"] == f"{kind}.{i}"
        for n in (1, 5):  # batch axis really dynamic, including 1
            x = make(n)
            got = sess.run({inp: x.numpy()})
            with torch.no_grad():
                want = module(x)
            want = want if isinstance(want, tuple) else (want,)
            for name, w in zip(outs, want):
                np.testing.assert_allclose(got[name], w.numpy(), atol=1e-4)
    manifest = finish(tmp_path)
    assert set(manifest["files"]) == {p.name for p in tmp_path.glob("*.onnx")}


def test_validation_fails_loudly_when_onnx_and_torch_disagree(tmp_path):
    from core.export import ExportError

    model = Autoencoder(AutoencoderConfig()).decoder.eval()
    path = tmp_path / "dec.onnx"
    export_onnx(model, (rand_z(32)(2),), path, ["z"], ["image"], ({0: image_dim()},), {"name": "dec"})
    with torch.no_grad():
        model.net[0].weight.add_(0.1)  # the graph no longer matches the module
    with pytest.raises(ExportError, match="differs"):
        validate_onnx(path, model, lambda n: (rand_z(32)(n),), ["z"])


# ------------------------------------------------------------------------------------------ committed artifacts


@pytest.fixture(scope="module")
def manifest(exported_dir):
    m = read_manifest(exported_dir)
    missing = [f for f in ONNX_FILES if f not in m["files"]]
    if missing:
        pytest.skip(f"MNIST models not exported yet ({', '.join(missing)}): run `python -m core.train all`")
    return m


def test_manifest_matches_every_mnist_file(manifest, exported_dir):
    names = list(ONNX_FILES) + ["examples.npz", "pca.npz", "gan_timeline.npz"]
    names += [f"history/{m}.json" for m in ("autoencoder", "autoencoder_2d", "conv_autoencoder", "gan", "classifier")]
    names += [f"reference/{f[:-5]}.npz" for f in ONNX_FILES]
    for name in names:
        entry = manifest["files"][name]
        path = exported_dir / name
        assert entry["sha256"] == sha256_file(path), name
        assert entry["bytes"] == path.stat().st_size, name
        assert entry["rebuild"].startswith("python -m core.train")
    mnist_bytes = sum(manifest["files"][n]["bytes"] for n in names)
    assert mnist_bytes < 16e6, mnist_bytes  # the MNIST share of exported/ (all of it must stay under ~25 MB)


@pytest.mark.parametrize("name", list(ONNX_FILES))
def test_committed_onnx_contract_and_card(manifest, exported_dir, name):
    inp, in_tail, outs = ONNX_FILES[name]
    sess = open_session(exported_dir / name, "cpu")
    assert sess.inputs == [inp] and sess.outputs == list(outs)
    i0 = sess.session.get_inputs()[0]
    assert i0.type == "tensor(float)" and tuple(i0.shape[1:]) == in_tail and not isinstance(i0.shape[0], int)
    for o in sess.session.get_outputs():
        tail = outs[o.name]
        assert len(o.shape) == 1 + len(tail)
        assert all(t is None or t == s for t, s in zip(tail, o.shape[1:]))
    card = sess.card
    for key in CARD_KEYS:
        assert key in card, f"{name}: card lacks {key}"
    assert card["parameters"] > 0 and card["metrics"]
    shas = card["data"]["files_sha256"]
    assert len(shas) == 4 and all(len(v) == 64 for v in shas.values())
    assert card["data"]["split"]["validation"] > 0 and "t10k" in card["data"]["split"]["test_from"]
    assert card["train_command"].startswith("python -m core.train ")
    assert card["onnx_max_abs_diff"] <= 1e-4
    # the parity reference: ORT alone reproduces PyTorch's outputs
    with np.load(exported_dir / "reference" / (name[:-5] + ".npz")) as ref:
        got = sess.run({inp: ref[f"in__{inp}"]})
        for o in outs:
            np.testing.assert_allclose(got[o], ref[f"out__{o}"], atol=1e-4)


def test_committed_npz_and_histories(manifest, exported_dir):
    ex = rt.load_examples(exported_dir)
    assert ex["images"].shape == (500, 28, 28) and ex["images"].dtype == np.uint8
    assert ex["labels"].shape == (500,) and ex["labels"].dtype == np.int64 and set(ex["labels"]) == set(range(10))
    pca = rt.load_pca(exported_dir)
    assert pca["mean"].shape == (784,) and pca["components"].shape == (32, 784) and pca["mean"].dtype == np.float32
    tl = rt.load_timeline(exported_dir)
    e = len(tl["epochs"])
    assert tl["images"].shape == (e, 64, 28, 28) and tl["images"].dtype == np.uint8 and e >= 2
    np.testing.assert_array_equal(tl["epochs"], np.arange(1, e + 1))
    assert tl["images"][-1].std() > tl["images"][0].std() * 0.5  # not a blank timeline
    for model in ("autoencoder", "autoencoder_2d", "conv_autoencoder", "gan", "classifier"):
        h = rt.load_history(model, exported_dir)
        assert h["model"] == model and h["epochs"] and h["epochs"][0]["epoch"] == 1
    gan = rt.load_history("gan", exported_dir)["epochs"]
    assert all("loss_d" in r and "loss_g" in r for r in gan) and any("fid_val" in r for r in gan)
    assert len(gan) == e


def test_gan_card_lists_what_differs_from_the_text(manifest, exported_dir):
    card = open_session(exported_dir / "gan.generator.onnx", "cpu").card
    diffs = " ".join(card["differences_from_source"])
    for word in ("tanh", "BatchNorm", "label smoothing", "non-saturating"):
        assert word in diffs


# ------------------------------------------------------------------------------------------ CLI errors


def test_cli_errors_are_one_clear_line(tmp_path, capsys, monkeypatch):
    from core.train import main

    monkeypatch.delenv("MNIST_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    (tmp_path / "nothing").mkdir()  # a folder without MNIST (a missing one is a usage error: tests/test_train_cli.py)
    rc = main(["autoencoder", "--data-dir", str(tmp_path / "nothing"), "--out", str(tmp_path / "o"),
               "--runs", str(tmp_path / "r"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 1 and err.startswith("error:") and "MNIST_DIR" in err and "Traceback" not in err
    rc = main(["gan", "--out", str(tmp_path / "o"), "--runs", str(tmp_path / "r"), "--quiet",
               "--data-dir", str(tmp_path / "nothing")])
    assert rc == 1 and "error:" in capsys.readouterr().err


def test_gan_without_classifier_says_to_train_it_first(tmp_path, mnist_dir, capsys):
    from core.train import main

    rc = main(["gan", "--data-dir", str(mnist_dir), "--out", str(tmp_path / "o"), "--runs", str(tmp_path / "r"),
               "--quiet"])
    assert rc == 1 and "core.train classifier" in capsys.readouterr().err


def test_trainer_end_to_end_one_epoch_then_export_only(tmp_path, mnist_dir):
    """One real epoch of the dense autoencoder into a tmp dir: history, checkpoint, ONNX pair, card, manifest."""
    from core.train import main

    args = ["autoencoder", "--epochs", "1", "--data-dir", str(mnist_dir), "--out", str(tmp_path / "o"),
            "--runs", str(tmp_path / "r"), "--quiet"]
    assert main(args) == 0
    out = tmp_path / "o"
    hist = json.loads((out / "history" / "autoencoder.json").read_text())
    assert len(hist["epochs"]) == 1 and hist["epochs"][0]["val_mse"] < 0.12
    assert (tmp_path / "r" / "autoencoder" / "best.pt").is_file()
    card = open_session(out / "autoencoder.encoder.onnx", "cpu").card
    assert card["metrics"]["test_mse"] < 0.12 and card["metrics"]["pca_components"] == 32
    first = sha256_file(out / "autoencoder.decoder.onnx")
    assert main(args + ["--export-only"]) == 0  # from the checkpoint, no training
    assert len(json.loads((out / "history" / "autoencoder.json").read_text())["epochs"]) == 1
    dec = open_session(out / "autoencoder.decoder.onnx", "cpu")
    ref = np.load(out / "reference" / "autoencoder.decoder.npz")
    np.testing.assert_allclose(dec.run({"z": ref["in__z"]})["image"], ref["out__image"], atol=1e-4)
    assert read_manifest(out)["files"]["autoencoder.decoder.onnx"]["sha256"] == sha256_file(out / "autoencoder.decoder.onnx")
    assert first  # (the re-export may differ only in the card's date)
