"""The shapes world's words: the four attributes a picture shows, and the sentences that say all four.

Two modules build on these words: data.py draws the pictures and writes their evaluation captions,
captions.py writes their training alt-text. Both import them from here, so each can be read and
changed alone (`from clipviz.data import COLOURS` keeps working: data.py re-exports them).
"""
from __future__ import annotations

from typing import NamedTuple

from .palette import WORLD, rgb

SHAPES = ("circle", "square", "triangle", "star", "cross")
COLOURS = {name: rgb(hex_colour) for name, hex_colour in WORLD.items()}  # name -> RGB in [0, 1], Okabe-Ito (palette.py)
SIZES = {"small": 0.19, "large": 0.33}  # name -> radius as a fraction of the image side
POSITIONS = {  # name -> (centre x, centre y, words used in captions)
    "left": (0.28, 0.50, "on the left"),
    "right": (0.72, 0.50, "on the right"),
    "top": (0.50, 0.28, "at the top"),
    "bottom": (0.50, 0.72, "at the bottom"),
}
VOCABULARY = (SHAPES, tuple(COLOURS), tuple(SIZES), tuple(POSITIONS))  # the words of each attribute, in order

# Full-caption templates. The first one is the canonical caption used for evaluation;
# the others are some of the ways a training caption may say all four things. None names a style:
# the words "photo", "sketch" and "drawing" come only with a picture of that style (captions.STYLE_FRAMES).
TEMPLATES = (
    "a {size} {colour} {shape} {where}",
    "a {colour} {shape}, {size}, {where}",
    "there is a {size} {colour} {shape} {where}",
    "a picture of a {size} {colour} {shape} {where}",
    "{where} there is a {colour} {shape} that is {size}",
    "an image of a {size} {shape} in {colour} {where}",
    "{size} and {colour}: a {shape} {where}",
)


class Attributes(NamedTuple):
    """What one image shows, or (with None for what it leaves out) what one caption says."""
    shape: str | None
    colour: str | None
    size: str | None
    position: str | None

    def fits(self, other: "Attributes") -> bool:
        """True if every attribute named here (not None) is the same in `other`: this caption is true of it."""
        return all(mine is None or mine == theirs for mine, theirs in zip(self, other))


def full_caption(a: Attributes, template: int | str = 0) -> str:
    """The caption that says all four attributes of `a`; `template` is an index into TEMPLATES or a format string.

    Template 0 is the canonical caption: "a small red star on the left".
    """
    fmt = TEMPLATES[template] if isinstance(template, int) else template
    return fmt.format(shape=a.shape, colour=a.colour, size=a.size, where=POSITIONS[a.position][2])
