"""Pure Plotly figure builders shared by the dashboard pages and their tests (numpy + plotly, no streamlit, no torch).

Every function takes plain arrays and returns a ``plotly.graph_objects.Figure``; none reads files or keeps state.
Images follow the ONNX convention: float in [0, 1] (or uint8), ink = 1, drawn light on dark like MNIST itself.

Each figure is built in one ``go.Figure(data, layout)`` call from plain dicts: Plotly validates every
``update_*``/``add_*``/``make_subplots`` call separately, which costs ~25 ms per figure, an eighth of a page's
rerun budget.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from core.i18n import DEFAULT, t

PALETTE = (  # ten distinguishable colours, one per digit class (Plotly's D3 set)
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)
GAP_COLOR = "#f0f2f6"  # between tiles: the page's secondary background
_MARGIN = dict(l=10, r=10, t=40, b=10)
_GRAY = [[0.0, "#000000"], [1.0, "#ffffff"]]
_HIDDEN = dict(visible=False, constrain="domain")


def _as_float(images: np.ndarray) -> np.ndarray:
    x = np.asarray(images)
    return x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)


def _title(text: str) -> dict | None:
    return dict(text=text) if text else None


def _grid(rows: int, cols: int, hspace: float, vspace: float, titles: Sequence[str] = (),
          title_size: int = 12) -> tuple[dict, list[tuple[str, str]]]:
    """Axes for a rows x cols grid of panels (what make_subplots does, without its cost).

    Returns the layout entries (xaxis, yaxis, xaxis2, ... with domains; one annotation per panel title) and, per
    panel in row-major order, the (xref, yref) names a trace uses ("x", "y"), ("x2", "y2"), ...
    """
    w = (1.0 - hspace * (cols - 1)) / cols
    h = (1.0 - vspace * (rows - 1)) / rows
    layout: dict = {}
    refs, annotations = [], []
    for r in range(rows):
        for c in range(cols):
            i = r * cols + c + 1
            sx = "" if i == 1 else str(i)
            x0 = c * (w + hspace)
            y1 = 1.0 - r * (h + vspace)
            layout[f"xaxis{sx}"] = dict(domain=[_unit(x0), _unit(x0 + w)], anchor=f"y{sx}")
            layout[f"yaxis{sx}"] = dict(domain=[_unit(y1 - h), _unit(y1)], anchor=f"x{sx}")
            refs.append((f"x{sx}", f"y{sx}"))
            if i - 1 < len(titles) and titles[i - 1]:
                annotations.append(dict(text=titles[i - 1], x=x0 + w / 2, y=y1, xref="paper", yref="paper",
                                        xanchor="center", yanchor="bottom", showarrow=False,
                                        font=dict(size=title_size)))
    layout["annotations"] = annotations
    return layout, refs


def _unit(v: float) -> float:
    """A domain bound in [0, 1] (float sums can land a hair outside)."""
    return min(1.0, max(0.0, round(v, 9)))


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
    heat = go.Heatmap(z=z, zmin=0, zmax=255, showscale=False, hoverinfo="skip",
                      colorscale=[[0.0, "#000000"], [254 / 255, "#ffffff"], [1.0, GAP_COLOR]])
    data = [heat]
    texts = [str(c) for c in (captions or [])[:n]]
    if texts:
        # one text trace, not one annotation per tile: Plotly validates each annotation on its own (64 captions
        # cost ~37 ms to build and 3x the JSON); a trace's arrays are checked once
        r, c = np.divmod(np.arange(len(texts)), ncols)
        data.append(go.Scatter(x=c * (w + gap) + w / 2 - 0.5, y=r * (h + gap) + h + gap / 2 - 0.5, text=texts,
                               mode="text", textfont=dict(size=11), hoverinfo="skip", showlegend=False))
    return go.Figure(data=data, layout=dict(
        title=_title(title), margin=_MARGIN, plot_bgcolor="rgba(0,0,0,0)",
        height=int(nrows * tile_px * (h + gap) / h) + (60 if title else 30),
        xaxis=_HIDDEN, yaxis=dict(_HIDDEN, autorange="reversed", scaleanchor="x")))


def digit(image: np.ndarray, title: str = "", size: int = 220, lang: str = DEFAULT) -> go.Figure:
    """One digit, square."""
    heat = go.Heatmap(z=_as_float(image).reshape(np.asarray(image).shape[-2:]), colorscale=_GRAY, zmin=0, zmax=1,
                      showscale=False, hovertemplate=t("fig.ink_hover", lang) + "<extra></extra>")
    return go.Figure(data=[heat], layout=dict(
        title=_title(title), margin=dict(l=5, r=5, t=35 if title else 5, b=5), height=size, width=size,
        xaxis=_HIDDEN, yaxis=dict(_HIDDEN, autorange="reversed", scaleanchor="x")))


def reconstruction_panel(image: np.ndarray, recons: Mapping[str, np.ndarray], mse: Mapping[str, float] | None = None,
                         lang: str = DEFAULT) -> go.Figure:
    """Input | for each model: reconstruction and |error| map, titled with its MSE."""
    x = _as_float(image).reshape(28, 28)
    names = list(recons)
    titles = [t("fig.input", lang)]
    for name in names:
        err = mse[name] if mse and name in mse else float(np.mean((_as_float(recons[name]).reshape(28, 28) - x) ** 2))
        titles += [f"{name}<br>MSE {err:.4f}", t("fig.abs_error", lang)]
    layout, refs = _grid(1, 1 + 2 * len(names), 0.015, 0.0, titles)
    data = [go.Heatmap(z=x, colorscale=_GRAY, zmin=0, zmax=1, showscale=False, name=titles[0],
                       xaxis=refs[0][0], yaxis=refs[0][1])]
    for i, name in enumerate(names):
        r = _as_float(recons[name]).reshape(28, 28)
        (xa, ya), (xe, ye) = refs[1 + 2 * i], refs[2 + 2 * i]
        data.append(go.Heatmap(z=r, colorscale=_GRAY, zmin=0, zmax=1, showscale=False, name=name, xaxis=xa, yaxis=ya))
        data.append(go.Heatmap(z=np.abs(r - x), colorscale="Reds", zmin=0, zmax=1, showscale=(i == len(names) - 1),
                               colorbar=dict(title=dict(text=titles[2]), thickness=10), name=f"{name} {titles[2]}",
                               xaxis=xe, yaxis=ye))
    for xa, ya in refs:
        layout["xaxis" + xa[1:]].update(_HIDDEN)
        layout["yaxis" + ya[1:]].update(_HIDDEN, autorange="reversed", scaleanchor=xa)
    return go.Figure(data=data, layout=dict(layout, margin=dict(l=10, r=10, t=60, b=10), height=280))


def latent_scatter(z: np.ndarray, labels: np.ndarray, selected: tuple[float, float] | None = None,
                   title: str = "", mark: tuple[float, float] | None = None, mark_name: str = "",
                   lang: str = DEFAULT) -> go.Figure:
    """2-D latent codes coloured by digit class; ``customdata`` carries the example index (for click handling).

    ``selected`` is the decoded point (a cross); ``mark`` another point to show, e.g. the code of the input digit.
    """
    z = np.asarray(z, dtype=np.float32)
    labels = np.asarray(labels)
    mark_name = mark_name or t("fig.your_digit", lang)
    data = []
    for d in range(10):
        idx = np.nonzero(labels == d)[0]
        if idx.size == 0:
            continue
        data.append(go.Scatter(x=z[idx, 0], y=z[idx, 1], mode="markers", name=str(d), customdata=idx,
                               marker=dict(size=6, color=PALETTE[d], opacity=0.75),
                               hovertemplate=t("fig.digit_n", lang, d=d) + "<br>z=(%{x:.2f}, %{y:.2f})<br>"
                                             "#%{customdata}<extra></extra>"))
    if selected is not None:
        data.append(go.Scatter(x=[selected[0]], y=[selected[1]], mode="markers", name=t("fig.decoded", lang),
                               marker=dict(size=16, symbol="x", color="black", line=dict(width=2, color="white")),
                               hovertemplate=t("fig.decoded_point", lang) + "<br>z=(%{x:.2f}, %{y:.2f})<extra></extra>"))
    if mark is not None:
        data.append(go.Scatter(x=[mark[0]], y=[mark[1]], mode="markers", name=mark_name,
                               marker=dict(size=18, symbol="star", color="gold", line=dict(width=1.5, color="black")),
                               hovertemplate=f"{mark_name}<br>z=(%{{x:.2f}}, %{{y:.2f}})<extra></extra>"))
    return go.Figure(data=data, layout=dict(
        title=_title(title), margin=_MARGIN, height=460, xaxis=dict(title=dict(text="z₁")),
        yaxis=dict(title=dict(text="z₂")), legend=dict(title=dict(text=t("fig.digit", lang)))))


def attention_heatmap(weights: np.ndarray, x_labels: Sequence[str], y_labels: Sequence[str], title: str = "",
                      x_title: str = "", y_title: str = "", height: int | None = None, lang: str = DEFAULT,
                      tick_size: int | None = None) -> go.Figure:
    """weights [T, S] (rows: queries, e.g. output steps; columns: keys, e.g. input characters)."""
    w = np.asarray(weights, dtype=np.float32)
    xs = _unique([_show(c) for c in x_labels])
    ys = _unique([_show(c) for c in y_labels])
    x_title = x_title or t("fig.input", lang)
    y_title = y_title or t("fig.output", lang)
    weight = t("fig.weight", lang)
    # ticks shrink for long inputs, but stay readable (every character is labelled)
    tick = tick_size or (11 if len(xs) <= 20 else 10 if len(xs) <= 28 else 9)
    heat = go.Heatmap(z=w, x=xs, y=ys, colorscale="Blues", zmin=0, zmax=max(1e-6, float(np.nanmax(w))),
                      colorbar=dict(title=dict(text=weight), thickness=12),
                      hovertemplate=f"{y_title} %{{y}}<br>{x_title} %{{x}}<br>{weight} %{{z:.3f}}<extra></extra>")
    # every character labelled (Plotly would skip some on narrow charts)
    return go.Figure(data=[heat], layout=dict(
        title=_title(title), margin=dict(l=10, r=10, t=70 if title else 20, b=10),
        height=height or max(260, 22 * len(ys) + 140),
        xaxis=dict(title=dict(text=x_title), type="category", tickangle=0, tickmode="array", tickvals=xs,
                   ticktext=xs, tickfont=dict(size=tick)),
        yaxis=dict(title=dict(text=y_title), type="category", autorange="reversed", tickmode="array", tickvals=ys,
                   ticktext=ys, tickfont=dict(size=tick))))


def attention_grid(weights: np.ndarray, x_labels: Sequence[str], y_labels: Sequence[str], title: str = "",
                   lang: str = DEFAULT) -> go.Figure:
    """All heads of one layer ([H, T, S]) or all layers x heads ([L, H, T, S]) as small heatmaps."""
    w = np.asarray(weights, dtype=np.float32)
    if w.ndim == 3:
        w = w[None]
    n_layer, n_head = w.shape[:2]
    titles = [t("fig.layer_head", lang, layer=l + 1, head=h + 1) for l in range(n_layer) for h in range(n_head)]
    layout, refs = _grid(n_layer, n_head, 0.02, 0.08 if n_layer > 1 else 0.0, titles, title_size=11)
    xs, ys = _unique([_show(c) for c in x_labels]), _unique([_show(c) for c in y_labels])
    data = []
    for l in range(n_layer):
        for h in range(n_head):
            xa, ya = refs[l * n_head + h]
            data.append(go.Heatmap(z=w[l, h], x=xs, y=ys, colorscale="Blues", zmin=0, zmax=1, showscale=False,
                                   hovertemplate=t("fig.qk_hover", lang) + "<extra></extra>", xaxis=xa, yaxis=ya))
            layout["xaxis" + xa[1:]].update(type="category", showticklabels=False)
            layout["yaxis" + ya[1:]].update(type="category", autorange="reversed", showticklabels=(h == 0))
    return go.Figure(data=data, layout=dict(
        layout, title=_title(title), margin=dict(l=10, r=10, t=70 if title else 40, b=10),
        height=max(220, 210 * n_layer + (30 if title else 0))))


def bars(values: Sequence[float], labels: Sequence[str], title: str = "", y_title: str = "",
         highlight: int | None = None, height: int = 300, text_format: str = ".2f") -> go.Figure:
    """A plain bar chart (attention over the input for one step, class probabilities, class histogram)."""
    labels = _unique([_show(c) for c in labels])
    colors = ["#1f77b4"] * len(labels)
    if highlight is not None and 0 <= highlight < len(labels):
        colors[highlight] = "#d62728"
    bar = go.Bar(x=labels, y=list(values), marker=dict(color=colors), texttemplate=f"%{{y:{text_format}}}",
                 textposition="outside", cliponaxis=False)
    return go.Figure(data=[bar], layout=dict(
        title=_title(title), yaxis=dict(title=dict(text=y_title)), xaxis=dict(type="category"),
        margin=dict(l=10, r=10, t=50 if title else 20, b=10), height=height))


def score_bars(labels: Sequence[str], values: Sequence[float], reference: Sequence[bool], title: str = "",
               x_title: str = "", log: bool = True, text_format: str = ".3g", height: int = 240) -> go.Figure:
    """One horizontal bar per image set, on one (log) scale: reference sets (the real-vs-real floor, blurred real
    digits) in grey, the models in colour, so a model's score is always read against the floor."""
    labels = _unique([_show(c) for c in labels])
    vals = [float(v) for v in values]
    models = iter(PALETTE)  # the models in the first colours, in order: the same colour for a model on every chart
    colors = ["#9e9e9e" if r else next(models, PALETTE[-1]) for r in reference]
    bar = go.Bar(y=labels, x=vals, orientation="h", marker=dict(color=colors), texttemplate=f"%{{x:{text_format}}}",
                 textposition="outside", cliponaxis=False, hoverinfo="skip")
    pos = [v for v in vals if v > 0]
    x_axis = dict(title=dict(text=x_title), type="log" if log and pos else "linear")
    if log and pos:  # room on the right for the largest bar's label
        x_axis.update(range=[math.log10(min(pos)) - 0.3, math.log10(max(pos)) + 0.45], dtick=1)  # 0.1, 1, 10
    return go.Figure(data=[bar], layout=dict(
        title=_title(title), xaxis=x_axis, yaxis=dict(autorange="reversed", automargin=True),
        margin=dict(l=10, r=30, t=50 if title else 20, b=10), height=height))


def class_histogram(counts: Sequence[int], title: str = "", lang: str = DEFAULT) -> go.Figure:
    """How many samples fell in each digit class, with the uniform expectation as a dotted line."""
    counts = np.asarray(counts)
    expected = counts.sum() / max(1, len(counts))
    bar = go.Bar(x=[str(i) for i in range(len(counts))], y=counts.tolist(), marker=dict(color="#1f77b4"),
                 texttemplate="%{y:d}", textposition="outside", cliponaxis=False)
    # the uniform line's label sits in the right margin, beside the line, where no bar label can be
    return go.Figure(data=[bar], layout=dict(
        title=_title(title or t("fig.class_hist_title", lang)), margin=dict(l=10, r=80, t=50, b=10), height=300,
        xaxis=dict(type="category", title=dict(text=t("fig.digit", lang))),
        yaxis=dict(title=dict(text=t("fig.samples", lang)), range=[0, max(1, counts.max()) * 1.18]),
        shapes=[dict(type="line", xref="paper", x0=0, x1=1, y0=expected, y1=expected,
                     line=dict(dash="dot", color="gray"))],
        annotations=[dict(xref="paper", x=1.005, y=expected, text=t("fig.uniform", lang, n=f"{expected:.0f}"),
                          showarrow=False, xanchor="left", yanchor="middle", font=dict(color="gray", size=11))]))


def loss_curves(history: Sequence[Mapping], keys: Sequence[str] | None = None, title: str = "",
                marker_epoch: float | None = None, x_key: str = "epoch", y_title: str = "",
                height: int = 320, names: Mapping[str, str] | None = None, lang: str = DEFAULT) -> go.Figure:
    """Lines of each metric over epochs from a history's ``epochs`` list; a vertical marker at the chosen epoch.

    ``names`` gives each metric's legend label (default: its key)."""
    names = names or {}
    rows = list(history)
    keys = list(keys) if keys else sorted({k for r in rows for k, v in r.items()
                                           if k != x_key and isinstance(v, (int, float))})
    data = []
    for k in keys:
        pts = [(r[x_key], r[k]) for r in rows if isinstance(r.get(k), (int, float))]
        if pts:
            xy = np.asarray(pts, dtype=np.float64)  # arrays travel as typed base64, lists item by item
            data.append(go.Scatter(x=xy[:, 0], y=xy[:, 1], mode="lines+markers", name=names.get(k, k)))
    shapes = [] if marker_epoch is None else [dict(type="line", yref="paper", y0=0, y1=1, x0=marker_epoch,
                                                   x1=marker_epoch, line=dict(dash="dash", color="gray"))]
    return go.Figure(data=data, layout=dict(
        title=_title(title), xaxis=dict(title=dict(text=t("fig.epoch", lang) if x_key == "epoch" else x_key)),
        yaxis=dict(title=dict(text=y_title or t("fig.loss", lang))), margin=_MARGIN, height=height, shapes=shapes,
        legend=dict(orientation="h", y=1.02, yanchor="bottom", x=1, xanchor="right")))


def histogram(values: np.ndarray, title: str = "", x_title: str = "", nbins: int = 30, lang: str = DEFAULT
              ) -> go.Figure:
    """A histogram of raw values (e.g. discriminator scores)."""
    hist = go.Histogram(x=np.asarray(values).ravel(), nbinsx=nbins, marker=dict(color="#1f77b4"))
    return go.Figure(data=[hist], layout=dict(
        title=_title(title), xaxis=dict(title=dict(text=x_title)), yaxis=dict(title=dict(text=t("fig.count", lang))),
        margin=_MARGIN, height=300, bargap=0.05))


def memory_bars(rows: Sequence[Mapping], title: str = "", fmt: Callable[[float], str] = lambda n: f"{n:.3g} B",
                lang: str = DEFAULT) -> go.Figure:
    """Grouped bars, log scale: rows of {"name", "fp32", "fp16", "int8"} in bytes; ``fmt`` writes hovers and ticks."""
    names = [r["name"] for r in rows]
    data = []
    for dtype, color in (("fp32", "#1f77b4"), ("fp16", "#ff7f0e"), ("int8", "#2ca02c")):
        vals = [r[dtype] for r in rows]
        data.append(go.Bar(x=names, y=vals, name=dtype, marker=dict(color=color), customdata=[fmt(v) for v in vals],
                           hovertemplate=f"%{{x}}<br>{dtype}: %{{customdata}}<extra></extra>"))
    ticks = [10.0 ** k for k in range(0, 16, 3)]
    return go.Figure(data=data, layout=dict(
        title=_title(title or t("fig.memory_title", lang)), barmode="group", margin=_MARGIN, height=400,
        yaxis=dict(type="log", title=dict(text=t("fig.bytes", lang)), tickvals=ticks,
                   ticktext=[fmt(v) for v in ticks]),
        legend=dict(orientation="h", y=1.02, yanchor="bottom", x=1, xanchor="right")))


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


def confidence_bars(tokens: Sequence[str], probs: Sequence[float], threshold: float, title: str = "",
                    y_title: str = "", threshold_label: str = "") -> go.Figure:
    """The probability the model gave each character it wrote, against the model's threshold (a dashed line).

    Date models are nearly always sure, so the axis starts just below the lowest of the probabilities and the
    threshold: the differences that matter sit between 0.999 and 1. Bars under the threshold are red.
    """
    p = np.asarray(probs, dtype=np.float64)
    labels = _unique([_show(c) for c in tokens])
    low = float(min(p.min() if p.size else 1.0, threshold))
    floor = max(0.0, low - 0.25 * max(1e-6, 1.0 - low))
    colors = ["#d62728" if v < threshold else "#2ca02c" for v in p]
    bar = go.Bar(x=labels, y=p, marker=dict(color=colors), hovertemplate="%{x}: p = %{y:.6f}<extra></extra>")
    return go.Figure(data=[bar], layout=dict(
        title=_title(title), margin=dict(l=10, r=10, t=50 if title else 20, b=10), height=260,
        xaxis=dict(type="category"), yaxis=dict(title=dict(text=y_title), range=[floor, 1.0]),
        shapes=[dict(type="line", xref="paper", x0=0, x1=1, y0=threshold, y1=threshold,
                     line=dict(dash="dash", color="gray"))],
        annotations=[dict(xref="paper", x=1, y=threshold, text=threshold_label, showarrow=False, xanchor="right",
                          yanchor="bottom", font=dict(color="gray", size=11))] if threshold_label else []))
