"""Binding (chapter 09): build a two-object scene, write two captions, see which model can tell them apart.

- `BindingExplorer`: dropdowns build a scene and a swap of it (the second image); two text
  boxes hold two captions; every model's 2 x 2 similarities and its Winoground verdicts
  (text, image, group) update as the student types.
- `HardNegativeDashboard`: the training dashboard of chapter 04, on two-object scenes,
  with a slider for how many swapped captions per batch become hard negatives.

The numbers come from `clipviz.binding_eval`; these apps only wire controls to figures.
"""
from __future__ import annotations

import dataclasses
import html

import ipywidgets as W
import plotly.graph_objects as go
import torch

from .. import plots
from ..binding import SWAP_KINDS, SWAPS, Caption, Scene, Thing, TwoObjectWorld, WinogroundGroups
from ..binding_eval import RECIPES, group_similarity, winoground_scores
from ..data import COLOURS, SHAPES
from ..model import ClipBundle
from ..recipe import fast_mode
from .base import App, Debounce, LiveFigure, picture_html
from .dashboard import TrainingDashboard


class BindingExplorer(App):
    """Two images and two captions with the same words: which models tell them apart?

    models: {name: ClipBundle}, e.g. the three encoders of `binding_eval.compare`.
    world: the TwoObjectWorld that draws the scenes.
    Image 1 is the scene of the dropdowns; image 2 is the scene its chosen swap describes.
    settings: settings text from another BindingExplorer's "copy settings" (the scene, the swap, the captions).
    """

    def __init__(self, models: dict[str, ClipBundle], world: TwoObjectWorld, settings: str | None = None):
        if not models:
            raise ValueError("no models to compare: pass {name: bundle}, e.g. from binding_eval.compare()")
        self.models, self.world = dict(models), world
        pick = lambda description, options, value: W.Dropdown(options=options, value=value, description=description,
                                                              layout=W.Layout(width="190px"))
        self.left = (pick("left", SHAPES, "square"), pick("colour", tuple(COLOURS), "red"))
        self.right = (pick("right", SHAPES, "circle"), pick("colour", tuple(COLOURS), "blue"))
        self.swap = pick("image 2", SWAP_KINDS, "colours")
        self.caption_boxes = [W.Text(description=f"caption {k}", layout=W.Layout(width="420px")) for k in (1, 2)]
        self.caption_boxes[0].add_class("clipviz-prompt")
        self.images = [W.HTML() for _ in range(2)]  # <img> tags, each scene in words as its alt text
        self.figure = LiveFigure(go.Figure())
        self.readout = W.HTML()  # each model's verdicts in words, beside the heatmaps
        self._resetting = False  # True while new_scene fills the caption boxes: no refresh per box
        refresh, rebuild = self.guarded(self.refresh), self.guarded(self.new_scene)
        for box in (*self.left, *self.right, self.swap):
            box.observe(lambda change: rebuild(), "value")
        for box in self.caption_boxes:
            box.observe(Debounce(lambda change: None if self._resetting else refresh()), "value")
        controls = W.VBox([W.HBox(list(self.left)), W.HBox(list(self.right)), self.swap, *self.caption_boxes])
        pictures = W.HBox([W.VBox([W.HTML(f"image {k + 1}"), im]) for k, im in enumerate(self.images)])
        state = {"left": self.left[0], "left colour": self.left[1], "right": self.right[0],
                 "right colour": self.right[1], "image 2": self.swap,  # the scene first: it resets the captions
                 "caption 1": self.caption_boxes[0], "caption 2": self.caption_boxes[1]}
        super().__init__([W.HBox([controls, pictures]), self.figure.widget, self.readout], state=state,
                         figure=self.figure)
        self.new_scene()
        self.apply_settings(settings)

    def scenes(self) -> tuple[Scene, Scene]:
        """The scene of the dropdowns, and the scene of its chosen swap (image 2)."""
        left, right = Thing(self.left[0].value, self.left[1].value), Thing(self.right[0].value, self.right[1].value)
        if left.shape == right.shape or left.colour == right.colour:
            raise ValueError("give the two objects different shapes and different colours, "
                             "so that every swap changes the scene")
        caption = Caption(left, right, "left of")
        swapped = SWAPS[self.swap.value](caption)
        return Scene(left, right), next(iter(swapped.scenes()))

    def new_scene(self) -> None:
        """Redraw both images and reset the captions to the scene's caption and its swap."""
        first, second = self.scenes()
        self._pixels = self.world.render([first, second])  # (2, 3, H, W)
        for widget, image, scene in zip(self.images, self._pixels, (first, second)):
            widget.value = picture_html(image, Caption(scene.left, scene.right, "left of").text(), 96)
        caption = Caption(first.left, first.right, "left of")
        self._resetting = True
        try:
            self.caption_boxes[0].value = caption.text()
            self.caption_boxes[1].value = SWAPS[self.swap.value](caption).text()
        finally:
            self._resetting = False
        self.refresh()

    def similarities(self) -> dict[str, torch.Tensor]:
        """{model name: (2, 2) similarities} of the two images and the two captions in the boxes."""
        captions = tuple(box.value.strip() for box in self.caption_boxes)
        if not all(captions):
            raise ValueError("write a caption in both boxes")
        group = WinogroundGroups(self._pixels[None], [captions], ["typed"], [True], "typed")
        return {name: group_similarity(bundle, group)[0] for name, bundle in self.models.items()}

    def refresh(self) -> None:
        captions = tuple(box.value.strip() for box in self.caption_boxes)
        similarities = self.similarities()  # {model: (2, 2)}
        verdicts = {name: winoground_scores(sim[None]) for name, sim in similarities.items()}  # ties count as wrong
        self.figure.replace(plots.winoground_heatmaps(similarities, verdicts, captions))
        lines = []
        for name, verdict in verdicts.items():  # {"text_score": 1.0, ...}: 1 passed, 0 failed
            scores = [f"{key.split('_')[0]} score {'passed' if ok else 'failed'}" for key, ok in verdict.items()]
            lines.append(f"<b>{html.escape(name)}</b>: {', '.join(scores)}")
        self.readout.value = "<br>".join(lines)


class HardNegativeDashboard(TrainingDashboard):
    """Chapter 04's dashboard on two-object scenes, training with NegCLIP's hard negatives.

    world: a TwoObjectWorld. n: training images (default: the binding recipe's).
    The accuracy curves are caption retrieval among all 600 canonical captions, swaps included.
    settings: settings text from another HardNegativeDashboard's "copy settings".
    """

    def __init__(self, world: TwoObjectWorld, n: int | None = None, probe_size: int = 6, settings: str | None = None):
        config = RECIPES["quick" if fast_mode() else "normal"]
        super().__init__(world, n or config.train_images, probe_size)
        self.config = dataclasses.replace(config, eval_every=max(10, config.steps // 6))
        self.steps.value, self.batch_size.value, self.lr.value = config.steps, config.batch_size, config.lr
        self.hard_negatives = W.IntSlider(value=config.hard_negatives, min=0, max=256, step=8,
                                          description="hard negatives", style={"description_width": "initial"})
        controls = self.children[0]  # the dashboard's controls: preset and batch, lr and steps, ...
        controls.children = (*controls.children[:2], self.hard_negatives, *controls.children[2:])
        self.state["hard negatives"] = self.hard_negatives
        self.apply_settings(settings)  # after the recipe's values above, so the settings win

    def start(self) -> None:
        """Train a fresh mini CLIP with the chosen number of hard negatives per batch."""
        self.config = dataclasses.replace(self.config, hard_negatives=self.hard_negatives.value)
        super().start()
