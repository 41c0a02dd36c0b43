"""Plots: results in, plotly figures out.

Every function here takes plain values (tensors, arrays, lists of strings, PIL
images) and returns a `plotly.graph_objects.Figure` without showing it. Nothing
here computes CLIP itself; the widgets and notebooks compute, then call these to
draw. Figures are tested by their data (`fig.data[0].z`), not by pixels.

Every colour comes from clipviz/palette.py, Okabe & Ito's colour-blind-safe eight: categories take
`palette.CATEGORICAL` in order, and a category named after a world colour ("red") takes its shade
(`palette.WORLD`). Series also differ by marker symbol, line dash or bar pattern, so no figure
relies on colour alone; heatmaps use perceptually uniform scales (Viridis, Blues).
"""
from __future__ import annotations

import base64
import html
import io
from typing import Sequence

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import torch
from PIL import Image
from plotly.subplots import make_subplots

from .palette import CATEGORICAL, OKABE_ITO, WORLD

TEMPLATE = go.layout.Template(pio.templates["plotly_white"], layout=dict(colorway=CATEGORICAL))  # no plotly cycle
IMAGE_COLOUR, TEXT_COLOUR = CATEGORICAL[0], CATEGORICAL[1]  # one colour per modality (blue, vermillion), everywhere
BLACK = OKABE_ITO["black"]  # outlines, reference lines and the modality gap
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "cross", "x", "star", "hexagon")  # one per series
PATTERNS = ("", "/", "x", ".", "\\", "+", "-", "|")  # bar hatching, when there are more series than colours


def category_colours(names: Sequence[str]) -> dict[str, str]:
    """A colour for each distinct name: a world colour's own shade ("red" -> WORLD["red"]), else the
    next CATEGORICAL colour no world colour in `names` took (cycling when there are more names)."""
    names = list(dict.fromkeys(names))
    colours = {name: WORLD[name] for name in names if name in WORLD}
    free = [c for c in CATEGORICAL if c not in colours.values()]
    for k, name in enumerate(name for name in names if name not in WORLD):
        colours[name] = free[k % len(free)]
    return colours


def _numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def image_uri(image, size: int = 64) -> str:
    """A PIL image or (3, H, W) tensor in [0, 1] as a PNG data URI (for thumbnails and hovers)."""
    if isinstance(image, torch.Tensor):
        image = Image.fromarray((image.clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))
    image = image.convert("RGB")
    if max(image.size) > size:
        image.thumbnail((size, size))
    elif max(image.size) < size:  # enlarge tiny shapes-world images without blurring them
        image = image.resize((size, round(size * image.size[1] / image.size[0])), Image.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def similarity_heatmap(similarity, image_labels: Sequence[str] | None = None,
                       text_labels: Sequence[str] | None = None, thumbnails: Sequence | None = None,
                       mark_diagonal: bool = True, title: str = "image-text similarity",
                       zmin: float | None = None, zmax: float | None = None,
                       colorbar_title: str = "cosine") -> go.Figure:
    """Heatmap of an (N, M) matrix: rows are images, columns are texts.

    similarity: (N, M) tensor or array (cosines, logits or probabilities).
    image_labels, text_labels: names of the rows and columns (default "image i", "text j").
    thumbnails: N images (PIL or (3, H, W) tensors) drawn left of their rows.
    mark_diagonal: outline the cells (i, i), where the matching pairs sit.
    Returns a Figure whose data[0].z is the matrix, rows top to bottom.
    """
    z = _numpy(similarity).astype(float)
    n, m = z.shape
    ylabels = list(image_labels) if image_labels is not None else [f"image {i}" for i in range(n)]
    xlabels = list(text_labels) if text_labels is not None else [f"text {j}" for j in range(m)]
    fig = go.Figure(go.Heatmap(
        z=z, x=list(range(m)), y=list(range(n)), zmin=zmin, zmax=zmax, colorscale="Viridis",
        colorbar=dict(title=colorbar_title), customdata=np.array([[f"{ylabels[i]} vs {xlabels[j]}" for j in range(m)]
                                                                 for i in range(n)]),
        hovertemplate="%{customdata}<br>%{z:.3f}<extra></extra>"))
    if mark_diagonal:
        for i in range(min(n, m)):
            fig.add_shape(type="rect", x0=i - 0.5, x1=i + 0.5, y0=i - 0.5, y1=i + 0.5,
                          line=dict(color="white", width=2))
    show_ticks = max(n, m) <= 40
    fig.update_xaxes(tickvals=list(range(m)), ticktext=[_short(t) for t in xlabels], tickangle=45,
                     showticklabels=show_ticks, side="bottom", automargin=True)  # the margin grows to fit the captions
    fig.update_yaxes(tickvals=list(range(n)), ticktext=[_short(t) for t in ylabels], autorange="reversed",
                     showticklabels=show_ticks and thumbnails is None, automargin=True)
    if thumbnails is not None:
        for i, thumb in enumerate(thumbnails):
            fig.add_layout_image(source=image_uri(thumb), xref="x", yref="y", x=-0.55, y=i, sizex=0.9, sizey=0.9,
                                 xanchor="right", yanchor="middle", layer="above")
        fig.update_xaxes(range=[-1.5, m - 0.5])
    fig.update_layout(title=title, template=TEMPLATE, height=max(460, 28 * n + 340),  # room for the tilted captions
                      xaxis_title="texts", yaxis_title="images", margin=dict(l=40, r=20, t=50, b=40))
    return fig


def _short(text: str, width: int = 28) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def probability_bars(probabilities, labels: Sequence[str], title: str = "probability of each caption",
                     highlight: int | None = None) -> go.Figure:
    """Horizontal bars, one per label; data[0].x holds the probabilities.

    probabilities: (C,) tensor or array. highlight: index of a bar to colour and outline differently.
    """
    p = _numpy(probabilities).astype(float)
    chosen = [i == highlight for i in range(len(p))]  # the highlight differs in colour and in a thick outline
    fig = go.Figure(go.Bar(x=p, y=list(labels), orientation="h",
                           marker=dict(color=[TEXT_COLOUR if c else IMAGE_COLOUR for c in chosen],
                                       line=dict(color=BLACK, width=[3 if c else 0 for c in chosen])),
                           text=[f"{v:.0%}" for v in p], textposition="auto"))
    fig.update_layout(title=title, template=TEMPLATE, xaxis=dict(range=[0, 1], title="probability"),
                      yaxis=dict(autorange="reversed", automargin=True),  # the margin grows to fit the labels
                      height=max(240, 34 * len(p) + 110),
                      margin=dict(l=10, r=10, t=50, b=40))
    return fig


def grouped_bars(values, series: Sequence[str], categories: Sequence[str], title: str = "",
                 value_title: str = "probability") -> go.Figure:
    """One group of bars per category, one bar per series.

    values: (S, C) tensor or array; values[s, c] is series s at category c.
    Returns a Figure with one Bar trace per series (data[s].y == values[s]). Each series has its own
    colour (category_colours); past eight series the colours come round again with a hatching.
    """
    v = _numpy(values).astype(float)
    names = [str(name) for name in series]
    colours, used = category_colours(names), []  # used: the colours of the series drawn so far
    fig = go.Figure()
    for s, name in enumerate(names):
        colour = colours[name]
        hatch = PATTERNS[used.count(colour) % len(PATTERNS)]  # a colour's first series plain, its next hatched
        used.append(colour)
        fig.add_trace(go.Bar(name=name, x=list(categories), y=v[s],
                             marker=dict(color=colour, pattern_shape=hatch, line=dict(color=BLACK, width=0.5))))
    fig.update_layout(barmode="group", title=title, template=TEMPLATE, yaxis_title=value_title,
                      legend=dict(orientation="h", y=-0.25), margin=dict(l=40, r=10, t=50, b=40))
    return fig


def training_figure() -> go.Figure:
    """Empty live-training curves: loss, accuracies (seen, held-out) and the logit scale, in three panels.

    The seen and held-out accuracies differ in colour, dash and marker (blue solid circles, vermillion
    dashed squares), so they read apart in greyscale and for every colour vision.
    """
    fig = make_subplots(rows=1, cols=3, subplot_titles=("contrastive loss", "top-1 accuracy", "logit scale (1/T)"))
    line = lambda colour, dash: dict(color=colour, dash=dash, width=2)
    fig.add_trace(go.Scatter(name="loss", x=[], y=[], mode="lines", line=line(BLACK, "solid")), row=1, col=1)
    fig.add_trace(go.Scatter(name="seen", x=[], y=[], mode="lines+markers", line=line(CATEGORICAL[0], "solid"),
                             marker=dict(symbol="circle", size=8)), row=1, col=2)  # blue, solid, circles
    fig.add_trace(go.Scatter(name="held-out", x=[], y=[], mode="lines+markers", line=line(CATEGORICAL[1], "dash"),
                             marker=dict(symbol="square", size=8)), row=1, col=2)  # vermillion, dashed, squares
    fig.add_trace(go.Scatter(name="logit scale", x=[], y=[], mode="lines", line=line(CATEGORICAL[4], "dot")),
                  row=1, col=3)
    fig.update_yaxes(range=[0, 1.02], row=1, col=2)
    fig.update_xaxes(title_text="step")
    fig.update_layout(template=TEMPLATE, height=320, margin=dict(l=40, r=10, t=40, b=40),
                      legend=dict(orientation="h", y=-0.3))
    return fig


def training_curves(history) -> go.Figure:
    """The curves of a finished `History` (clipviz.train), drawn as training_figure draws them live."""
    fig = training_figure()
    fig.data[0].update(x=history.step, y=history.loss)
    fig.data[1].update(x=history.eval_step, y=history.seen_top1)
    fig.data[2].update(x=history.eval_step, y=history.heldout_top1)
    fig.data[3].update(x=history.step, y=history.logit_scale)
    return fig


def embedding_scatter(points, kinds: Sequence[str], hover: Sequence[str], pairs: Sequence[tuple[int, int]] = (),
                      groups: Sequence[str] | None = None, centroids: bool = False,
                      title: str = "embedding map") -> go.Figure:
    """Images and texts as points in one 2-D or 3-D scatter.

    points: (N, 2) or (N, 3) array of projected embeddings.
    kinds: N strings, "image" or "text" (drawn as circles and diamonds).
    hover: N strings shown on hover (a caption, or an <img> tag for images).
    pairs: (i, j) index pairs joined by a thin line (an image and its caption).
    groups: N group names for the colour (e.g. the shape); default: colour by kind. An image group and
        its caption group share one colour (category_colours: "red" is drawn in the world's red) and
        differ by symbol.
    centroids: also draw the centroid of each kind and the line between them (the modality gap).
    Returns a Figure with one trace per (kind, group), then the pair lines, then the centroids.
    """
    xyz = _numpy(points).astype(float)
    three_d = xyz.shape[1] == 3
    scatter = go.Scatter3d if three_d else go.Scatter
    kinds, hover = list(kinds), list(hover)
    colours = {"image": IMAGE_COLOUR, "text": TEXT_COLOUR} if groups is None else category_colours(groups)
    groups = list(groups) if groups is not None else kinds
    fig = go.Figure()
    for kind, symbol in (("image", "circle"), ("text", "diamond")):
        for group in dict.fromkeys(g for g, k in zip(groups, kinds) if k == kind):
            idx = [i for i in range(len(kinds)) if kinds[i] == kind and groups[i] == group]
            coords = dict(x=xyz[idx, 0], y=xyz[idx, 1], **({"z": xyz[idx, 2]} if three_d else {}))
            name = kind if group == kind else f"{kind}: {group}"
            fig.add_trace(scatter(**coords, mode="markers", name=name, text=[hover[i] for i in idx],
                                  hovertemplate="%{text}<extra></extra>", customdata=idx,
                                  marker=dict(symbol=symbol, color=colours[group], size=5 if three_d else 9,
                                              opacity=0.85, line=dict(width=0.5, color=BLACK))))
    if pairs:
        line = [[], [], []]
        for i, j in pairs:
            for axis in range(xyz.shape[1]):
                line[axis] += [xyz[i, axis], xyz[j, axis], None]
        coords = dict(x=line[0], y=line[1], **({"z": line[2]} if three_d else {}))
        fig.add_trace(scatter(**coords, mode="lines", name="matched pairs", hoverinfo="skip",
                              opacity=0.3, line=dict(color=BLACK, width=1)))
    if centroids:
        centres = np.stack([xyz[[i for i, k in enumerate(kinds) if k == kind]].mean(0) for kind in ("image", "text")])
        coords = dict(x=centres[:, 0], y=centres[:, 1], **({"z": centres[:, 2]} if three_d else {}))
        fig.add_trace(scatter(**coords, mode="lines+markers+text", name="modality gap",
                              text=["image centroid", "text centroid"],
                              textposition=["bottom center", "top center"],
                              line=dict(color=BLACK, width=4, dash="dash"),
                              marker=dict(size=8 if three_d else 16, color=[IMAGE_COLOUR, TEXT_COLOUR],
                                          symbol="x")))
    fig.update_layout(title=title, template=TEMPLATE, height=560, legend=dict(itemsizing="constant"),
                      margin=dict(l=10, r=10, t=50, b=10), xaxis=dict(automargin=True),
                      yaxis=dict(automargin=True))  # 2-D: the margins grow to fit the tick labels
    return fig


def confusion_heatmap(matrix, labels: Sequence[str], title: str = "confusion matrix") -> go.Figure:
    """(C, C) counts, rows = true class, columns = predicted class; data[0].z is the matrix."""
    z = _numpy(matrix)
    fig = go.Figure(go.Heatmap(z=z, x=list(labels), y=list(labels), colorscale="Blues",
                               hovertemplate="true %{y}<br>predicted %{x}<br>%{z}<extra></extra>"))
    fig.update_layout(title=title, template=TEMPLATE, xaxis_title="predicted", yaxis_title="true",
                      yaxis=dict(autorange="reversed", automargin=True), height=max(360, 30 * len(labels) + 160))
    return fig


def vector_plot(vectors: dict, unit_circle: bool = True, title: str = "embeddings as arrows") -> go.Figure:
    """2-D vectors as arrows from the origin, one trace per name; with the unit circle for reference.

    vectors: {name: (x, y)}. Returns a Figure whose trace k ends at the k-th vector, in its own
    colour and marker symbol, with its name written at the tip.
    """
    fig = go.Figure()
    colours = category_colours(list(vectors))
    for k, (name, (x, y)) in enumerate(vectors.items()):
        fig.add_trace(go.Scatter(x=[0, x], y=[0, y], mode="lines+markers+text", name=name,
                                 text=["", name], textposition="top center", line=dict(color=colours[name]),
                                 marker=dict(size=[0, 10], color=colours[name], symbol=SYMBOLS[k % len(SYMBOLS)])))
    if unit_circle:
        t = np.linspace(0, 2 * np.pi, 200)
        fig.add_trace(go.Scatter(x=np.cos(t), y=np.sin(t), mode="lines", name="unit circle", hoverinfo="skip",
                                 opacity=0.35, line=dict(color=BLACK, dash="dot")))
    reach = max([1.2] + [abs(v) * 1.15 for xy in vectors.values() for v in xy])
    fig.update_layout(title=title, template=TEMPLATE, height=460, width=520,
                      xaxis=dict(range=[-reach, reach], zeroline=True),
                      yaxis=dict(range=[-reach, reach], scaleanchor="x", zeroline=True))
    return fig


def winoground_heatmaps(similarities: dict, verdicts: dict, captions: Sequence[str]) -> go.Figure:
    """One 2 x 2 heatmap per model: rows are image 1 and 2, columns caption 1 and 2.

    similarities: {model name: (2, 2) tensor}, similarity[i, j] = image i against caption j.
    verdicts: {model name: {"text_score": bool, "image_score": bool, "group_score": bool}}, shown in the titles.
    Returns a Figure whose data[k].z is model k's matrix.
    """
    names = list(similarities)
    titles = [f"<b>{html.escape(name)}</b><br>" + " ".join(f"{key.split('_')[0]} {'✓' if ok else '✗'}"
                                                       for key, ok in verdicts[name].items()) for name in names]
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=titles, horizontal_spacing=0.08)
    for k, name in enumerate(names):
        z = _numpy(similarities[name]).astype(float)  # (2, 2)
        fig.add_trace(go.Heatmap(z=z, x=["caption 1", "caption 2"], y=["image 1", "image 2"], zmin=-0.2, zmax=1.0,
                                 colorscale="Viridis", showscale=k == len(names) - 1,
                                 text=[[f"{v:.3f}" for v in row] for row in z],
                                 texttemplate="%{text}", hovertemplate="%{y} vs %{x}: %{z:.4f}<extra></extra>"),
                      row=1, col=k + 1)
        fig.update_yaxes(autorange="reversed", automargin=True, row=1, col=k + 1)  # "image 1" fits the margin
    fig.update_layout(template=TEMPLATE, height=300, margin=dict(l=10, r=10, t=80, b=30),
                      title=dict(text=f"1: “{html.escape(captions[0])}”   2: “{html.escape(captions[1])}”",
                                 font=dict(size=12), y=0.99))
    return fig


def probe_curve(curve, marked: int | None = None) -> go.Figure:
    """A probe.ProbeCurve: k-shot linear-probe accuracy against k (solid lines, circles and squares), and the
    zero-shot classifier's accuracy as flat dashed lines of the same colours; `marked` draws a line at that k.

    Returns a Figure whose data[0] / data[1] are the probe on seen / held-out compositions (x = shots).
    """
    fig = go.Figure()
    for (split, name), colour, symbol in zip((("seen", "seen compositions"), ("heldout", "held-out compositions")),
                                             CATEGORICAL[:2], ("circle", "square")):
        fig.add_trace(go.Scatter(name=f"linear probe, {name}", x=curve.shots, y=curve.probe[split],
                                 mode="lines+markers", marker=dict(symbol=symbol, size=9, color=colour),
                                 line=dict(color=colour, width=2)))
    for split, name, colour in (("seen", "seen", CATEGORICAL[0]), ("heldout", "held-out", CATEGORICAL[1])):
        fig.add_trace(go.Scatter(name=f"zero-shot (words only), {name}", x=[curve.shots[0], curve.shots[-1]],
                                 y=[curve.zero_shot[split]] * 2, mode="lines",
                                 line=dict(color=colour, width=2, dash="dash")))
    if marked is not None:
        fig.add_vline(x=marked, line=dict(color=BLACK, width=1, dash="dot"))
    fig.update_layout(title="labelled pictures against label words", template=TEMPLATE,
                      xaxis=dict(title="labelled pictures per class (k)", type="log", tickvals=list(curve.shots)),
                      yaxis=dict(title="accuracy over 30 colour+shape classes", range=[0, 1.02]),
                      legend=dict(orientation="h", y=-0.3), margin=dict(l=50, r=10, t=50, b=40))
    return fig
