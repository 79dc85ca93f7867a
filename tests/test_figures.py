"""The pure Plotly builders: right traces, right data, labels that survive repeated characters."""

import numpy as np
import plotly.graph_objects as go
import pytest

from core import figures as F


def test_tile_and_digit_grid():
    imgs = np.stack([np.full((28, 28), i / 10, np.float32) for i in range(10)])
    mosaic = F.tile(imgs, ncols=4, gap=2)
    assert mosaic.shape == (3 * 30 - 2, 4 * 30 - 2)
    assert mosaic[0, 0] == 0.0 and mosaic[0, 30] == pytest.approx(0.1) and np.isnan(mosaic[0, 28])
    assert np.isnan(mosaic[-1, -1])  # the last row has only 2 of 4 tiles
    fig = F.digit_grid(imgs, captions=[f"#{i}" for i in range(10)], ncols=5)
    assert isinstance(fig, go.Figure) and len(fig.data) == 2  # the digits and their captions
    assert list(fig.data[1].text) == [f"#{i}" for i in range(10)]
    # each caption under its tile: tile i's centre column and just below its bottom row
    assert list(fig.data[1].x[:6]) == [13.5, 50.5, 87.5, 124.5, 161.5, 13.5] and fig.data[1].y[5] > 28
    z = np.asarray(fig.data[0].z)
    assert z.dtype == np.uint8 and z[0, 0] == 0 and z[0, 37] == round(0.1 * 254) and (z == 255).any()  # 255 = gap
    u8 = F.digit_grid((imgs * 255).astype(np.uint8), ncols=5)
    assert np.asarray(u8.data[0].z)[0, 30 * 4 + 5] == round(0.4 * 254)  # uint8 input is scaled the same way


def test_reconstruction_panel_titles_carry_each_mse():
    x = np.zeros((28, 28), np.float32)
    r = np.full((1, 1, 28, 28), 0.5, np.float32)
    fig = F.reconstruction_panel(x, {"MLP": r, "PCA": np.zeros((28, 28))})
    assert len(fig.data) == 1 + 2 * 2
    titles = [a.text for a in fig.layout.annotations]
    assert "MSE 0.2500" in titles[1] and "MSE 0.0000" in titles[3]
    err = np.asarray(fig.data[2].z)
    assert err.max() == pytest.approx(0.5)


def test_latent_scatter_groups_by_label_with_indices():
    z = np.random.default_rng(0).normal(size=(50, 2))
    labels = np.arange(50) % 10
    fig = F.latent_scatter(z, labels, selected=(0.1, -0.2))
    assert len(fig.data) == 11
    assert list(fig.data[3].customdata) == list(range(3, 50, 10))
    assert fig.data[-1].x == (0.1,)
    marked = F.latent_scatter(z, labels, mark=(1.0, 2.0), mark_name="yours")
    assert marked.data[-1].name == "yours" and marked.data[-1].y == (2.0,)


def test_attention_heatmap_keeps_repeated_characters_apart():
    w = np.eye(4, 5)
    fig = F.attention_heatmap(w, ["1", "1", " ", "2", "1"], ["2", "0", "0", "<eos>"])
    xs, ys = list(fig.data[0].x), list(fig.data[0].y)
    assert len(set(xs)) == 5 and len(set(ys)) == 4
    assert xs[2] == "␣" and xs[1].startswith("1") and xs[1] != xs[0]
    assert np.asarray(fig.data[0].z).shape == (4, 5)


def test_attention_grid_one_panel_per_layer_and_head():
    w = np.random.default_rng(1).random((2, 4, 3, 5))
    fig = F.attention_grid(w, list("abcde"), list("xyz"))
    assert len(fig.data) == 8
    np.testing.assert_allclose(np.asarray(fig.data[5].z), w[1, 1])
    assert len(F.attention_grid(w[0], list("abcde"), list("xyz")).data) == 4


def test_bars_histogram_and_loss_curves():
    fig = F.bars([0.1, 0.7, 0.2], ["a", "b", "c"], highlight=1)
    assert list(fig.data[0].y) == [0.1, 0.7, 0.2] and fig.data[0].marker.color[1] != fig.data[0].marker.color[0]
    h = F.class_histogram(np.array([100] * 10))
    assert list(h.data[0].y) == [100] * 10
    rows = [{"epoch": e, "loss_d": 1 / e, "loss_g": 2.0} for e in range(1, 4)]
    lc = F.loss_curves(rows, ["loss_d", "loss_g"], marker_epoch=2)
    assert [t.name for t in lc.data] == ["loss_d", "loss_g"] and list(lc.data[0].x) == [1, 2, 3]
    assert len(F.loss_curves(rows).data) == 2  # keys found by themselves
    assert len(F.histogram(np.arange(10)).data) == 1


def test_score_bars_put_the_references_in_grey_on_one_log_scale():
    fig = F.score_bars(["floor", "blurred", "gan", "dcgan"], [0.078, 6.25, 9.49, 1.94], [True, True, False, False])
    bar = fig.data[0]
    assert list(bar.x) == [0.078, 6.25, 9.49, 1.94] and bar.orientation == "h"
    colors = list(bar.marker.color)
    assert colors[0] == colors[1] and len({colors[0], colors[2], colors[3]}) == 3  # references alike, models apart
    lo, hi = fig.layout.xaxis.range
    assert fig.layout.xaxis.type == "log" and lo < np.log10(0.078) and hi > np.log10(9.49)  # every bar on the axis
    assert F.score_bars(["a", "b"], [0.0, -1.0], [True, False]).layout.xaxis.type == "linear"  # no positive value


def test_memory_bars_log_scale_and_labels():
    rows = [{"name": "m", "fp32": 4e9, "fp16": 2e9, "int8": 1e9}]
    fig = F.memory_bars(rows, fmt=lambda n: f"{n / 1e9:.0f} GB")
    assert fig.layout.yaxis.type == "log" and [t.name for t in fig.data] == ["fp32", "fp16", "int8"]
    assert fig.data[0].customdata == ("4 GB",) and "1 GB" in fig.layout.yaxis.ticktext


def test_a_cached_figure_sends_what_was_built_and_copies_it_once():
    """ui.fig's shared figures make their dict form once (st.plotly_chart asks for it on every run); what a chart
    sends is unchanged, and the figure is still a plotly Figure that Streamlit accepts."""
    import plotly.io as pio

    import ui

    w = np.random.default_rng(3).random((5, 7)).astype(np.float32)
    args = (w, list("abcdefg"), list("vwxyz"))
    built = F.attention_heatmap(*args, title="t")
    cached = ui.fig(F.attention_heatmap, *args, title="t")
    assert isinstance(cached, go.Figure)
    assert pio.to_json(cached, validate=False) == pio.to_json(built, validate=False)
    assert cached.to_dict() is cached.to_dict()
    assert ui.fig(F.attention_heatmap, *args, title="t") is cached
    other = ui.fig(F.attention_heatmap, w * 0.5, *args[1:], title="t")
    assert pio.to_json(other, validate=False) != pio.to_json(cached, validate=False)
