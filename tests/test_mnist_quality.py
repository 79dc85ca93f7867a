"""The issue's quality bars, recomputed on t10k from the committed ONNX files (ONNX Runtime only, no torch).

| model            | bar                         | reference             |
| autoencoder      | per-pixel MSE <= 0.0125     | PCA-32 ~ 0.0170       |
| conv_autoencoder | per-pixel MSE <= 0.0065     | PCA-32                |
| autoencoder_2d   | per-pixel MSE <= 0.042      | PCA-2 ~ 0.0558        |
| classifier       | accuracy >= 98.5 %          |                       |
| gan              | classifier-FID (10,000 samples vs t10k) <= 20; all 10 classes, none above 15 %  |
"""

import pytest

from core.data.mnist import load_mnist
from core.runtime import mnist as rt
from core.runtime.session import load_model

pytestmark = pytest.mark.slow

AE_BARS = {"autoencoder": 0.0125, "conv_autoencoder": 0.0065, "autoencoder_2d": 0.042}


@pytest.fixture(scope="module")
def test_set(mnist_dir):
    m = load_mnist(mnist_dir)
    return rt.to_model_input(m.test_images), m.test_labels, rt.to_model_input(m.train_images[m.split()[0]])


def model(name, exported_dir):
    try:
        return load_model(name, "cpu", exported_dir)  # also checks the file against the manifest's sha256
    except rt.UserError as exc:
        pytest.fail(f"committed model missing or changed: {exc}")


@pytest.mark.parametrize("name", list(AE_BARS))
def test_autoencoder_mse_bar(name, test_set, exported_dir):
    x, _, x_train = test_set
    enc, dec = model(f"{name}.encoder.onnx", exported_dir), model(f"{name}.decoder.onnx", exported_dir)
    z, rec = rt.reconstruct(enc, dec, x)
    mse = float(rt.mse_per_image(x, rec).mean())
    k = z.shape[1]
    pca_mse = float(rt.mse_per_image(x, rt.pca_reconstruct(rt.fit_pca(x_train, k), x)).mean())
    print(f"{name}: t10k MSE {mse:.5f} (bar {AE_BARS[name]}), PCA-{k} {pca_mse:.5f}")
    assert mse <= AE_BARS[name]
    assert mse < pca_mse  # the network beats the linear baseline at the same code size
    card = enc.card["metrics"]
    assert card["test_mse"] == pytest.approx(mse, abs=2e-6) and card["pca_mse"] == pytest.approx(pca_mse, abs=2e-6)


def test_committed_pca_is_the_training_split_pca(test_set, exported_dir):
    x, _, _ = test_set
    pca = rt.load_pca(exported_dir)
    mse32 = float(rt.mse_per_image(x, rt.pca_reconstruct(pca, x)).mean())
    mse2 = float(rt.mse_per_image(x, rt.pca_reconstruct(pca, x, 2)).mean())
    assert 0.012 < mse32 < 0.025 and 0.045 < mse2 < 0.07, (mse32, mse2)


def test_classifier_accuracy_bar(test_set, exported_dir):
    x, y, _ = test_set
    clf = model("classifier.onnx", exported_dir)
    logits, feats = rt.classify(clf, x)
    acc = float((logits.argmax(1) == y).mean())
    print(f"classifier: t10k accuracy {acc:.4f}")
    assert acc >= 0.985
    assert clf.card["metrics"]["test_accuracy"] == pytest.approx(acc, abs=1e-5)


@pytest.fixture(scope="module")
def gan_samples(test_set, exported_dir):
    """10,000 samples of the committed G (the card's noise seed) with the classifier's labels and features."""
    x, _, _ = test_set
    g, clf = model("gan.generator.onnx", exported_dir), model("classifier.onnx", exported_dir)
    card = g.card["metrics"]
    imgs = rt.run_batched(g, "z", rt.gan_noise(card["noise_seed"], 10_000))["image"]
    assert imgs.shape == (10_000, 1, 28, 28) and imgs.min() >= 0 and imgs.max() <= 1
    logits, feats = rt.classify(clf, imgs)
    _, real = rt.classify(clf, x)
    # a second, fresh noise batch: the figures must not hinge on one lucky seed
    fresh = rt.run_batched(g, "z", rt.gan_noise(card["noise_seed"] + 777, 5000))["image"]
    fresh_logits, fresh_feats = rt.classify(clf, fresh)
    return {"card": card, "logits": logits, "labels": logits.argmax(1), "feats": feats,
            "real": real, "fresh_logits": fresh_logits, "fresh_feats": fresh_feats}


def test_gan_classifier_fid_bar(gan_samples):
    s = gan_samples
    fid = rt.frechet_distance(s["feats"], s["real"])
    floor = rt.frechet_distance(s["real"][:5000], s["real"][5000:])
    print(f"gan: classifier-FID {fid:.2f} (bar 20), real-vs-real floor {floor:.2f}")
    assert fid <= 20
    assert floor < fid  # the floor is what real digits score; samples cannot beat it
    assert s["card"]["fid_test"] == pytest.approx(fid, abs=0.01)
    assert s["card"]["fid_real_floor"] == pytest.approx(floor, abs=0.01)
    # a freshly drawn noise batch tells the same story (the figure is not a lucky seed)
    assert rt.frechet_distance(s["fresh_feats"], s["real"]) <= 22


def test_gan_class_coverage_bar(gan_samples):
    s = gan_samples
    frac = rt.class_histogram(s["labels"])
    print(f"gan: class fractions {frac.round(3)}")
    assert s["card"]["class_fractions"] == pytest.approx(frac.tolist(), abs=1e-4)
    assert (frac > 0).all()  # all 10 classes
    assert frac.max() <= 0.15
    # not a lucky seed: a fresh noise batch keeps every class near its tenth
    frac2 = rt.class_histogram(s["fresh_logits"].argmax(1))
    assert frac2.min() >= 0.05 and frac2.max() <= 0.16


def test_gan_samples_are_recognisable_digits(gan_samples):
    """The card's confident_fraction: how often the judge is >= 90 % sure of a sample (real digits beside it)."""
    s = gan_samples
    conf = rt.confident_fraction(s["logits"])
    print(f"gan: judge >= 90 % sure of {conf:.3f} of samples (real: {s['card']['confident_fraction_real']:.3f})")
    assert s["card"]["confident_fraction"] == pytest.approx(conf, abs=1e-4)
    assert conf > 0.5 * s["card"]["confident_fraction_real"]
