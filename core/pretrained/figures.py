"""Pure Plotly figure builders for the pretrained model's page (numpy + plotly; no streamlit, no torch).

Like ``core.figures``: plain arrays in, one ``go.Figure`` out, built from plain dicts in one call; nothing is read
from files. Every title and axis label is a parameter, so the page passes its translated strings; the defaults are
empty. Layers and heads count from 0 as in ``exported/minilm_heads.json``; ``layer_label`` / ``head_label`` turn an
index into the text shown. Token strings and sentences are visitor data: every builder passes them through
``plot_text`` (Plotly renders a subset of HTML in text, so ``<a href=…>`` would become a link).

- ``head_view``      BertViz's head view: a column of tokens on each side, a line from each token to each token it
                     attends to, one layer at a time, one colour per head; ``focus`` keeps one token's lines.
- ``model_view``     all layers x heads as a grid of small attention maps (long inputs are averaged into bins).
- ``attention_map``  one head's map with every token labelled (token details).
- ``token_heads``    where one query token's attention goes in every head of a layer (heads x keys).
- ``pattern_grid``   one head-pattern score per layer x head, threshold marked (the measured finding).
- ``similarity_matrix``, ``embedding_scatter``, ``token_similarity``  what the model was trained for.
"""

from __future__ import annotations

import base64
from typing import Callable, Sequence

import numpy as np
import plotly.graph_objects as go

from core.figures import _grid, _show, _unique

HEAD_COLORS = (  # twelve distinguishable colours, one per head
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#ad494a",
)
_ALPHA_BINS = (0.05, 0.15, 0.35, 0.6, 1.01)  # head-view lines are grouped by weight: one trace per head and bin


def _default_layer(i: int) -> str:
    return f"L{i}"


def _default_head(i: int) -> str:
    return f"H{i}"


def _title(text: str) -> dict | None:
    return dict(text=text) if text else None


def typed(values, dtype: str = "f4") -> dict:
    """A numeric array as Plotly's typed-array spec ({dtype, bdata, shape}): what ``Figure.to_dict`` would make of
    it on every ``st.plotly_chart`` call, made once here, so a cached figure is not re-encoded on every rerun
    (the model view's 72 maps: 12 -> 4 ms a rerun). NaN is a gap, as None is in a list."""
    arr = np.ascontiguousarray(values, dtype={"f4": np.float32, "f8": np.float64}[dtype])
    spec = {"dtype": dtype, "bdata": base64.b64encode(arr.tobytes()).decode("ascii")}
    if arr.ndim > 1:
        spec["shape"] = ", ".join(str(n) for n in arr.shape)
    return spec


def array_of(value) -> np.ndarray:
    """The numbers of a trace property, whether a typed-array spec (see ``typed``), an array or a list."""
    if isinstance(value, dict) and "bdata" in value:
        arr = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        return arr.reshape([int(n) for n in str(shape).split(",")]) if shape else arr
    return np.asarray(value, dtype=float)


def plot_text(text: object) -> str:
    """Visitor text made inert for Plotly's text renderer: &, < and > as entities (shown as the characters)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def token_labels(tokens: Sequence[str]) -> list[str]:
    """Distinct, visible axis labels for tokens (two 'the's stay two categories), safe for Plotly."""
    return _unique([plot_text(_show(t)) for t in tokens])


def _sentence_labels(labels: Sequence[str], limit: int = 40) -> list[str]:
    out = [str(s) if len(str(s)) <= limit else str(s)[: limit - 1] + "…" for s in labels]
    return _unique([plot_text(s) for s in out])


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i: i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha:.2f})"


def head_view(tokens: Sequence[str], attentions: np.ndarray, heads: Sequence[int] | None = None,
              focus: int | None = None, min_weight: float = 0.05, title: str = "", head_label=_default_head,
              left_title: str = "", right_title: str = "", height: int | None = None,
              side_names: tuple[str, str] = ("", "")) -> go.Figure:
    """One layer's attention ([H, T, T]: head, query, key) as lines from each query token (left) to the key tokens
    it attends to (right); line opacity grows with the weight, weights below ``min_weight`` are not drawn, each
    head has its colour. ``heads`` picks the heads drawn (default all); ``focus`` draws one query token's lines
    only and highlights it. Work and figure size stay bounded: at most T x T segments per head."""
    att = np.asarray(attentions, dtype=np.float32)
    n_heads, t = att.shape[0], att.shape[-1]
    heads = list(range(n_heads)) if heads is None else [h for h in heads if 0 <= h < n_heads]
    labels = [plot_text(_show(s)) for s in tokens]
    y = -np.arange(t, dtype=float)
    queries = [focus] if focus is not None and 0 <= focus < t else list(range(t))
    data = []
    for h in heads:
        color = HEAD_COLORS[h % len(HEAD_COLORS)]
        w = att[h]
        for lo, hi in zip((min_weight,) + _ALPHA_BINS[:-1], _ALPHA_BINS):
            lo = max(lo, min_weight)
            xs, ys = [], []
            for q in queries:
                for k in np.nonzero((w[q] >= lo) & (w[q] < hi))[0]:
                    xs += [0.0, 1.0, np.nan]
                    ys += [y[q], y[k], np.nan]
            if not xs:
                continue
            alpha = min(1.0, 0.15 + 0.85 * min(hi, 1.0)) if focus is None else min(1.0, 0.35 + 0.65 * min(hi, 1.0))
            data.append(dict(type="scatter", x=typed(xs), y=typed(ys), mode="lines", hoverinfo="skip", showlegend=False,
                             line=dict(color=_rgba(color, alpha * 0.9), width=1 + 3 * min(hi, 1.0)),
                             legendgroup=str(h)))
        # one invisible marker per head carries the legend entry (a coloured swatch with the head's name)
        data.append(dict(type="scatter", x=[None], y=[None], mode="markers", name=head_label(h), legendgroup=str(h),
                         marker=dict(color=color, size=10, symbol="square")))
    colors = ["#d62728" if focus is not None and i == focus else "#262730" for i in range(t)]
    dense = t > 48  # long inputs: smaller rows and labels, so 256 tokens stay under 4,000 px
    for side, x, anchor in ((0, 0.0, "left"), (1, 1.0, "right")):
        data.append(dict(
            type="scatter", x=[x] * t, y=y.tolist(), mode="text+markers", text=labels,
            textposition=f"middle {anchor}", marker=dict(size=4 if dense else 6, color=colors),
            textfont=dict(size=9 if dense else 12, color=colors),
            customdata=list(range(t)), showlegend=False,
            hovertemplate="%{text} (%{customdata})<extra></extra>", name=side_names[side]))
    annotations = [dict(text=txt, x=x, y=1.0, xref="x", yref="paper", yanchor="bottom", showarrow=False,
                        font=dict(size=12)) for txt, x in ((left_title, 0.0), (right_title, 1.0)) if txt]
    return go.Figure(data=data, layout=dict(
        title=_title(title), height=height or max(260, (14 if dense else 22) * t + 120),
        margin=dict(l=10, r=10, t=70 if title else 40, b=10),
        xaxis=dict(range=[-0.6, 1.6], visible=False, fixedrange=True),
        yaxis=dict(range=[-t + 0.5, 0.8], visible=False, fixedrange=True),
        legend=dict(orientation="h", y=-0.02, yanchor="top"), annotations=annotations,
        plot_bgcolor="rgba(0,0,0,0)"))


def bin_attention(attentions: np.ndarray, tokens: Sequence[str], max_cells: int) -> tuple[np.ndarray, list[str]]:
    """[..., T, T] -> [..., n, n] with n <= max_cells: neighbouring tokens grouped into blocks; a binned row is the
    mean over the block's queries of their attention summed over each key block (so rows still sum to 1). Labels
    read 'i–j first…last'. Unchanged when T <= max_cells."""
    att = np.asarray(attentions, dtype=np.float32)
    t = att.shape[-1]
    labels = token_labels(tokens)
    if t <= max_cells:
        return att, labels
    edges = np.linspace(0, t, max_cells + 1).round().astype(int)
    q = np.stack([att[..., a:b, :].mean(axis=-2) for a, b in zip(edges[:-1], edges[1:])], axis=-2)
    k = np.stack([q[..., a:b].sum(axis=-1) for a, b in zip(edges[:-1], edges[1:])], axis=-1)
    names = [plot_text(f"{a}–{b - 1} {_show(tokens[a])}…{_show(tokens[b - 1])}" if b - a > 1
                       else f"{a} {_show(tokens[a])}") for a, b in zip(edges[:-1], edges[1:])]
    return k, _unique(names)


def model_view(tokens: Sequence[str], attentions: np.ndarray, title: str = "", layer_label=_default_layer,
               head_label=_default_head, max_cells: int = 32, cell_px: int = 5) -> go.Figure:
    """All layers x heads ([L, H, T, T]) as one grid of small maps sharing one colour scale (0 to 1). Inputs longer
    than ``max_cells`` tokens are averaged into ``max_cells`` bins (see ``bin_attention``) so the figure stays small."""
    att, labels = bin_attention(attentions, tokens, max_cells)
    n_layer, n_head, n = att.shape[:3]
    titles = [head_label(h) if l == 0 else "" for l in range(n_layer) for h in range(n_head)]
    layout, refs = _grid(n_layer, n_head, 0.008, 0.02, titles, title_size=10)
    for l in range(n_layer):  # the layer's name left of its row
        y0, y1 = layout["yaxis" + refs[l * n_head][1][1:]]["domain"]
        layout["annotations"].append(dict(text=layer_label(l), x=0.0, y=(y0 + y1) / 2, xref="paper", yref="paper",
                                          xanchor="right", yanchor="middle", showarrow=False, font=dict(size=10)))
    data = []
    for l in range(n_layer):
        for h in range(n_head):
            xa, ya = refs[l * n_head + h]
            data.append(dict(type="heatmap", z=typed(att[l, h]), x=labels, y=labels, coloraxis="coloraxis", xaxis=xa,
                             yaxis=ya,
                             hovertemplate=f"{layer_label(l)} {head_label(h)}<br>%{{y}} → %{{x}}<br>%{{z:.3f}}"
                                           "<extra></extra>"))
            layout["xaxis" + xa[1:]].update(type="category", showticklabels=False, fixedrange=True)
            layout["yaxis" + ya[1:]].update(type="category", autorange="reversed", showticklabels=False,
                                            fixedrange=True)
    side = max(48, min(120, cell_px * n + 30))
    return go.Figure(data=data, layout=dict(
        layout, title=_title(title), margin=dict(l=40, r=10, t=70 if title else 30, b=10),
        height=n_layer * (side + 22) + (60 if title else 30),
        coloraxis=dict(colorscale="Blues", cmin=0.0, cmax=1.0, colorbar=dict(thickness=10, len=0.5))))


def attention_map(tokens: Sequence[str], attention: np.ndarray, title: str = "", x_title: str = "",
                  y_title: str = "", height: int | None = None) -> go.Figure:
    """One head ([T, T]: query rows, key columns) with every token labelled."""
    w = np.asarray(attention, dtype=np.float32)
    labels = token_labels(tokens)
    heat = dict(type="heatmap", z=typed(w), x=labels, y=labels, colorscale="Blues", zmin=0.0, zmax=1.0,
                colorbar=dict(thickness=12), hovertemplate="%{y} → %{x}<br>%{z:.3f}<extra></extra>")
    return go.Figure(data=[heat], layout=dict(
        title=_title(title), margin=dict(l=10, r=10, t=70 if title else 20, b=10),
        height=height or max(280, 20 * len(labels) + 150),
        xaxis=dict(title=_title(x_title), type="category", tickfont=dict(size=10), tickangle=-60, **_ticks(labels)),
        yaxis=dict(title=_title(y_title), type="category", autorange="reversed", tickfont=dict(size=10),
                   **_ticks(labels))))


def _ticks(labels: Sequence[str], every_up_to: int = 40) -> dict:
    """Every token named on the axis up to ``every_up_to`` tokens; beyond that Plotly picks a readable subset (the
    hover still names each cell)."""
    return dict(tickmode="array", tickvals=list(labels), ticktext=list(labels)) if len(labels) <= every_up_to else {}


def token_heads(tokens: Sequence[str], weights: np.ndarray, query: int, title: str = "", x_title: str = "",
                y_title: str = "", head_label=_default_head, top_k: int = 3) -> go.Figure:
    """One query token's attention in every head of a layer ([H, T]: head, key), heads as rows; each head's
    ``top_k`` keys are written in and the query's own column is outlined."""
    w = np.asarray(weights, dtype=np.float32)
    n_head, t = w.shape
    labels = token_labels(tokens)
    ys = [head_label(h) for h in range(n_head)]
    text = [["" for _ in range(t)] for _ in range(n_head)]
    for h in range(n_head if t <= 40 else 0):  # on long inputs the numbers would overlap: hover instead
        for k in np.argsort(-w[h], kind="stable")[:top_k]:
            text[h][int(k)] = f"{w[h, k]:.2f}"
    heat = dict(type="heatmap", z=typed(w), x=labels, y=ys, zmin=0.0, zmax=1.0, colorscale="Blues", text=text,
                texttemplate="%{text}", textfont=dict(size=9), colorbar=dict(thickness=12),
                hovertemplate="%{y} → %{x}<br>%{z:.3f}<extra></extra>")
    shapes = []
    if 0 <= query < t:
        shapes.append(dict(type="rect", xref="x", yref="paper", x0=query - 0.5, x1=query + 0.5, y0=0, y1=1,
                           line=dict(color="#d62728", width=2)))
    return go.Figure(data=[heat], layout=dict(
        title=_title(title), margin=dict(l=10, r=10, t=60 if title else 20, b=10), height=60 + 26 * n_head + 90,
        xaxis=dict(title=_title(x_title), type="category", tickfont=dict(size=10), tickangle=-60, **_ticks(labels)),
        yaxis=dict(title=_title(y_title), type="category", autorange="reversed", fixedrange=True), shapes=shapes))


def pattern_grid(scores: np.ndarray, threshold: float | None = None, title: str = "", layer_label=_default_layer,
                 head_label=_default_head, x_title: str = "", y_title: str = "",
                 selected: tuple[int, int] | None = None) -> go.Figure:
    """A pattern's mean score per layer (rows) x head (columns); cells at or above ``threshold`` are outlined and
    numbered, ``selected`` (layer, head) is ringed."""
    s = np.asarray(scores, dtype=np.float32)
    n_layer, n_head = s.shape
    xs = [head_label(h) for h in range(n_head)]
    ys = [layer_label(l) for l in range(n_layer)]
    text = [[f"{v:.2f}" for v in row] for row in s]
    data = [dict(type="heatmap", z=s, x=xs, y=ys, zmin=0.0, zmax=1.0, colorscale="Blues", text=text,
                 texttemplate="%{text}", textfont=dict(size=10), colorbar=dict(thickness=12),
                 hovertemplate="%{y} %{x}: %{z:.3f}<extra></extra>")]
    shapes = []
    if threshold is not None:
        for l, h in zip(*np.nonzero(s >= threshold)):
            shapes.append(dict(type="rect", xref="x", yref="y", x0=h - 0.5, x1=h + 0.5, y0=l - 0.5, y1=l + 0.5,
                               line=dict(color="#d62728", width=2)))
    if selected is not None:
        l, h = selected
        shapes.append(dict(type="rect", xref="x", yref="y", x0=h - 0.45, x1=h + 0.45, y0=l - 0.45, y1=l + 0.45,
                           line=dict(color="#ff7f0e", width=3, dash="dot")))
    return go.Figure(data=data, layout=dict(
        title=_title(title), margin=dict(l=10, r=10, t=84 if title else 40, b=10), height=84 + 42 * n_layer,
        # head names on top, level (a phone's width would tilt them into the title)
        xaxis=dict(title=_title(x_title), type="category", side="top", fixedrange=True, tickangle=0,
                   tickfont=dict(size=10)),
        yaxis=dict(title=_title(y_title), type="category", autorange="reversed", fixedrange=True), shapes=shapes))


def similarity_matrix(embeddings: np.ndarray, labels: Sequence[str], title: str = "",
                      value_title: str = "") -> go.Figure:
    """Cosine similarity between every pair of unit-length sentence embeddings ([N, D]), values written in."""
    e = np.asarray(embeddings, dtype=np.float64)
    e = e / np.clip(np.linalg.norm(e, axis=1, keepdims=True), 1e-12, None)
    sim = e @ e.T
    names = _sentence_labels(labels)
    heat = dict(type="heatmap", z=sim, x=names, y=names, zmin=-1.0, zmax=1.0, colorscale="RdBu", reversescale=True,
                text=[[f"{v:.2f}" for v in row] for row in sim], texttemplate="%{text}",
                colorbar=dict(thickness=12, title=_title(value_title)),
                hovertemplate="%{y}<br>%{x}<br>%{z:.3f}<extra></extra>")
    return go.Figure(data=[heat], layout=dict(
        title=_title(title), margin=dict(l=10, r=10, t=60 if title else 20, b=10), height=max(260, 46 * len(names) + 140),
        xaxis=dict(type="category", tickangle=-30), yaxis=dict(type="category", autorange="reversed")))


def embedding_scatter(embeddings: np.ndarray, labels: Sequence[str], title: str = "", x_title: str = "",
                      y_title: str = "", groups: Sequence[int] | None = None) -> go.Figure:
    """Sentence embeddings ([N, D]) projected on their first two principal components (numpy SVD)."""
    e = np.asarray(embeddings, dtype=np.float64)
    xy = pca_2d(e)
    color = [HEAD_COLORS[g % len(HEAD_COLORS)] for g in groups] if groups is not None else "#1f77b4"
    names = _sentence_labels(labels)
    pts = dict(type="scatter", x=xy[:, 0].tolist(), y=xy[:, 1].tolist(), mode="markers+text", text=names,
               textposition="top center", marker=dict(size=10, color=color), hovertemplate="%{text}<extra></extra>")
    return go.Figure(data=[pts], layout=dict(
        title=_title(title), margin=dict(l=10, r=10, t=60 if title else 20, b=10), height=420,
        xaxis=dict(title=_title(x_title), zeroline=False), yaxis=dict(title=_title(y_title), zeroline=False)))


def pca_2d(x: np.ndarray) -> np.ndarray:
    """[N, D] -> [N, 2] on the two directions of largest variance (zeros when N < 2)."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) < 2:
        return np.zeros((len(x), 2))
    c = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(c, full_matrices=False)
    out = c @ vt[:2].T
    if out.shape[1] < 2:
        out = np.pad(out, ((0, 0), (0, 2 - out.shape[1])))
    return out


def token_similarity(hidden_a: np.ndarray, hidden_b: np.ndarray, tokens_a: Sequence[str], tokens_b: Sequence[str],
                     title: str = "", x_title: str = "", y_title: str = "") -> go.Figure:
    """Cosine similarity between the last-layer vectors of two sentences' tokens ([Ta, D] x [Tb, D])."""
    a = np.asarray(hidden_a, dtype=np.float64)
    b = np.asarray(hidden_b, dtype=np.float64)
    a = a / np.clip(np.linalg.norm(a, axis=1, keepdims=True), 1e-12, None)
    b = b / np.clip(np.linalg.norm(b, axis=1, keepdims=True), 1e-12, None)
    sim = a @ b.T
    xs, ys = token_labels(tokens_b), token_labels(tokens_a)
    heat = dict(type="heatmap", z=typed(sim), x=xs, y=ys, zmin=-1.0, zmax=1.0, colorscale="RdBu", reversescale=True,
                colorbar=dict(thickness=12), hovertemplate="%{y} · %{x}: %{z:.3f}<extra></extra>")
    return go.Figure(data=[heat], layout=dict(
        title=_title(title), margin=dict(l=10, r=10, t=60 if title else 20, b=10),
        height=max(260, 20 * len(ys) + 150),
        xaxis=dict(title=_title(x_title), type="category", tickangle=-60, **_ticks(xs)),
        yaxis=dict(title=_title(y_title), type="category", autorange="reversed", **_ticks(ys))))


LabelFn = Callable[[int], str]
__all__ = ["HEAD_COLORS", "array_of", "attention_map", "bin_attention", "embedding_scatter", "head_view", "model_view",
           "pattern_grid", "pca_2d", "plot_text", "similarity_matrix", "token_heads", "token_labels",
           "token_similarity", "typed"]
