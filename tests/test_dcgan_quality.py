"""Sample quality of both GANs, recomputed on t10k from the committed ONNX files (ONNX Runtime only, no torch).

Every set has 5,000 images and is compared with the same reference (t10k half B, class-stratified, seed 0):
real half A (the floor), half A blurred 3x3, 5,000 samples of each generator (noise seed 12345).

| bar                                                                     | why                                   |
| fid_features: blurred FID >= 20x the real-vs-real floor; KID likewise   | the features see blur                 |
| DCGAN: FID and KID below blurred real digits'                           | better than blurred digits            |
| DCGAN: all 10 classes (classifier.onnx's labels), none above 13 %       | no mode collapse, without labels      |
"""

import numpy as np
import pytest

from core.data.mnist import load_mnist
from core.runtime import gan_compare as gc
from core.runtime import mnist as rt
from core.runtime import quality as q
from core.runtime.session import load_model

pytestmark = pytest.mark.slow


def model(name, exported_dir):
    try:
        return load_model(name, "cpu", exported_dir)  # also checks the file against the manifest's sha256
    except rt.UserError as exc:
        pytest.skip(f"{name} not exported here ({exc})")


@pytest.fixture(scope="module")
def measured(mnist_dir, exported_dir):
    m = load_mnist(mnist_dir)
    ext, clf = model(q.FEATURES_FILE, exported_dir), model("classifier.onnx", exported_dir)
    gens = {"dcgan": model("dcgan.generator.onnx", exported_dir), "gan": model("gan.generator.onnx", exported_dir)}
    table = q.quality_table(ext, m.test_images, m.test_labels, gens, classifier=clf)
    return {"table": table, "rows": table["rows"], "mnist": m, "ext": ext, "clf": clf, "gens": gens}


def test_features_see_blur(measured):
    r = measured["rows"]
    real, blur = r["real"], r["blurred"]
    print(f"fid_features: floor FID {real['fid']:.3f}, blurred {blur['fid']:.3f}; "
          f"KID x1000 floor {real['kid_x1000']:.3f} ± {real['kid_x1000_std']:.3f}, blurred {blur['kid_x1000']:.3f}")
    assert blur["fid"] >= 20 * real["fid"]
    assert blur["kid_x1000"] >= 20 * max(real["kid_x1000"], real["kid_x1000_std"])
    assert abs(real["kid_x1000"]) < 3 * real["kid_x1000_std"] + 0.05  # unbiased: the floor sits near zero
    # blurring keeps digits inside the real manifold (precision) but squeezes them into a corner of it (recall)
    assert real["precision"] > 0.8 and real["recall"] > 0.8
    assert blur["recall"] < 0.3 * real["recall"]
    assert blur["fid_strokes"] >= 100 * real["fid_strokes"]  # stroke statistics alone: blur is unmistakable


def test_dcgan_beats_blurred_digits_and_covers_every_class(measured):
    r = measured["rows"]
    dc, blur = r["dcgan"], r["blurred"]
    print(f"dcgan: FID {dc['fid']:.3f} (blurred {blur['fid']:.3f}, floor {r['real']['fid']:.3f}), "
          f"KID x1000 {dc['kid_x1000']:.3f}, precision {dc['precision']:.3f}, recall {dc['recall']:.3f}, "
          f"classes {np.round(dc['class_fractions'], 3)}")
    assert dc["fid"] < blur["fid"] and dc["kid_x1000"] < blur["kid_x1000"]
    assert dc["fid"] > r["real"]["fid"]  # samples cannot beat real digits
    frac = np.array(dc["class_fractions"])
    assert (frac > 0.02).all() and frac.max() <= 0.13


def test_dcgan_figures_hold_on_a_fresh_noise_batch(measured):
    """Not one lucky seed: 5,000 samples from another seed, against the same reference."""
    s = measured
    ref = q.features(s["ext"], q.reference_sets(s["mnist"].test_images, s["mnist"].test_labels)["reference"])  # (5000, 128)
    imgs = q.generate(s["gens"]["dcgan"], seed=q.NOISE_SEED + 777)
    fid = rt.frechet_distance(q.features(s["ext"], imgs), ref)
    frac = rt.class_histogram(rt.classify(s["clf"], imgs)[0].argmax(1))
    assert fid < s["rows"]["blurred"]["fid"] and abs(fid - s["rows"]["dcgan"]["fid"]) < 0.25 * s["rows"]["dcgan"]["fid"]
    assert frac.max() <= 0.14 and frac.min() >= 0.04


def test_dcgan_is_better_than_the_text_gan(measured):
    r = measured["rows"]
    print(f"text's GAN: FID {r['gan']['fid']:.3f}, KID x1000 {r['gan']['kid_x1000']:.3f}, "
          f"precision {r['gan']['precision']:.3f}, recall {r['gan']['recall']:.3f}")
    assert r["dcgan"]["fid"] < r["gan"]["fid"] and r["dcgan"]["kid_x1000"] < r["gan"]["kid_x1000"]
    assert r["dcgan"]["precision"] > r["gan"]["precision"]


def test_both_judges_find_dcgan_samples_harder_to_tell_from_real(measured, exported_dir):
    """Each D's AUC (real t10k digits against a G's samples, same noise): 0.5 = cannot tell them apart."""
    s = measured
    discs = gc.load_discriminators("cpu", exported_dir)
    real = q.reference_sets(s["mnist"].test_images, s["mnist"].test_labels)["real"][:gc.MAX_SAMPLES]
    v = gc.verdict_summary(discs, s["gens"], real, n=gc.MAX_SAMPLES, seed=q.NOISE_SEED)
    print({d: {m: round(a, 3) for m, a in v[d]["auc"].items()} for d in v})
    for d in gc.MODELS:
        assert v[d]["auc"]["dcgan"] < v[d]["auc"]["gan"], d
    committed = gc.load_quality(exported_dir)["verdicts"]
    for d in gc.MODELS:
        for m in gc.MODELS:
            assert committed[d]["auc"][m] == pytest.approx(v[d]["auc"][m], abs=1e-6)


def test_committed_figures_are_the_recomputed_ones(measured, exported_dir):
    rows = measured["rows"]
    committed = gc.load_quality(exported_dir)["rows"]
    card = measured["gens"]["dcgan"].card["metrics"]
    for k in ("real", "blurred", "dcgan", "gan"):
        for key in ("fid", "kid_x1000", "precision", "recall", "fid_strokes"):
            assert committed[k][key] == pytest.approx(rows[k][key], abs=2e-3, rel=1e-3), (k, key)
    assert card["fid"] == pytest.approx(rows["dcgan"]["fid"], abs=2e-3, rel=1e-3)
    assert card["class_fractions"] == pytest.approx(rows["dcgan"]["class_fractions"], abs=1e-4)
    ext_card = measured["ext"].card["metrics"]
    assert ext_card["fid_features_blur"] == pytest.approx(rows["blurred"]["fid"], abs=2e-3, rel=1e-3)


def test_the_old_floor_was_a_writer_shift(measured):
    """classifier-FID's floor compared t10k's first and second halves, which come from different writers; two
    random halves give a far lower floor, so the old figure made every GAN look close to real digits."""
    s = measured
    x = rt.to_model_input(s["mnist"].test_images)
    feats = rt.classify(s["clf"], x)[1]
    a, b = q.test_halves(s["mnist"].test_labels)
    ordered = rt.frechet_distance(feats[:5000], feats[5000:])
    random = rt.frechet_distance(feats[a], feats[b])
    print(f"classifier-FID floor: first vs second half {ordered:.3f}, random halves {random:.3f}")
    assert ordered > 5 * random
