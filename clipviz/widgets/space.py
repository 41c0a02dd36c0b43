"""The embedding space itself: toy arrows in 2-D (chapter 02) and the map of a real batch (chapter 07)."""
from __future__ import annotations

import html

import ipywidgets as W
import plotly.graph_objects as go
import torch

from .. import plots
from ..encode import encode_images, encode_texts
from ..model import ClipBundle
from ..projection import project
from ..similarity import modality_gap, similarity_matrix
from .base import App, LiveFigure, picture_html


class ToyEmbeddings(App):
    """A house and two cars as arrows in 2-D: move them, normalise them, read their cosines.

    settings: settings text from another ToyEmbeddings' "copy settings" (the arrows and the checkbox).
    """

    START = {"house": (2.0, 0.5), "car 1": (0.4, 1.8), "car 2": (0.7, 1.4)}

    def __init__(self, settings: str | None = None):
        self.sliders = {}
        rows = []
        for name, (x, y) in self.START.items():
            sx = W.FloatSlider(value=x, min=-3, max=3, step=0.1, description=f"{name} x")
            sy = W.FloatSlider(value=y, min=-3, max=3, step=0.1, description=f"{name} y")
            self.sliders[name] = (sx, sy)
            rows.append(W.HBox([sx, sy]))
        self.normalise = W.Checkbox(value=False, description="normalise onto the unit circle",
                                     layout=W.Layout(width="auto"))
        self.table = W.HTML()
        self.chart = LiveFigure(plots.vector_plot(self.vectors()))
        refresh = self.guarded(self.refresh)
        for sx, sy in self.sliders.values():
            sx.observe(lambda change: refresh(), "value")
            sy.observe(lambda change: refresh(), "value")
        self.normalise.observe(lambda change: refresh(), "value")
        state = {slider.description: slider for pair in self.sliders.values() for slider in pair}  # "house x": ...
        super().__init__(rows + [self.normalise, W.HBox([self.chart.widget, self.table])],
                         state={**state, "normalise": self.normalise}, figure=self.chart)
        refresh()
        self.apply_settings(settings)

    def vectors(self) -> dict:
        """{name: (x, y)}, normalised to length 1 when the checkbox is ticked."""
        out = {}
        for name, (sx, sy) in self.sliders.items():
            v = torch.tensor([sx.value, sy.value])
            if self.normalise.value:
                if float(v.norm()) == 0:
                    raise ValueError(f"{name} is at the origin: a zero vector has no direction to normalise")
                v = v / v.norm()
            out[name] = (float(v[0]), float(v[1]))
        return out

    def refresh(self) -> None:
        vectors = self.vectors()
        names = list(vectors)
        raw = torch.tensor([vectors[n] for n in names])
        cos = similarity_matrix(raw, raw)
        dot = raw @ raw.T
        rows = "".join(f"<tr><td>{a} · {b}</td><td>{float(dot[i, j]):.2f}</td><td>{float(cos[i, j]):.2f}</td></tr>"
                       for i, a in enumerate(names) for j, b in enumerate(names) if i < j)
        self.table.value = (f"<table><tr><th>pair</th><th>dot product</th><th>cosine</th></tr>{rows}</table>"
                            "<p>With every arrow of length 1 the two columns agree: that is why CLIP "
                            "normalises its embeddings.</p>")

        def move(fig):
            for trace, name in zip(fig.data, names):
                trace.x, trace.y = (0, vectors[name][0]), (0, vectors[name][1])
        self.chart.update(move)


class EmbeddingMap(App):
    """Image and text embeddings in one scatter, with matched pairs joined and the modality gap drawn.

    bundle: a ClipBundle. data: a shapes-world ImageTextPairs (its images and captions are embedded).
    settings: settings text from another EmbeddingMap's "copy settings" (method, dims, colouring, pairs).
    Coloured by an attribute, an image group and its caption group share a colour (a world colour is
    drawn in its own shade) and differ by symbol: circles are images, diamonds captions.
    """

    def __init__(self, bundle: ClipBundle, data, title: str = "embedding map", settings: str | None = None):
        self.bundle, self.data, self.title = bundle, data, title
        self.method = W.ToggleButtons(options=["pca", "umap", "tsne"], value="pca", description="method")
        self.dims = W.ToggleButtons(options=[2, 3], value=2, description="dims")
        self.colour = W.Dropdown(options=["modality", "shape", "colour", "size", "position"], value="modality",
                                 description="colour by")
        self.pairs = W.Checkbox(value=True, description="join each image to its caption",
                                 layout=W.Layout(width="auto"))
        self.gap = W.HTML()
        self.preview = W.HTML()  # the image of the point last hovered or clicked, its caption as alt text
        self.preview_caption = W.HTML("<small>hover over or click a point to see its image</small>")
        self.image_emb = encode_images(bundle, data.images)  # (N, D)
        self.text_emb = encode_texts(bundle, data.captions)  # (N, D)
        self.chart = LiveFigure(go.Figure())
        refresh = self.guarded(self.refresh)
        for control in (self.method, self.dims, self.colour, self.pairs):
            control.observe(lambda change: refresh(), "value")
        state = {"method": self.method, "dims": self.dims, "colour": self.colour, "pairs": self.pairs}
        super().__init__([W.HBox([self.method, self.dims]), W.HBox([self.colour, self.pairs]), self.gap,
                          W.HBox([self.chart.widget, W.VBox([self.preview, self.preview_caption])])],
                         state=state, figure=self.chart)
        refresh()
        self.apply_settings(settings)

    def refresh(self) -> None:
        n = len(self.data)
        xy = project(torch.cat([self.image_emb, self.text_emb]), self.method.value, self.dims.value)  # (2N, dims)
        kinds = ["image"] * n + ["text"] * n
        hover = [f"image {i}: {c}" for i, c in enumerate(self.data.captions)] + list(self.data.captions)
        groups = None
        if self.colour.value != "modality":
            values = [getattr(a, self.colour.value) for a in self.data.attributes]
            groups = values + values
        gap = modality_gap(self.image_emb, self.text_emb)
        self.gap.value = (f"<b>modality gap</b> (distance between the centroids of the image and the text "
                          f"embeddings, in the full {self.image_emb.shape[1]}-D space): {gap:.3f}")
        fig = plots.embedding_scatter(xy, kinds, hover, pairs=[(i, n + i) for i in range(n)] if self.pairs.value
                                      else (), groups=groups, centroids=True, title=self.title)
        self.chart.replace(fig)
        if not self.chart.static:
            for trace in self.chart.figure.data:
                if trace.mode == "markers":
                    trace.on_hover(self._show_point)
                    trace.on_click(self._show_point)

    def _show_point(self, trace, points, state=None) -> None:
        if not points.point_inds:
            return
        index = trace.customdata[points.point_inds[0]]
        item = index % len(self.data)
        self.preview.value = picture_html(self.data.images[item], self.data.captions[item], 96)
        self.preview_caption.value = f"<small>{html.escape(self.data.captions[item])}</small>"
