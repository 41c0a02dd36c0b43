"""Widgets: small ipywidgets apps that let a student change something and see CLIP react.

Each app is an `ipywidgets.VBox` (so a notebook cell shows it by ending with it) that
wires controls to figures from `clipviz.plots`; the numbers come from the package's
math helpers. Shared behaviour:
- figures update in place through plotly's FigureWidget; where that cannot load,
  `LiveFigure` falls back to redrawing a static figure in an Output widget;
- text boxes update on Enter (single line) or after a short pause (multi-line),
  never on every keystroke;
- an error inside a callback (an empty prompt, a broken image) is shown inside the
  app in plain words, and the app keeps working: ipywidgets would hide it in a log.
The training dashboard lives in `clipviz.dashboard`.
"""
from __future__ import annotations

import asyncio
import html
import io
import os
import statistics
import time
from typing import Callable, Sequence

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go
import torch

from . import plots
from .encode import encode_images, encode_texts, load_image
from .model import ClipBundle
from .projection import project
from .similarity import modality_gap, similarity_matrix
from .zeroshot import confusion_matrix, zero_shot_classifier


class LiveFigure:
    """A plotly figure that can be changed in place and shown as a widget.

    figure: the object to change (a FigureWidget, or a plain Figure in fallback mode).
    widget: what to put in a layout.
    Set CLIPVIZ_STATIC_FIGURES=1 (or static=True) to force the fallback.
    """

    def __init__(self, figure: go.Figure, static: bool | None = None):
        static = os.environ.get("CLIPVIZ_STATIC_FIGURES") == "1" if static is None else static
        self.static = static
        if not static:
            try:
                self.figure = go.FigureWidget(figure)
                self.widget = self.figure
                return
            except Exception:  # anywidget missing or the front end cannot load it
                self.static = True
        self.figure = go.Figure(figure)
        self.widget = W.Output()
        self._redraw()

    def update(self, change: Callable[[go.Figure], None]) -> None:
        """Apply change(figure), as one batch (FigureWidget) or followed by a redraw (fallback)."""
        if self.static:
            change(self.figure)
            self._redraw()
        else:
            with self.figure.batch_update():
                change(self.figure)

    def replace(self, figure: go.Figure) -> None:
        """Swap in a whole new figure (new traces, new layout)."""
        def swap(fig):
            fig.data = []
            fig.layout = figure.layout
            fig.add_traces(list(figure.data))
        self.update(swap)

    def _redraw(self) -> None:
        self.widget.clear_output(wait=True)
        with self.widget:
            self.figure.show()


class Debounce:
    """Call fn only after `wait` seconds without a new call (on the kernel's event loop).

    With no running event loop (plain Python, tests) the call happens at once.
    """

    def __init__(self, fn: Callable, wait: float = 0.4):
        self.fn, self.wait, self._handle = fn, wait, None

    def __call__(self, *args):
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return self.fn(*args)
        if self._handle is not None:
            self._handle.cancel()
        self._handle = loop.call_later(self.wait, self.fn, *args)


class App(W.VBox):
    """Base of the apps: a message line, and callbacks that report errors there instead of dying."""

    def __init__(self, children=(), **kwargs):
        self.message = W.HTML()
        super().__init__(list(children) + [self.message], **kwargs)
        self.add_class("clipviz-app")
        self.last_update_ms = float("nan")

    def guarded(self, fn: Callable) -> Callable:
        """fn wrapped so that an exception is shown in the app's message line, not lost."""
        def run(*args, **kwargs):
            start = time.perf_counter()
            try:
                result = fn(*args, **kwargs)
            except Exception as err:  # shown to the student; the app stays usable
                self.message.value = (f"<div style='color:#b00020'><b>Could not update:</b> "
                                      f"{html.escape(str(err))}</div>")
                return None
            self.message.value = ""
            self.last_update_ms = 1000 * (time.perf_counter() - start)
            return result
        return run


def _png(image, size: int = 160) -> bytes:
    """PNG bytes of a PIL image or a (3, H, W) tensor, for an ipywidgets.Image."""
    from PIL import Image
    if isinstance(image, (str, os.PathLike)):
        image = load_image(image)
    if isinstance(image, torch.Tensor):
        image = Image.fromarray((image.clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype("uint8"))
    image = image.convert("RGB")
    scale = size / max(image.size)
    image = image.resize((max(1, round(image.size[0] * scale)), max(1, round(image.size[1] * scale))),
                         Image.NEAREST if scale > 2 else Image.BICUBIC)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


class ImagePicker(W.VBox):
    """A dropdown of named images with a preview; `.image` is the chosen image (PIL, tensor or path)."""

    def __init__(self, images: dict):
        if not images:
            raise ValueError("no images to pick from: pass a dict {name: PIL image, (3, H, W) tensor or path}")
        self.images = dict(images)
        self.dropdown = W.Dropdown(options=list(self.images), description="image")
        self.preview = W.Image(value=self._preview(), format="png", width=160, height=160)
        self.dropdown.observe(lambda change: setattr(self.preview, "value", self._preview()), "value")
        super().__init__([self.dropdown, self.preview])

    @property
    def image(self):
        return self.images[self.dropdown.value]

    def batch(self):
        """The chosen image in the form encode_images takes: a (1, 3, H, W) tensor or a one-item list."""
        return self.image[None] if isinstance(self.image, torch.Tensor) else [self.image]

    def _preview(self) -> bytes:
        try:
            return _png(self.image)
        except Exception:  # an unreadable file: the app that encodes it reports the error
            return b""


class CaptionProbe(App):
    """Start here: pick an image, write candidate captions, see the probability of each.

    bundle: a ClipBundle. images: {name: PIL image or (3, H, W) tensor in [0, 1]}.
    captions: the initial candidates, one per line in the text area.
    The probabilities are a softmax over the captions of logit_scale * cosine, as CLIP does.
    """

    def __init__(self, bundle: ClipBundle, images: dict, captions: Sequence[str]):
        self.bundle = bundle
        self.picker = ImagePicker(images)
        self.captions = W.Textarea(value="\n".join(captions), description="captions",
                                   layout=W.Layout(width="420px", height="170px"))
        self.captions.add_class("clipviz-prompt")
        self.chart = LiveFigure(plots.probability_bars([1.0], ["..."]))
        self._image_cache: dict = {}
        refresh = self.guarded(self.refresh)
        self.picker.dropdown.observe(lambda change: refresh(), "value")
        self.captions.observe(Debounce(lambda change: refresh()), "value")
        help_text = W.HTML("<i>One caption per line. The bars are CLIP's answer to "
                           "&ldquo;which caption goes with this image?&rdquo;</i>")
        super().__init__([W.HBox([self.picker, W.VBox([self.captions, help_text])]), self.chart.widget])
        refresh()

    def probabilities(self) -> tuple[list[str], torch.Tensor]:
        """The current captions and their probabilities for the chosen image."""
        captions = _lines(self.captions.value)
        if not captions:
            raise ValueError("there are no captions: write at least one, one per line")
        name = self.picker.dropdown.value
        if name not in self._image_cache:
            self._image_cache[name] = encode_images(self.bundle, self.picker.batch())
        scale = min(self.bundle.model.logit_scale.exp().item(), 100.0)
        probs = (scale * similarity_matrix(self._image_cache[name], encode_texts(self.bundle, captions))).softmax(-1)
        return captions, probs[0]

    def refresh(self) -> None:
        captions, probs = self.probabilities()
        best = int(probs.argmax())
        fresh = plots.probability_bars(probs, captions, highlight=best,
                                       title=f"CLIP's guess: “{html.escape(captions[best])}”")
        self.chart.replace(fresh)


class ToyEmbeddings(App):
    """A house and two cars as arrows in 2-D: move them, normalise them, read their cosines."""

    START = {"house": (2.0, 0.5), "car 1": (0.4, 1.8), "car 2": (0.7, 1.4)}

    def __init__(self):
        self.sliders = {}
        rows = []
        for name, (x, y) in self.START.items():
            sx = W.FloatSlider(value=x, min=-3, max=3, step=0.1, description=f"{name} x")
            sy = W.FloatSlider(value=y, min=-3, max=3, step=0.1, description=f"{name} y")
            self.sliders[name] = (sx, sy)
            rows.append(W.HBox([sx, sy]))
        self.normalise = W.Checkbox(value=False, description="normalise onto the unit circle")
        self.table = W.HTML()
        self.chart = LiveFigure(plots.vector_plot(self.vectors()))
        refresh = self.guarded(self.refresh)
        for sx, sy in self.sliders.values():
            sx.observe(lambda change: refresh(), "value")
            sy.observe(lambda change: refresh(), "value")
        self.normalise.observe(lambda change: refresh(), "value")
        super().__init__(rows + [self.normalise, W.HBox([self.chart.widget, self.table])])
        refresh()

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


class ContrastiveExplorer(App):
    """The N x N similarity matrix of a batch, its row and column softmaxes, and the loss.

    bundle: a ClipBundle. data: a shapes-world ImageTextPairs to draw the batch from.
    Controls: batch size N, the logit scale (1 / temperature), which matrix to view,
    shuffling the captions (the diagonal vanishes) and duplicate captions (false negatives).
    """

    VIEWS = ("cosine similarity", "row softmax: image → caption", "column softmax: caption → image")

    def __init__(self, bundle: ClipBundle, data, n: int = 8):
        from .loss import contrastive_loss
        self._loss = contrastive_loss
        self.bundle, self.data = bundle, data
        self.n = W.IntSlider(value=n, min=2, max=min(32, len(data)), description="batch N")
        scale = min(bundle.model.logit_scale.exp().item(), 100.0)
        self.scale = W.FloatLogSlider(value=scale, base=10, min=0, max=2, step=0.05, description="logit scale")
        self.view = W.ToggleButtons(options=self.VIEWS, value=self.VIEWS[0], style={"button_width": "auto"})
        self.shuffle = W.Checkbox(value=False, description="shuffle the captions")
        self.duplicates = W.Checkbox(value=False, description="duplicate captions (false negatives)")
        self.readout = W.HTML()
        self.chart = LiveFigure(plots.similarity_heatmap(torch.eye(2)))
        refresh = self.guarded(self.refresh)
        for control in (self.n, self.scale, self.view, self.shuffle, self.duplicates):
            control.observe(lambda change: refresh(), "value")
        super().__init__([W.HBox([self.n, self.scale]), W.HBox([self.shuffle, self.duplicates]), self.view,
                          self.readout, self.chart.widget])
        refresh()

    def batch(self) -> tuple[torch.Tensor, list[str]]:
        """The batch's images (N, 3, H, W) and captions as the controls ask."""
        n = self.n.value
        images, captions = self.data.images[:n].clone(), list(self.data.captions[:n])
        if self.duplicates.value:  # every odd item becomes another picture of the item before it, same caption
            world = self.data.world
            for i in range(1, n, 2):
                a = self.data.attributes[i - 1]
                images[i] = world.render([a], self.data.style, np.random.default_rng(i))[0]
                captions[i] = captions[i - 1]
        if self.shuffle.value:
            order = torch.randperm(n, generator=torch.Generator().manual_seed(n))
            captions = [captions[j] for j in order]
        return images, captions

    def refresh(self) -> None:
        images, captions = self.batch()
        img, txt = encode_images(self.bundle, images), encode_texts(self.bundle, captions)  # (N, D) each
        cos = similarity_matrix(img, txt)  # (N, N)
        parts = self._loss(img, txt, self.scale.value)
        view = self.VIEWS.index(self.view.value)
        z = [cos, parts.logits.softmax(dim=1), parts.logits.softmax(dim=0)][view]
        diag = cos.diagonal().mean().item()
        off = (cos.sum() - cos.diagonal().sum()).item() / max(1, cos.numel() - len(cos))
        self.readout.value = (f"<b>loss</b> {parts.total.item():.3f} = mean of image→text "
                              f"{parts.image_to_text.item():.3f} and text→image {parts.text_to_image.item():.3f}"
                              f" &nbsp;|&nbsp; chance level ln N = {torch.log(torch.tensor(float(len(cos)))):.3f}"
                              f" &nbsp;|&nbsp; mean cosine: diagonal {diag:.3f}, off-diagonal {off:.3f}")
        self.chart.replace(plots.similarity_heatmap(
            z, [f"{i}: {c}" for i, c in enumerate(self.data.captions[:len(captions)])], captions,
            thumbnails=list(images) if len(images) <= 16 else None, title=self.view.value,
            zmin=0 if view else None, zmax=1 if view else None,
            colorbar_title="cosine" if view == 0 else "probability"))


class PromptEffects(App):
    """How the wording of a prompt changes CLIP's probabilities.

    bundle: a ClipBundle. images: {name: image}. labels: class names to choose between.
    templates: prompt templates with "{}" for the label; one more empty box is left
    for the student's own. Shows, for the chosen image, the probability of each label
    under each template, and under their ensemble (the mean of the template embeddings).
    """

    def __init__(self, bundle: ClipBundle, images: dict, labels: Sequence[str],
                 templates: Sequence[str] = ("a photo of a {}", "an image of a {}", "{}")):
        self.bundle, self.labels = bundle, list(labels)
        self.picker = ImagePicker(images)
        self.boxes = [W.Text(value=t, description=f"prompt {i + 1}", continuous_update=False)
                      for i, t in enumerate(list(templates) + ["my own prompt: {}"])]
        for box in self.boxes:
            box.add_class("clipviz-prompt")
        self.scale = W.FloatLogSlider(value=min(bundle.model.logit_scale.exp().item(), 100.0), base=10, min=0,
                                      max=2, step=0.05, description="logit scale")
        self.ensemble = W.Checkbox(value=True, description="show the ensemble of all prompts")
        self.chart = LiveFigure(plots.grouped_bars([[1.0]], ["..."], ["..."]))
        self._image_cache: dict = {}
        refresh = self.guarded(self.refresh)
        for control in self.boxes + [self.scale, self.ensemble, self.picker.dropdown]:
            control.observe(lambda change: refresh(), "value")
        super().__init__([W.HBox([self.picker, W.VBox(self.boxes + [self.scale, self.ensemble])]),
                          W.HTML("<i>Edit a prompt and press Enter. {} marks where the label goes.</i>"),
                          self.chart.widget])
        refresh()

    def templates(self) -> list[str]:
        out = [box.value.strip() for box in self.boxes if box.value.strip()]
        if not out:
            raise ValueError("every prompt box is empty: write at least one prompt such as 'a photo of a {}'")
        for t in out:
            if "{}" not in t:
                raise ValueError(f"the prompt {t!r} needs a {{}} where the label goes, e.g. 'a photo of a {{}}'")
        return out

    def probabilities(self) -> tuple[list[str], torch.Tensor]:
        """(series names, (S, C) probabilities): one row per template, then the ensemble."""
        templates = self.templates()
        name = self.picker.dropdown.value
        if name not in self._image_cache:
            self._image_cache[name] = encode_images(self.bundle, self.picker.batch())
        img = self._image_cache[name]  # (1, D)
        prompts = [t.format(label) for t in templates for label in self.labels]  # T * C prompts, template-major
        emb = encode_texts(self.bundle, prompts).view(len(templates), len(self.labels), -1)  # (T, C, D), encoded once
        weights = list(emb)  # one classifier per template: (C, D) each
        names = list(templates)
        if self.ensemble.value and len(templates) > 1:
            weights.append(emb.mean(dim=0))  # prompt ensembling, as zero_shot_classifier does it
            names.append("ensemble of all prompts")
        rows = [(self.scale.value * similarity_matrix(img, w)).softmax(dim=-1)[0] for w in weights]  # (C,) each
        return names, torch.stack(rows)

    def refresh(self) -> None:
        names, probs = self.probabilities()
        self.chart.replace(plots.grouped_bars(probs, names, self.labels,
                                              title="probability of each label, by prompt wording"))


class EmbeddingMap(App):
    """Image and text embeddings in one scatter, with matched pairs joined and the modality gap drawn.

    bundle: a ClipBundle. data: a shapes-world ImageTextPairs (its images and captions are embedded).
    """

    def __init__(self, bundle: ClipBundle, data, title: str = "embedding map"):
        self.bundle, self.data, self.title = bundle, data, title
        self.method = W.ToggleButtons(options=["pca", "umap", "tsne"], value="pca", description="method")
        self.dims = W.ToggleButtons(options=[2, 3], value=2, description="dims")
        self.colour = W.Dropdown(options=["modality", "shape", "colour", "size", "position"], value="modality",
                                 description="colour by")
        self.pairs = W.Checkbox(value=True, description="join each image to its caption")
        self.gap = W.HTML()
        self.preview = W.Image(format="png", width=96, height=96, layout=W.Layout(display="none"))
        self.preview_caption = W.HTML("<small>hover over or click a point to see its image</small>")
        self.image_emb = encode_images(bundle, data.images)  # (N, D)
        self.text_emb = encode_texts(bundle, data.captions)  # (N, D)
        self.chart = LiveFigure(go.Figure())
        refresh = self.guarded(self.refresh)
        for control in (self.method, self.dims, self.colour, self.pairs):
            control.observe(lambda change: refresh(), "value")
        super().__init__([W.HBox([self.method, self.dims]), W.HBox([self.colour, self.pairs]), self.gap,
                          W.HBox([self.chart.widget, W.VBox([self.preview, self.preview_caption])])])
        refresh()

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
        self.preview.value = _png(self.data.images[item], 96)
        self.preview.layout.display = None
        self.preview_caption.value = f"<small>{html.escape(self.data.captions[item])}</small>"


def bench_prompt_update(bundle, world, device, quick: bool) -> dict:
    """prompt_update_ms: median time for PromptEffects to redraw after a prompt edit (mini model)."""
    data = world.dataset("test", 4)
    app = PromptEffects(bundle, {f"image {i}": data.images[i] for i in range(4)},
                        ["circle", "square", "triangle", "star", "cross"])
    times = []
    for i in range(5 if quick else 15):
        app.boxes[-1].value = f"my prompt {i}: a {{}}"  # what a student's Enter does
        times.append(app.last_update_ms)
    return {"prompt_update_ms": statistics.median(times)}


class ZeroShotExplorer(App):
    """A zero-shot classifier of shapes-world images, steered by hand: what does it mistake for what?

    bundle: a ClipBundle. world: the ShapesWorld to draw test images from.
    n: images per (compositions, style) choice; each set is encoded once and kept.
    Controls: the label set (a kind of `ImageTextPairs.labels`), the prompt template (Enter applies
    it), the drawing style (photo or sketch) and the compositions tested (seen in training,
    or held out). Every change rebuilds the classifier from words alone
    (`zero_shot_classifier`); the readout gives its accuracy beside chance, and the
    confusion matrix shows which labels it mistakes for which.
    """

    TEMPLATES = {"colour shape": "a {}", "shape": "a {}", "colour": "a {} shape"}  # label set -> first template
    SPLITS = {"held-out compositions": "heldout", "seen compositions": "test"}  # button -> ShapesWorld split

    def __init__(self, bundle: ClipBundle, world, n: int = 300):
        self.bundle, self.world, self.n = bundle, world, n
        self.kind = W.ToggleButtons(options=list(self.TEMPLATES), value="colour shape", description="labels")
        self.template = W.Text(value=self.TEMPLATES["colour shape"], description="template", continuous_update=False)
        self.template.add_class("clipviz-prompt")
        self.style = W.ToggleButtons(options=["photo", "sketch"], value="photo", description="style")
        self.split = W.ToggleButtons(options=list(self.SPLITS), value="held-out compositions", description="images")
        self.readout = W.HTML()
        self.chart = LiveFigure(plots.confusion_heatmap(np.zeros((1, 1)), ["..."]))
        self._encoded: dict = {}  # (split, style) -> (ImageTextPairs, (n, D) image embeddings)
        self._refresh = self.guarded(self.refresh)
        self.kind.observe(self._choose_kind, "value")
        for control in (self.template, self.style, self.split):
            control.observe(lambda change: self._refresh(), "value")
        hint = W.HTML("<i>{} marks where the label goes; press Enter to apply.</i>")
        super().__init__([self.kind, W.HBox([self.template, hint]), self.style, self.split, self.readout,
                          self.chart.widget])
        self._refresh()

    def _choose_kind(self, change) -> None:
        """A new label set starts from its own template (setting the box refreshes the figure)."""
        template = self.TEMPLATES[change["new"]]
        if self.template.value != template:
            self.template.value = template
        else:
            self._refresh()

    def evaluate(self) -> tuple[list[str], list[int], list[int], float]:
        """(labels, true classes, predicted classes, accuracy) under the current controls."""
        key = (self.SPLITS[self.split.value], self.style.value)
        if key not in self._encoded:
            data = self.world.dataset(key[0], self.n, key[1])
            self._encoded[key] = (data, encode_images(self.bundle, data.images))
        data, image_emb = self._encoded[key]  # ImageTextPairs, (n, D)
        labels, targets = data.labels(self.kind.value)
        classifier = zero_shot_classifier(self.bundle, labels, [self.template.value.strip()])
        predictions = classifier.logits(image_emb).argmax(dim=-1)  # (n,)
        accuracy = float((predictions == torch.tensor(targets)).float().mean())
        return labels, targets, predictions.tolist(), accuracy

    def refresh(self) -> None:
        labels, targets, predictions, accuracy = self.evaluate()
        self.readout.value = (f"<b>accuracy</b> {accuracy:.0%} on {len(targets)} {self.style.value} images of "
                              f"{self.split.value} &nbsp;|&nbsp; chance: {1 / len(labels):.0%} "
                              f"({len(labels)} labels)")
        template = html.escape(self.template.value, quote=False)  # plotly titles read a little HTML
        title = f"{self.style.value} images, {self.split.value}, “{template}”"
        matrix = confusion_matrix(targets, predictions, len(labels))  # (C, C) counts
        self.chart.replace(plots.confusion_heatmap(matrix, labels, title=title))
