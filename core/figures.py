"""Pure Plotly figure builders shared by the dashboard pages and their tests (numpy + plotly, no streamlit, no torch).

Every function takes plain arrays and returns a ``plotly.graph_objects.Figure``; none reads files or keeps state.
Images follow the ONNX convention: float in [0, 1] (or uint8), ink = 1, drawn light on dark like MNIST itself.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

PALETTE = (  # ten distinguishable colours, one per digit class (Plotly's D3 set)
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)
GAP_COLOR = "#f0f2f6"  # between tiles: the page's secondary background
_MARGIN = dict(l=10, r=10, t=40, b=10)


def _as_float(images: np.ndarray) -> np.ndarray:
    x = np.asarray(images)
    return x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)


def _image_axes(fig: go.Figure) -> None:
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x", constrain="domain")


def tile(images: np.ndarray, ncols: int, gap: int = 2) -> np.ndarray:
    """[N, H, W] -> one [rows*(H+gap)-gap, ncols*(W+gap)-gap] mosaic; gaps are NaN (drawn as blank)."""
    x = _as_float(images).reshape(-1, *np.asarray(images).shape[-2:])
    n, h, w = x.shape
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    out = np.full((nrows * (h + gap) - gap, ncols * (w + gap) - gap), np.nan, dtype=np.float32)
    for i in range(n):
        r, c = divmod(i, ncols)
        out[r * (h + gap): r * (h + gap) + h, c * (w + gap): c * (w + gap) + w] = x[i]
    return out


def digit_grid(images: np.ndarray, captions: Sequence[str] | None = None, ncols: int = 8, title: str = "",
               tile_px: int = 72) -> go.Figure:
    """A grid of digits with an optional caption under each (e.g. the classifier's label and D's score)."""
    x = _as_float(images).reshape(-1, *np.asarray(images).shape[-2:])
    n, h, w = x.shape
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    gap = 2 if not captions else 9
    mosaic = tile(x, ncols, gap)
    # uint8 travels as compact base64 (a float array with NaN gaps goes as text, ~5x larger): ink 0..254, gap 255.
    z = np.where(np.isnan(mosaic), 255, np.rint(np.clip(np.nan_to_num(mosaic), 0, 1) * 254)).astype(np.uint8)
    fig = go.Figure(go.Heatmap(z=z, zmin=0, zmax=255, showscale=False, hoverinfo="skip",
                               colorscale=[[0.0, "#000000"], [254 / 255, "#ffffff"], [1.0, GAP_COLOR]]))
    if captions:
        for i, text in enumerate(captions[:n]):
            r, c = divmod(i, ncols)
            fig.add_annotation(x=c * (w + gap) + w / 2 - 0.5, y=r * (h + gap) + h + gap / 2 - 0.5, text=str(text),
                               showarrow=False, font=dict(size=11), yanchor="middle")
    _image_axes(fig)
    fig.update_layout(title=title or None, margin=_MARGIN, plot_bgcolor="rgba(0,0,0,0)",
                      height=int(nrows * tile_px * (h + gap) / h) + (60 if title else 30),
                      width=None)
    return fig


def digit(image: np.ndarray, title: str = "", size: int = 220) -> go.Figure:
    """One digit, square."""
    fig = go.Figure(go.Heatmap(z=_as_float(image).reshape(np.asarray(image).shape[-2:]), colorscale="gray",
                               zmin=0, zmax=1, showscale=False,
                               hovertemplate="x=%{x} y=%{y} ink=%{z:.2f}<extra></extra>"))
    _image_axes(fig)
    fig.update_layout(title=title or None, margin=dict(l=5, r=5, t=35 if title else 5, b=5), height=size,
                      width=size)
    return fig


def reconstruction_panel(image: np.ndarray, recons: Mapping[str, np.ndarray], mse: Mapping[str, float] | None = None
                         ) -> go.Figure:
    """Input | for each model: reconstruction and |error| map, titled with its MSE."""
    x = _as_float(image).reshape(28, 28)
    names = list(recons)
    cols = 1 + 2 * len(names)
    titles = ["input"]
    for name in names:
        err = mse[name] if mse and name in mse else float(np.mean((_as_float(recons[name]).reshape(28, 28) - x) ** 2))
        titles += [f"{name}<br>MSE {err:.4f}", "|error|"]
    fig = make_subplots(rows=1, cols=cols, subplot_titles=titles, horizontal_spacing=0.015)
    fig.add_trace(go.Heatmap(z=x, colorscale="gray", zmin=0, zmax=1, showscale=False, name="input"), 1, 1)
    for i, name in enumerate(names):
        r = _as_float(recons[name]).reshape(28, 28)
        fig.add_trace(go.Heatmap(z=r, colorscale="gray", zmin=0, zmax=1, showscale=False, name=name), 1, 2 + 2 * i)
        fig.add_trace(go.Heatmap(z=np.abs(r - x), colorscale="Reds", zmin=0, zmax=1, showscale=(i == len(names) - 1),
                                 colorbar=dict(title="|err|", thickness=10), name=f"{name} error"), 1, 3 + 2 * i)
    for c in range(1, cols + 1):
        fig.update_xaxes(visible=False, constrain="domain", row=1, col=c)
        fig.update_yaxes(visible=False, autorange="reversed", scaleanchor=f"x{'' if c == 1 else c}",
                         constrain="domain", row=1, col=c)
    fig.update_annotations(font_size=12)
    fig.update_layout(margin=dict(l=10, r=10, t=60, b=10), height=280)
    return fig


def latent_scatter(z: np.ndarray, labels: np.ndarray, selected: tuple[float, float] | None = None,
                   title: str = "", mark: tuple[float, float] | None = None, mark_name: str = "your digit"
                   ) -> go.Figure:
    """2-D latent codes coloured by digit class; ``customdata`` carries the example index (for click handling).

    ``selected`` is the decoded point (a cross); ``mark`` another point to show, e.g. the code of the input digit.
    """
    z = np.asarray(z, dtype=np.float32)
    labels = np.asarray(labels)
    fig = go.Figure()
    for d in range(10):
        idx = np.nonzero(labels == d)[0]
        if idx.size == 0:
            continue
        fig.add_trace(go.Scatter(x=z[idx, 0], y=z[idx, 1], mode="markers", name=str(d), customdata=idx,
                                 marker=dict(size=6, color=PALETTE[d], opacity=0.75),
                                 hovertemplate=f"digit {d}<br>z=(%{{x:.2f}}, %{{y:.2f}})<br>"
                                               "#%{customdata}<extra></extra>"))
    if selected is not None:
        fig.add_trace(go.Scatter(x=[selected[0]], y=[selected[1]], mode="markers", name="decoded",
                                 marker=dict(size=16, symbol="x", color="black", line=dict(width=2, color="white")),
                                 hovertemplate="decoded point<br>z=(%{x:.2f}, %{y:.2f})<extra></extra>"))
    if mark is not None:
        fig.add_trace(go.Scatter(x=[mark[0]], y=[mark[1]], mode="markers", name=mark_name,
                                 marker=dict(size=18, symbol="star", color="gold", line=dict(width=1.5, color="black")),
                                 hovertemplate=f"{mark_name}<br>z=(%{{x:.2f}}, %{{y:.2f}})<extra></extra>"))
    fig.update_layout(title=title or None, margin=_MARGIN, height=460, xaxis_title="z₁", yaxis_title="z₂",
                      legend_title="digit")
    return fig


def attention_heatmap(weights: np.ndarray, x_labels: Sequence[str], y_labels: Sequence[str], title: str = "",
                      x_title: str = "input", y_title: str = "output", height: int | None = None) -> go.Figure:
    """weights [T, S] (rows: queries, e.g. output steps; columns: keys, e.g. input characters)."""
    w = np.asarray(weights, dtype=np.float32)
    xs = [_show(c) for c in x_labels]
    ys = [_show(c) for c in y_labels]
    xs, ys = _unique(xs), _unique(ys)
    fig = go.Figure(go.Heatmap(z=w, x=xs, y=ys, colorscale="Blues", zmin=0, zmax=max(1e-6, float(np.nanmax(w))),
                               colorbar=dict(title="weight", thickness=12),
                               hovertemplate=f"{y_title} %{{y}}<br>{x_title} %{{x}}<br>"
                                             "weight %{z:.3f}<extra></extra>"))
    # every character labelled (Plotly would skip some on narrow charts)
    fig.update_xaxes(title=x_title, type="category", tickangle=0, tickmode="array", tickvals=xs, ticktext=xs,
                     tickfont_size=10)
    fig.update_yaxes(title=y_title, type="category", autorange="reversed", tickmode="array", tickvals=ys, ticktext=ys,
                     tickfont_size=10)
    fig.update_layout(title=title or None, margin=dict(l=10, r=10, t=70 if title else 20, b=10),
                      height=height or max(260, 22 * len(ys) + 140))
    return fig


def attention_grid(weights: np.ndarray, x_labels: Sequence[str], y_labels: Sequence[str], title: str = "",
                   row_label: str = "head") -> go.Figure:
    """All heads of one layer ([H, T, S]) or all layers x heads ([L, H, T, S]) as small heatmaps."""
    w = np.asarray(weights, dtype=np.float32)
    if w.ndim == 3:
        w = w[None]
    n_layer, n_head = w.shape[:2]
    titles = [f"layer {l + 1} · {row_label} {h + 1}" for l in range(n_layer) for h in range(n_head)]
    fig = make_subplots(rows=n_layer, cols=n_head, subplot_titles=titles, horizontal_spacing=0.02,
                        vertical_spacing=0.08 if n_layer > 1 else 0.0)
    xs, ys = _unique([_show(c) for c in x_labels]), _unique([_show(c) for c in y_labels])
    for l in range(n_layer):
        for h in range(n_head):
            fig.add_trace(go.Heatmap(z=w[l, h], x=xs, y=ys, colorscale="Blues", zmin=0, zmax=1, showscale=False,
                                     hovertemplate="q %{y} · k %{x}: %{z:.3f}<extra></extra>"), l + 1, h + 1)
            fig.update_yaxes(autorange="reversed", type="category", showticklabels=(h == 0), row=l + 1, col=h + 1)
            fig.update_xaxes(type="category", showticklabels=False, row=l + 1, col=h + 1)
    fig.update_annotations(font_size=11)
    fig.update_layout(title=title or None, margin=dict(l=10, r=10, t=70 if title else 40, b=10),
                      height=max(220, 210 * n_layer + (30 if title else 0)))
    return fig


def bars(values: Sequence[float], labels: Sequence[str], title: str = "", y_title: str = "",
         highlight: int | None = None, height: int = 300, text_format: str = ".2f") -> go.Figure:
    """A plain bar chart (attention over the input for one step, class probabilities, class histogram)."""
    labels = _unique([_show(c) for c in labels])
    colors = ["#1f77b4"] * len(labels)
    if highlight is not None and 0 <= highlight < len(labels):
        colors[highlight] = "#d62728"
    fig = go.Figure(go.Bar(x=labels, y=list(values), marker_color=colors, texttemplate=f"%{{y:{text_format}}}",
                           textposition="outside", cliponaxis=False))
    fig.update_xaxes(type="category")
    fig.update_layout(title=title or None, yaxis_title=y_title, margin=dict(l=10, r=10, t=50 if title else 20, b=10),
                      height=height)
    return fig


def class_histogram(counts: Sequence[int], title: str = "Classifier labels of generated samples") -> go.Figure:
    """How many samples fell in each digit class, with the uniform expectation as a line."""
    counts = np.asarray(counts)
    fig = bars(counts, [str(i) for i in range(len(counts))], title=title, y_title="samples", text_format="d")
    expected = counts.sum() / max(1, len(counts))
    fig.add_hline(y=expected, line_dash="dot", line_color="gray", annotation_text=f"uniform {expected:.0f}")
    fig.update_xaxes(title="digit")
    return fig


def loss_curves(history: Sequence[Mapping], keys: Sequence[str] | None = None, title: str = "",
                marker_epoch: float | None = None, x_key: str = "epoch", y_title: str = "loss",
                height: int = 320) -> go.Figure:
    """Lines of each metric over epochs from a history's ``epochs`` list; a vertical marker at the chosen epoch."""
    rows = list(history)
    keys = list(keys) if keys else sorted({k for r in rows for k, v in r.items()
                                           if k != x_key and isinstance(v, (int, float))})
    fig = go.Figure()
    for k in keys:
        pts = [(r[x_key], r[k]) for r in rows if isinstance(r.get(k), (int, float))]
        if pts:
            fig.add_trace(go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="lines+markers", name=k))
    if marker_epoch is not None:
        fig.add_vline(x=marker_epoch, line_dash="dash", line_color="gray")
    fig.update_layout(title=title or None, xaxis_title=x_key, yaxis_title=y_title, margin=_MARGIN, height=height,
                      legend=dict(orientation="h", y=1.02, yanchor="bottom", x=1, xanchor="right"))
    return fig


def histogram(values: np.ndarray, title: str = "", x_title: str = "", nbins: int = 30) -> go.Figure:
    """A histogram of raw values (e.g. discriminator scores)."""
    fig = go.Figure(go.Histogram(x=np.asarray(values).ravel(), nbinsx=nbins, marker_color="#1f77b4"))
    fig.update_layout(title=title or None, xaxis_title=x_title, yaxis_title="count", margin=_MARGIN, height=300,
                      bargap=0.05)
    return fig


def memory_bars(rows: Sequence[Mapping], title: str = "Memory for the weights alone",
                fmt: Callable[[float], str] = lambda n: f"{n:.3g} B") -> go.Figure:
    """Grouped bars, log scale: rows of {"name", "fp32", "fp16", "int8"} in bytes; ``fmt`` writes hovers and ticks."""
    names = [r["name"] for r in rows]
    fig = go.Figure()
    for dtype, color in (("fp32", "#1f77b4"), ("fp16", "#ff7f0e"), ("int8", "#2ca02c")):
        vals = [r[dtype] for r in rows]
        fig.add_trace(go.Bar(x=names, y=vals, name=dtype, marker_color=color, customdata=[fmt(v) for v in vals],
                             hovertemplate=f"%{{x}}<br>{dtype}: %{{customdata}}<extra></extra>"))
    ticks = [10.0 ** k for k in range(0, 16, 3)]
    fig.update_yaxes(type="log", title="bytes", tickvals=ticks, ticktext=[fmt(t) for t in ticks])
    fig.update_layout(title=title or None, barmode="group", margin=_MARGIN, height=400,
                      legend=dict(orientation="h", y=1.02, yanchor="bottom", x=1, xanchor="right"))
    return fig


def _show(token: str) -> str:
    """Tokens as axis labels: make whitespace and specials visible."""
    t = str(token)
    return {" ": "␣", "": "∅", "\t": "⇥", "\n": "⏎"}.get(t, t)


def _unique(labels: Sequence[str]) -> list[str]:
    """Category axes merge equal labels; repeated characters (e.g. two '1's) need distinct names."""
    seen: dict[str, int] = {}
    out = []
    for lab in labels:
        n = seen.get(lab, 0)
        seen[lab] = n + 1
        out.append(lab if n == 0 else lab + "\u200b" * n)  # zero-width spaces: distinct yet invisible
    return out
