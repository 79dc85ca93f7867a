"""KID and precision/recall (core/runtime/quality.py) on synthetic data with known answers; numpy only, fast."""

import subprocess
import sys

import numpy as np
import pytest

from core.runtime import quality as q


def gauss(n, d=8, seed=0, shift=0.0, scale=1.0):
    return np.random.default_rng(seed).standard_normal((n, d)) * scale + shift


def test_quality_module_imports_no_torch():
    code = ("import sys, core.runtime.quality, core.runtime.gan_compare; "
            "bad = [m for m in sys.modules if m == 'torch' or m.startswith('streamlit')]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(q.EXPORTED.parent))


def test_kid_is_unbiased_near_zero_for_one_distribution():
    vals = [q.kid(gauss(600, seed=s), gauss(600, seed=100 + s), n_subsets=5, subset_size=300, seed=s)[0]
            for s in range(6)]
    # unbiased: same-distribution values straddle zero, some below it (a biased estimator stays above)
    assert min(vals) < 0 < max(vals)
    assert abs(np.mean(vals)) < 0.01


def test_kid_grows_with_the_difference_and_matches_a_direct_computation():
    a = gauss(400, seed=1)
    near, far = gauss(400, seed=2, shift=0.3), gauss(400, seed=3, shift=1.0)
    k_near, k_far = q.kid(a, near, n_subsets=4, subset_size=400)[0], q.kid(a, far, n_subsets=4, subset_size=400)[0]
    assert 0 < k_near < k_far
    # one subset that is the whole set: the textbook unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3
    x, y = a[:50], far[:50]
    kxx, kyy, kxy = [(u @ v.T / 8 + 1) ** 3 for u, v in ((x, x), (y, y), (x, y))]
    m = 50
    want = (kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean()
    got, std = q.kid(x, y, n_subsets=3, subset_size=50)
    assert got == pytest.approx(want, rel=1e-10) and std == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError):
        q.kid(x[:1], y[:1])


def test_knn_radii_match_brute_force():
    x = gauss(57, d=3, seed=4)
    d = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    want = np.sort(d, axis=1)[:, 3]  # column 0 is the point itself
    np.testing.assert_allclose(q.knn_radii(x, 3, chunk=10), want, rtol=1e-9, atol=1e-9)


def test_precision_recall_see_quality_and_coverage_apart():
    real = gauss(2000, d=4, seed=5)
    same = gauss(2000, d=4, seed=6)
    p, r = q.precision_recall(real, same)
    assert p > 0.9 and r > 0.9  # one distribution: nearly everything inside the other's manifold
    # mode collapse: every sample in the dense middle of the real cloud -> realistic (high precision), no coverage
    collapsed = gauss(2000, d=4, seed=7, scale=0.3)
    p, r = q.precision_recall(real, collapsed)
    assert p > 0.9 and r < 0.25
    # off the manifold: samples far from every real point -> no precision
    off = gauss(2000, d=4, seed=8, shift=6.0)
    p, r = q.precision_recall(real, off)
    assert p < 0.05 and r < 0.05
    # too spread out: covers the real data (high recall), many samples unrealistic (lower precision)
    wide = gauss(2000, d=4, seed=9, scale=2.5)
    p, r = q.precision_recall(real, wide)
    assert r > 0.8 and p < 0.5


def test_test_halves_are_disjoint_stratified_and_fixed():
    labels = np.repeat(np.arange(10), 100)
    a, b = q.test_halves(labels)
    assert len(a) == len(b) == 500 and not set(a) & set(b)
    assert (np.bincount(labels[a]) == 50).all()
    a2, _ = q.test_halves(labels)
    np.testing.assert_array_equal(a, a2)
