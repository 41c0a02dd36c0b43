"""The app framework: live figures, debounced text boxes, error-safe callbacks and an image picker.

Every clipviz app is an `App` (an ipywidgets.VBox with a message line): a callback
that raises shows its error there in plain words and the app keeps working, where
ipywidgets would hide it in a log. Figures are `LiveFigure`s: plotly FigureWidgets
changed in place, or, where those cannot load, static figures redrawn in an Output.
Multi-line text boxes update after a short pause (`Debounce`), never on every keystroke.

An app names the controls that make up its state and its main figure; App then ends with the share
bar of clipviz/widgets/share.py (copy and apply settings, save the figure). For screen readers,
pictures are HTML <img> tags with alt text (`picture_html`; ipywidgets.Image has none) and slider
handles get their labels' names (`slider_names`).
"""
from __future__ import annotations

import asyncio
import copy
import html
import importlib.util
import os
import time
from typing import Callable

import ipywidgets as W
import plotly.graph_objects as go
import torch

from ..pictures import picture_html  # noqa: F401 -- apps import picture_html from here
from .share import Shareable


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
            # plotly sends a FigureWidget's whole state only when it is displayed on its own; inside an app's box
            # later changes go as one-off messages, which Voilà (connecting after every cell has run) never sees.
            # Keeping the widget's own copy current makes a late-connecting page draw the figure as it is now.
            self.figure._widget_data = copy.deepcopy(self.figure._data)
            self.figure._widget_layout = copy.deepcopy(self.figure._layout_obj._props)

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


# ipywidgets 8 draws a slider's handle as a <div role="slider"> that its <label> does not name, so a screen
# reader says only "slider, 0.5" (axe-core: aria-input-field-name). This gives each handle its label's text.
NAME_SLIDERS_JS = """
function nameSliders() {
  for (const handle of document.querySelectorAll('[role="slider"]:not([aria-label])')) {
    const label = handle.closest(".widget-slider")?.querySelector(".widget-label");
    if (label?.textContent.trim()) handle.setAttribute("aria-label", label.textContent.trim());
  }
}
export default {
  render() {
    nameSliders();
    const watch = new MutationObserver(nameSliders);  // sliders drawn later, or drawn again
    watch.observe(document.body, { childList: true, subtree: true });
    return () => watch.disconnect();
  },
};
"""


_SLIDER_NAMES = None  # the one SliderNames widget of this kernel, made on first use


def slider_names() -> W.Widget | None:
    """An invisible widget that names the page's slider handles for screen readers (NAME_SLIDERS_JS).

    One for the whole kernel: every app with sliders shows the same one (one model for the page to load).
    None without anywidget, or with CLIPVIZ_STATIC_FIGURES=1 (where the front end cannot load anywidgets).
    ipywidgets 7 sliders, jQuery UI ones, have no role="slider" handles to name.
    """
    global _SLIDER_NAMES
    if os.environ.get("CLIPVIZ_STATIC_FIGURES") == "1" or importlib.util.find_spec("anywidget") is None:
        return None
    if _SLIDER_NAMES is None:
        import anywidget

        class SliderNames(anywidget.AnyWidget):
            _esm = NAME_SLIDERS_JS
        _SLIDER_NAMES = SliderNames()
    return _SLIDER_NAMES


def _has_slider(widget: W.Widget) -> bool:
    return "Slider" in type(widget).__name__ or any(_has_slider(child) for child in getattr(widget, "children", ()))


class App(Shareable, W.VBox):
    """Base of the apps: a message line, and callbacks that report errors there instead of dying.

    state: {short name: control}, the controls whose values make up the app's settings, in the order
        they are applied (a control that resets others comes first). figure: the LiveFigure that
        "save figure" writes. With either, the app ends with the share bar (clipviz/widgets/share.py).
    """

    def __init__(self, children=(), state: dict | None = None, figure: LiveFigure | None = None, **kwargs):
        self.message = W.HTML()
        self.message.add_class("clipviz-message")
        self.state, self.saved_figure = dict(state or {}), figure
        children = list(children) + [self.message] + ([self._share_bar()] if state or figure else [])
        if any(_has_slider(child) for child in children) and slider_names() is not None:
            children.append(slider_names())  # invisible: names the slider handles for screen readers
        super().__init__(children, **kwargs)
        self.add_class("clipviz-app")
        self.last_update_ms = float("nan")

    def show_error(self, err: Exception) -> None:
        """Say in the app's message line, in plain words, what went wrong."""
        self.message.value = f"<div style='color:#b00020'><b>Could not update:</b> {html.escape(str(err))}</div>"

    def guarded(self, fn: Callable) -> Callable:
        """fn wrapped so that an exception is shown in the app's message line, not lost."""
        def run(*args, **kwargs):
            start = time.perf_counter()
            try:
                result = fn(*args, **kwargs)
            except Exception as err:  # shown to the student; the app stays usable
                self.show_error(err)
                return None
            self.message.value = ""
            self.last_update_ms = 1000 * (time.perf_counter() - start)
            return result
        return run


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


class ImagePicker(W.VBox):
    """A dropdown of named images with a preview, and an upload button for a picture of your own.

    images: {name: PIL image, (3, H, W) tensor in [0, 1], or path}. `.image` is the chosen one.
    upload: False hides the upload button. An uploaded file joins the dropdown as "yours: <file name>"
        and is chosen, so the app around the picker encodes it like the others. It is shrunk to
        UPLOAD_SIDE pixels on its long side while it is decoded; a file over MAX_UPLOAD_MB, or one
        that is not a readable image, is refused with a message here and the picker stays as it was.
    """

    MAX_UPLOAD_MB = 20  # larger files are refused (a 12-megapixel JPEG is about 5 MB)
    UPLOAD_SIDE = 448  # an upload is shrunk to this many pixels on its long side: twice the 224 CLIPs read

    def __init__(self, images: dict, upload: bool = True):
        if not images:
            raise ValueError("no images to pick from: pass a dict {name: PIL image, (3, H, W) tensor or path}")
        self.images = dict(images)
        self.dropdown = W.Dropdown(options=list(self.images), description="image")
        self.preview = W.HTML(self._preview())  # an <img> with the image's name as its alt text
        self.dropdown.observe(lambda change: setattr(self.preview, "value", self._preview()), "value")
        self.upload = W.FileUpload(accept="image/*", multiple=False, description="your picture")
        self.upload_note = W.HTML(f"<small>JPEG, PNG, ... up to {self.MAX_UPLOAD_MB} MB</small>")
        self.upload.observe(lambda change: self._uploaded(change["new"]), "value")
        controls = [W.HBox([self.upload, self.upload_note])] if upload else []
        super().__init__([self.dropdown, self.preview, *controls])

    @property
    def image(self):
        return self.images[self.dropdown.value]

    def batch(self):
        """The chosen image in the form encode_images takes: a (1, 3, H, W) tensor or a one-item list."""
        return self.image[None] if isinstance(self.image, torch.Tensor) else [self.image]

    def add(self, name: str, content: bytes) -> str:
        """Add the image file `content` (bytes) under `name` and choose it; returns the name used.

        Raises ValueError, saying what to do, for a file over MAX_UPLOAD_MB or one that is not a readable image.
        """
        from ..folder import open_downscaled
        size_mb = len(content) / 2 ** 20
        if size_mb > self.MAX_UPLOAD_MB:
            raise ValueError(f"{name} is {size_mb:.0f} MB, over the {self.MAX_UPLOAD_MB} MB limit: "
                             f"shrink it or save it as a JPEG, then upload it again")
        try:
            image = open_downscaled(content, self.UPLOAD_SIDE)
        except ValueError as err:
            raise ValueError(f"{name} cannot be used: {err}") from None
        label, k = f"yours: {name}", 2
        while label in self.images:  # a new upload never reuses a name (the apps cache embeddings by name)
            label, k = f"yours: {name} ({k})", k + 1
        self.images = {label: image, **self.images}  # first: new options select the first, so one redraw
        self.dropdown.options = list(self.images)
        self.dropdown.value = label  # already chosen; the apps observe this and have redrawn
        return label

    def _uploaded(self, value) -> None:
        """The FileUpload's value: a tuple of {"name", "content", ...} (ipywidgets 8) or a dict (7)."""
        files = list(value.values()) if isinstance(value, dict) else list(value)
        if not files:
            return
        file = files[-1]
        name = file.get("name") or file.get("metadata", {}).get("name", "upload")
        note = f"<small>JPEG, PNG, ... up to {self.MAX_UPLOAD_MB} MB</small>"
        try:
            self.add(name, bytes(file["content"]))
        except ValueError as err:
            note = f"<span style='color:#b00020'>{html.escape(str(err))}</span>"
        finally:
            self.upload_note.value = note
            if isinstance(value, dict):  # ipywidgets 7 keeps a dict; 8 a tuple that can be replaced
                value.clear()
            else:
                self.upload.value = ()  # drop the bytes from the widget; also lets the same file be sent again

    def _preview(self) -> str:
        return picture_html(self.image, self.dropdown.value)
