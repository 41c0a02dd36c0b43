"""Shareable settings and figure export: the share bar every clipviz app ends with.

A student who finds a striking setting sends it to a classmate the way TensorFlow Playground keeps
its state in the URL: "copy settings" shows the app's state as one line of text,

    clipviz:PromptEffects:v1:eyJpbWFnZSI6InBob3RvOiByZWQgc3RhciIs...   (app, format, URL-safe base64 of JSON)

which the classmate pastes into the same app ("apply settings") or passes as `settings=` to its
constructor. Text that is not settings, is damaged, belongs to another app or another format
version changes nothing and says why. "save figure" writes the app's figure as a web page that works
offline (.html, plotly.js inside) or a picture (.png, where kaleido is installed).

An app declares its `state` ({short name: control}, in the order to apply them) and its
`saved_figure` (a LiveFigure); `Shareable` does the rest (App in base.py mixes it in).
"""
from __future__ import annotations

import base64
import html
import importlib.util
import json
import pathlib
import re

import ipywidgets as W
import plotly.graph_objects as go

SETTINGS_VERSION = 1  # the settings text's format; an app whose state changes meaning bumps it


class SettingsError(ValueError):
    """Settings text an app cannot use; the message says why and what to do."""


def encode_settings(app: str, state: dict, version: int = SETTINGS_VERSION) -> str:
    """{"image": "photo: red star", ...} -> "clipviz:CaptionProbe:v1:eyJpbWFnZSI6...", compact JSON in URL-safe
    base64 (without its "=" padding)."""
    packed = json.dumps(state, separators=(",", ":"), ensure_ascii=False).encode()
    return f"clipviz:{app}:v{version}:" + base64.urlsafe_b64encode(packed).decode().rstrip("=")


def decode_settings(text: str, app: str, version: int = SETTINGS_VERSION) -> dict:
    """The state inside settings text that encode_settings made for `app` in format `version`.

    Raises SettingsError, saying what to do, for text that is not settings, is damaged, belongs to
    another app, or comes from another version of the format.
    """
    parts = "".join(text.split()).split(":", 3)  # without the line breaks and spaces that pasting may add
    if len(parts) != 4 or parts[0] != "clipviz" or not re.fullmatch(r"v\d+", parts[2]):
        raise SettingsError(f"this is not clipviz settings text, which starts with “clipviz:{app}:v{version}:”: "
                            f"copy it again with the “copy settings” button")
    _, name, made, payload = parts
    if name != app:
        raise SettingsError(f"these are settings of the {name} app, not of {app}: paste them into a {name}")
    made = int(made[1:])
    if made > version:
        raise SettingsError(f"these settings come from a newer clipviz (format v{made}; this one reads v{version}): "
                            f"update clipviz, or set the controls by hand")
    if made < version:
        raise SettingsError(f"these settings come from an older clipviz (format v{made}; this one reads v{version}): "
                            f"set the controls by hand, then copy the settings again")
    try:
        state = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:  # bad base64, bytes that are not UTF-8, or text that is not JSON
        state = None
    if not isinstance(state, dict):
        raise SettingsError("the settings text is damaged (a part is missing or was changed): copy it again, whole")
    return state


def _refusal(control: W.Widget, value) -> str | None:
    """Why `value` cannot go into `control` (dropdown, toggle buttons, slider, checkbox, text box); None if it can."""
    if hasattr(control, "options"):
        choices = [option[1] if isinstance(option, tuple) else option for option in control.options]
        return None if value in choices else f"is not one of {', '.join(map(repr, choices))}"
    if isinstance(control.value, (bool, str)):
        return None if type(value) is type(control.value) else f"should be {type(control.value).__name__}"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (isinstance(control.value, int)
                                                                         and not isinstance(value, int)):
        return "should be a number" if isinstance(control.value, float) else "should be a whole number"
    low, high = control.min, control.max
    if isinstance(control, W.FloatLogSlider):  # its min and max are exponents
        low, high = control.base ** low, control.base ** high
    return None if low <= value <= high else f"is outside {low:g} ... {high:g}"


def _problem(what: str, err: Exception) -> str:
    """An error for a note line, in red: "<b>Not saved:</b> why"."""
    return f"<span style='color:#b00020'><b>{what}:</b> {html.escape(str(err))}</span>"


def write_figure(figure: go.Figure, path) -> str:
    """Write `figure` to `path`, by its ending: .html, a web page with plotly.js inside that works offline;
    .png, a picture (needs the kaleido package). Returns the absolute path written.

    Raises ValueError, saying what to do, for another ending or a PNG without a working kaleido.
    """
    path = pathlib.Path(path).expanduser()
    if path.suffix.lower() in (".html", ".htm"):
        go.Figure(figure).write_html(str(path), include_plotlyjs=True, full_html=True)  # 'cdn' would need internet
    elif path.suffix.lower() == ".png":
        if importlib.util.find_spec("kaleido") is None:
            raise ValueError("a PNG needs the kaleido package, which is not installed (pip install kaleido): "
                             "save as .html instead, open the page and take a screenshot, or use its camera icon")
        try:
            go.Figure(figure).write_image(str(path), scale=2)
        except Exception as err:  # kaleido is there but cannot draw (kaleido 1 also needs Chrome)
            raise ValueError(f"kaleido could not draw the PNG ({err}): save as .html instead") from None
    else:
        raise ValueError(f"cannot save “{path.name}”: end the file name with .html (a web page that works "
                         f"offline) or .png (a picture)")
    return str(path.resolve())


class Shareable:
    """The share bar of an app (an ipywidgets box with `state`, `saved_figure` and `message`): copy and apply
    settings, save the figure, and a note line saying what happened (`share_note`)."""

    def _share_bar(self) -> W.VBox:
        """Copy settings, paste and apply them, save the figure; and a line for what happened."""
        wide = W.Layout(width="auto")
        self.settings_box = W.Text(description="settings", placeholder="paste settings here, then apply them",
                                   layout=W.Layout(width="520px"))
        self.copy_button = W.Button(description="copy settings", icon="share-alt", layout=wide,
                                    tooltip="show this app's settings as one line of text, to copy and send")
        self.apply_button = W.Button(description="apply settings", icon="check", layout=wide,
                                     tooltip="set the controls from the settings text in the box")
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", type(self).__name__).lower()  # PromptEffects -> prompt_effects
        self.figure_file = W.Text(value=f"{snake}.html", description="figure file",
                                  tooltip=".html: a web page that works offline; .png: a picture (needs kaleido)")
        self.save_figure_button = W.Button(description="save figure", icon="download", layout=wide,
                                           tooltip="write the figure to the file named beside it, "
                                                   "in the notebook's folder")
        self.share_note = W.HTML()
        self.share_note.add_class("clipviz-share-note")
        self.copy_button.on_click(lambda button: self.copy_settings())
        self.apply_button.on_click(lambda button: self.apply_settings(self.settings_box.value))
        self.save_figure_button.on_click(lambda button: self.save_figure())
        rows = [W.HBox([self.copy_button, self.settings_box, self.apply_button])] if self.state else []
        rows += [W.HBox([self.figure_file, self.save_figure_button])] if self.saved_figure is not None else []
        return W.VBox(rows + [self.share_note])

    def settings(self) -> str:
        """The app's state as one line of text: "clipviz:<app>:v1:<URL-safe base64 of compact JSON>"."""
        return encode_settings(type(self).__name__, {key: control.value for key, control in self.state.items()})

    def copy_settings(self) -> str:
        """Show the settings text in the settings box, for the student to select and copy; returns it."""
        self.settings_box.value = text = self.settings()
        self.share_note.value = ("Select the text in the settings box and copy it (Ctrl+C, on a Mac ⌘C). Pasted into "
                                 "this app's box, or given as <code>settings=...</code>, it sets every control.")
        return text

    def apply_settings(self, text: str | None) -> bool:
        """Set the controls from settings text (None or "": nothing to do); True if applied.

        Text that is not this app's settings, or holds a value a control cannot take, changes
        nothing and says why in the share bar's note; it never raises.
        """
        if not text or not text.strip():
            return False
        try:
            state = decode_settings(text, type(self).__name__)
            unknown = [key for key in state if key not in self.state]
            if unknown:
                raise SettingsError(f"{type(self).__name__} has no setting {unknown[0]!r} (it has "
                                    f"{', '.join(self.state)}): copy the settings again")
            for key, value in state.items():
                refusal = _refusal(self.state[key], value)
                if refusal:
                    raise SettingsError(f"the setting {key!r} = {value!r} {refusal}: nothing was changed")
        except SettingsError as err:
            self.share_note.value = _problem("Settings not applied", err)
            return False
        try:
            for key, control in self.state.items():  # in the app's order: a control that resets others goes first
                if key in state:
                    control.value = state[key]
        except Exception as err:  # a value the checks above let through but the control refused
            self.share_note.value = _problem("Settings not all applied", err)
            return False
        self.share_note.value = "Settings applied."
        return True

    def save_figure(self, path: str | None = None) -> str | None:
        """Write the app's figure to `path` (default: the figure file box; relative to the notebook's folder).

        Returns the absolute path, or None when it could not (the note says why; it never raises).
        """
        try:
            written = write_figure(self.saved_figure.figure, path or self.figure_file.value.strip())
        except (ValueError, OSError) as err:
            self.share_note.value = _problem("Not saved", err)
            return None
        self.share_note.value = f"Saved <code>{html.escape(written)}</code>."
        return written
