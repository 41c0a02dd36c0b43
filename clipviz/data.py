"""The shapes world: a tiny procedural image-caption world for training a mini CLIP.

Every image shows one shape with four attributes (shape, colour, size, position),
drawn with Pillow. Because the world is small (5 shapes x 6 colours x 2 sizes x 4
positions = 240 combinations) a CLIP trained on it for a minute on a laptop CPU can
be probed completely: every caption it could ever need is known.

Three ideas of the CLIP paper are built into the data:
- training captions are like the alt-text under web images: each names a random,
  non-empty part of what the picture shows ("a red star", "something red on the
  left", "a photo of a large circle"), in varied words and orders, and is always
  true of it. The *canonical* caption names all four and is what evaluation uses;
- some (shape, colour) compositions are *held out* of training, so compositional
  generalisation can be tested on a red circle the model never saw, only read about
  in pieces;
- the same scene can be drawn as a `photo` (filled, shaded, with a shadow, on a noisy
  background) or as a `sketch` (outline on paper, with a lighter shadow), and training can mix the two, so
  robustness to a change of style, and where it comes from, can be asked.

Rendering follows the usual trick for speed: Pillow draws only a 1-channel mask per
image, and NumPy colours, shades and adds noise to the whole batch at once.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw

from .captions import alt_text
from .pictures import Pictures
# The world's words live in vocabulary.py, below this module and captions.py; re-exported here, where they were.
from .vocabulary import (COLOURS, POSITIONS, SHAPES, SIZES, TEMPLATES, VOCABULARY,  # noqa: F401
                         Attributes, full_caption)

STYLES = ("photo", "sketch", "mixed", "painting")  # "mixed": some photos, some sketches (see `sketch_share`)
DRAWN = ("photo", "sketch", "painting")  # the styles `render` draws; no shipped model trains on "painting"
UNSEEN_STYLE = "painting"  # the style kept for robustness to a shift never trained on (CLIP paper, Figure 13)
# A photo's shape casts a shadow down and to the right (the light comes from the top left). The shadow is dark
# whatever the shape's colour, so its outline shows a shape's form even where the colour barely stands out from
# the grey background (yellow, reddish purple), for a student's eyes and for the image tower alike. Measured
# (issue 18; 1,700 steps, world seed 0, training seeds 0 / 1 / 2, one thread each, 2-core Intel Xeon): held-out
# caption top-1 0.894 / 0.799 / 0.774 without it, 0.807 / 0.910 / 0.902 with it (with captions.py's fruit captions
# too, 0.887 / 0.831 / 0.889: `python -m clipviz bench --seeds 3`, the README). Without it the model could not tell a
# yellow star (held out) from a triangle: 12-29 % of them were called stars at seeds 1 and 2, 67-81 % with it.
SHADOW_OFFSET = 2  # pixels at 32 x 32 (scaled with image_size)
SHADOW_DEPTH = 0.45  # how much the shadow darkens the background (0.65 gave held-out 0.68 / 0.87 at seeds 1 / 2)
# Sketches and paintings cast a lighter shadow, on the paper or canvas outside the shape, so that every style
# shares the photos' colour-free cue to a shape's form (the light always comes from the top left). Without it the
# photo+sketch model read fewer sketches once photos cast shadows. Measured (issue 18; the shipped mixed model's
# recipe, `--sketch-share 0.25`, world seed 0, training seeds 0-4, one thread each, 2-core Intel Xeon): sketches
# 0.939 / 0.863 / 0.937 / 0.893 / 0.904 with the sketch's shadow against 0.895 / 0.806 / 0.875 / 0.903 (seeds 0-3)
# without; seen photos 0.977 / 0.965 / 0.987 / 0.976 / 0.973 against 0.968 / 0.964 / 0.971 / 0.972. The photo-only
# model still reads few sketches (0.02 -> 0.09). A painting needs its shadow too: without it the mixed model,
# which now reads sketches partly by their shadow, read 0.42-0.46 of paintings (world seeds 0 and 1) against the
# photo-only model's 0.21-0.27; with it, 0.68-0.74 against 0.43-0.49 (chapter 05's unseen style).
# A photo's shape also has a dark edge all round, like a printed sticker, drawn where a sketch draws its outline.
# The shadow shows a shape's form on its lower right side only; the edge shows all of it, at the same contrast
# whatever the shape's colour, so the image tower learns shape apart from colour. Measured (issue 18; the recipe,
# world seed 0, one thread per run, 2-core Intel Xeon): held-out caption top-1 0.932 / 0.915 / 0.909 / 0.929 / 0.890
# at training seeds 0-4, against 0.887 / 0.831 / 0.889 / 0.860 at seeds 0-3 without it (recipe.py's notes).
PHOTO_EDGE = 0.6  # how much the edge darkens the photo (0 for none)
DRAWN_SHADOW = 0.3  # how much a sketch's or a painting's shadow darkens the paper or canvas
SKETCH_SHARE = 0.2  # sketches in a "mixed" set unless told otherwise: the shipped mixed model's share
# Black-and-white pictures. Some photos on the web are black and white, and their alt-text cannot name a colour they
# do not show. A GREY_SHARE of the training pictures is grey (their luminance, ITU-R BT.601 weights, as Pillow's
# convert("L")), captioned without a colour word: "a cross on the left". Such a picture teaches *cross* from its shape
# alone, so the image tower learns shape apart from colour: held-out compositions are a known shape in a known colour.
# Measured (issue 18; the recipe, world seed 0, 2-core Intel Xeon; recipe.py's notes): photo model, held-out caption
# top-1 at training seeds 0-7 0.961 / 0.955 / 0.956 (this code, `python -m clipviz bench --seeds 3`) / 0.962 / 0.945 /
# 0.959 / 0.963 / 0.946 (this code, one thread per run; a prototype with other random draws gave 0.947 / 0.883 at
# seeds 3 / 4) with a tenth grey, 0.932 / 0.915 / 0.909 / 0.929 / 0.890 / 0.877 / 0.947 / 0.851 without; on world seed
# 1 (seeds 0 / 1, the prototype) 0.950 / 0.954 against 0.808 / 0.917. The photo+sketch model gets none: its sketches
# already show shape with little colour, and grey cost it at some seeds. A tenth (the prototype) cost it seen photos
# (0.966 / 0.979 at seeds 0 / 1); a twentieth raised seeds 0 / 1 (seen photos 0.986 / 0.988, sketches 0.916 / 0.939)
# but at seed 2 the model had not learned positions (seen photos 0.878, sketches 0.677: `python -m clipviz bench
# --seeds 3`, 2026-12-05), where without grey it meets both bars at seeds 0-4 (README). Sketch-only training is
# untried with grey.
GREY_SHARE = {"photo": 0.1, "sketch": 0.0, "mixed": 0.0}  # by training style, unless told otherwise
GREY_WEIGHTS = (0.299, 0.587, 0.114)  # luminance of red, green and blue (ITU-R BT.601)
# Never shown in training: one composition per colour, covering every shape. The shape that comes twice
# (circle) gets two colours no colour-vision deficiency confuses (red and blue), so a colour-blind student
# can still tell the two held-out circles apart (tests/test_palette.py).
HELD_OUT = (("circle", "red"), ("square", "green"), ("triangle", "orange"), ("star", "yellow"),
            ("cross", "purple"), ("circle", "blue"))
SPLITS = ("train", "test", "heldout", "all")
LABEL_KINDS = {  # label sets for zero-shot classification of shapes-world images
    "shape": SHAPES,
    "colour": tuple(COLOURS),
    "colour shape": tuple(f"{c} {s}" for s in SHAPES for c in COLOURS),
}


@dataclass
class ImageTextPairs:
    """A batch of shapes-world images with their captions.

    images: (N, 3, H, W) float32 tensor, pixel values in [0, 1] (not normalised).
    captions: N strings, captions[i] describes images[i].
    attributes: N `Attributes`, the ground truth behind each caption.
    """
    images: torch.Tensor
    captions: list[str]
    attributes: list[Attributes]
    split: str
    style: str  # "photo", "sketch", or "mixed" when `styles` has both
    world: "ShapesWorld | None" = field(default=None, repr=False)
    mentions: list[Attributes] | None = field(default=None, repr=False)  # what each caption says; None: all of it
    styles: list[str] | None = field(default=None, repr=False)  # how each image is drawn; None: all in `style`
    grey: list[bool] | None = field(default=None, repr=False)  # which images are black and white; None: none

    def __post_init__(self):
        self.mentions = list(self.attributes) if self.mentions is None else self.mentions
        self.styles = [self.style] * len(self.captions) if self.styles is None else self.styles
        self.grey = [False] * len(self.captions) if self.grey is None else self.grey

    def __len__(self) -> int:
        return len(self.captions)

    def __repr__(self) -> str:
        return f"ImageTextPairs(split={self.split!r}, style={self.style!r}, n={len(self)}, images={tuple(self.images.shape)})"

    def subset(self, index) -> "ImageTextPairs":
        """The items at `index` (a slice, or a sequence of ints) as a new ImageTextPairs."""
        idx = list(range(len(self)))[index] if isinstance(index, slice) else [int(i) for i in index]
        styles = [self.styles[i] for i in idx]
        style = styles[0] if len(set(styles)) == 1 else "mixed"
        return ImageTextPairs(self.images[idx], [self.captions[i] for i in idx], [self.attributes[i] for i in idx],
                              self.split, style, self.world, [self.mentions[i] for i in idx], styles,
                              [self.grey[i] for i in idx])

    def caption_fits(self) -> torch.Tensor:
        """(N, N) bool: entry [i, j] is True when caption j is true of image i (the diagonal always is)."""
        return caption_fits(self.attributes, self.mentions)

    def false_negatives(self) -> int:
        """How many off-diagonal (image, caption) pairs of this batch match anyway; see `false_negatives`."""
        return false_negatives(self.attributes, self.mentions)

    def labels(self, kind: str = "colour shape") -> tuple[list[str], list[int]]:
        """Class names and each item's class, for zero-shot classification.

        kind: "shape" (5 classes), "colour" (6), "colour shape" (30, e.g. "red star"),
            or "caption" (every combination's canonical caption, 240).
        Returns (labels, targets) with targets[i] the index of item i's label.
        """
        if kind == "caption":
            names = self.world.all_captions()
            return names, [self.world.index[a] for a in self.attributes]
        if kind not in LABEL_KINDS:
            raise ValueError(f"unknown label kind {kind!r}; choose one of {tuple(LABEL_KINDS) + ('caption',)}")
        names = LABEL_KINDS[kind]
        key = {"shape": lambda a: a.shape, "colour": lambda a: a.colour,
               "colour shape": lambda a: f"{a.colour} {a.shape}"}[kind]
        position = {name: i for i, name in enumerate(names)}
        return list(names), [position[key(a)] for a in self.attributes]

    def to_pil(self, i: int) -> Image.Image:
        """Image i as a PIL image (for thumbnails and widgets)."""
        array = (self.images[i].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        return Image.fromarray(array)

    def show(self, *indices: int, size: int = 96) -> "Pictures":
        """Pictures `indices` (default: the first) in a row, each with its caption as alt text and printed under it.

        Leave it at the end of a cell, or display() it: `heldout.show(0, 1)`. size: pixels on each side.
        """
        indices = indices or (0,)
        for i in indices:
            if not -len(self) <= i < len(self):
                raise IndexError(f"picture {i} does not exist: this set has {len(self)} pairs, 0 to {len(self) - 1}")
        return Pictures([self.images[i] for i in indices], [self.captions[i] for i in indices], size)


def attribute_codes(items: Sequence[Attributes]) -> torch.Tensor:
    """(N, 4) long: each attribute's place in VOCABULARY (shape, colour, size, position), -1 where it is None."""
    return torch.tensor([[-1 if value is None else words.index(value) for value, words in zip(a, VOCABULARY)]
                         for a in items], dtype=torch.long).view(-1, 4)


def caption_fits(attributes: Sequence[Attributes], mentions: Sequence[Attributes]) -> torch.Tensor:
    """(N, M) bool: entry [i, j] is True when caption j, which says mentions[j], is true of image i.

    attributes: what each of N images shows. mentions: what each of M captions says (None for
    what it leaves out), e.g. ImageTextPairs.mentions.
    """
    return fits_from_codes(attribute_codes(attributes), attribute_codes(mentions))


def fits_from_codes(shown: torch.Tensor, said: torch.Tensor) -> torch.Tensor:
    """(N, M) bool from (N, A) codes of what images show and (M, A) codes of what captions say (-1: not said).

    Entry [i, j] is True when every code caption j says is image i's (see attribute_codes).
    """
    shown, said = shown[:, None], said[None]  # (N, 1, A), (1, M, A)
    return ((said == -1) | (said == shown)).all(-1)


def false_negatives(attributes: Sequence[Attributes], mentions: Sequence[Attributes]) -> int:
    """In a batch of N pairs (image i with caption i), how many pairs (i, j), i != j, match anyway.

    The contrastive loss counts each as a wrong answer although caption j is true of image i.
    Full captions make them only when one scene is drawn twice; partial ones ("a red
    shape") make many more.
    """
    fits = caption_fits(attributes, mentions)  # (N, N)
    return int(fits.sum()) - int(fits.diagonal().sum())


def _cast(masks: np.ndarray, side: int) -> np.ndarray:
    """(N, 1, H, W) shadows of (N, 1, H, W) filled masks: each moved SHADOW_OFFSET pixels (at 32 x 32, scaled to
    `side`) right and down, away from the light."""
    k = max(1, round(SHADOW_OFFSET * side / 32))
    shadow = np.zeros_like(masks)
    shadow[:, :, k:, k:] = masks[:, :, :-k, :-k]
    return shadow


def _unit_polygon(shape: str) -> list[tuple[float, float]] | None:
    """Vertices of `shape` on the unit circle (None for a circle, which is an ellipse)."""
    if shape == "square":
        return [(-0.8, -0.8), (0.8, -0.8), (0.8, 0.8), (-0.8, 0.8)]
    if shape == "triangle":
        return [(math.cos(a), math.sin(a)) for a in (-math.pi / 2, math.pi / 6, 5 * math.pi / 6)]
    if shape == "star":
        return [((1.0 if k % 2 == 0 else 0.45) * math.cos(-math.pi / 2 + k * math.pi / 5),
                 (1.0 if k % 2 == 0 else 0.45) * math.sin(-math.pi / 2 + k * math.pi / 5)) for k in range(10)]
    if shape == "cross":
        a, b = 0.33, 1.0
        return [(-a, -b), (a, -b), (a, -a), (b, -a), (b, a), (a, a), (a, b), (-a, b), (-a, a), (-b, a), (-b, -a), (-a, -a)]
    return None


_POLYGONS = {s: _unit_polygon(s) for s in SHAPES}


class ShapesWorld:
    """The procedural image-caption world, deterministic for a given seed.

    seed: every image, jitter and caption choice follows from it.
    image_size: side of the rendered images in pixels.
    held_out: (shape, colour) compositions never shown in training. The default
        holds out HELD_OUT: 6 of the 30, one per colour, together covering every shape.
    """

    def __init__(self, seed: int = 0, image_size: int = 32,
                 held_out: tuple[tuple[str, str], ...] | None = None):
        self.seed = int(seed)
        self.image_size = int(image_size)
        held_out = HELD_OUT if held_out is None else held_out
        for shape, colour in held_out:
            if shape not in SHAPES or colour not in COLOURS:
                raise ValueError(f"held_out pair ({shape!r}, {colour!r}) is not in the world: "
                                 f"shapes are {SHAPES}, colours are {tuple(COLOURS)}")
        self.held_out = tuple(held_out)
        self.combinations = [Attributes(s, c, z, p) for s in SHAPES for c in COLOURS
                             for z in SIZES for p in POSITIONS]  # all 240, in a fixed order
        self.index = {a: i for i, a in enumerate(self.combinations)}

    def __repr__(self) -> str:
        return f"ShapesWorld(seed={self.seed}, image_size={self.image_size}, held_out={self.held_out})"

    def is_held_out(self, a: Attributes) -> bool:
        return (a.shape, a.colour) in self.held_out

    @staticmethod
    def caption(a: Attributes, template: int | str = 0) -> str:
        """The caption of `a`; `template` is an index into TEMPLATES or a format string (vocabulary.full_caption)."""
        return full_caption(a, template)

    def all_captions(self) -> list[str]:
        """The canonical caption of every combination, in `self.combinations` order."""
        return [self.caption(a) for a in self.combinations]

    def dataset(self, split: str = "train", n: int = 1000, style: str = "photo",
                sketch_share: float | None = None, grey_share: float | None = None) -> ImageTextPairs:
        """Render n images of one split.

        split: "train" (seen compositions, alt-text captions: each names a random part
            of the picture, see `alt_text`), "test" (seen compositions, canonical
            captions, other images than train), "heldout" (only the held-out
            compositions, canonical captions), "all" (every composition, canonical captions).
        style: "photo", "sketch", or "mixed" (a sketch_share of the images drawn as
            sketches, the rest as photos).
        sketch_share: for style="mixed", the fraction of sketches (default SKETCH_SHARE, 0.2).
        grey_share: for split="train", the fraction of pictures made black and white, their captions naming no
            colour (default GREY_SHARE[style]: a tenth of photos, none in a "mixed" set; 0 for none). The other
            pictures and captions are those grey_share=0 gives.
        Returns an ImageTextPairs; the same arguments always give the same one.
        """
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
        if style not in STYLES:
            raise ValueError(f"unknown style {style!r}; choose one of {STYLES}")
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        if sketch_share is not None and style != "mixed":
            raise ValueError(f"sketch_share={sketch_share} mixes sketches into photos: pass style='mixed' with it")
        sketch_share = SKETCH_SHARE if sketch_share is None else float(sketch_share)
        if not 0.0 <= sketch_share <= 1.0:
            raise ValueError(f"sketch_share is a fraction of the images, between 0 and 1; got {sketch_share}")
        if grey_share and split != "train":
            raise ValueError(f"grey_share={grey_share} makes black-and-white training pictures whose captions leave "
                             f"the colour out; the {split!r} split keeps its colours: use it with split='train'")
        grey_share = 0.0 if split != "train" else GREY_SHARE[style] if grey_share is None else float(grey_share)
        if not 0.0 <= grey_share <= 1.0:
            raise ValueError(f"grey_share is a fraction of the images, between 0 and 1; got {grey_share}")
        rng = np.random.default_rng([self.seed, SPLITS.index(split), STYLES.index(style)])
        if split in ("train", "test"):
            pool = [a for a in self.combinations if not self.is_held_out(a)]
        elif split == "heldout":
            pool = [a for a in self.combinations if self.is_held_out(a)]
        else:
            pool = self.combinations
        attributes = [pool[i] for i in rng.integers(0, len(pool), size=n)]
        # 1) how each image is drawn: one style, or a sketch_share of sketches among photos
        if style != "mixed":
            styles = [style] * n
        else:
            sketch = rng.random(n) < sketch_share  # (n,) which images are sketches
            styles = ["sketch" if s else "photo" for s in sketch]
        # 2) captions: alt-text for training (it may name the style, truly), the canonical caption for evaluation
        if split == "train":
            text_rng = np.random.default_rng([self.seed, SPLITS.index(split), STYLES.index(style), 1])
            captions, mentions = map(list, zip(*(alt_text(a, text_rng, s) for a, s in zip(attributes, styles))))
        else:
            captions, mentions = [self.caption(a) for a in attributes], list(attributes)
        # 3) images, in one style or a mix
        if style != "mixed":
            images = self.render(attributes, style, rng)
        else:
            images = torch.empty(n, 3, self.image_size, self.image_size)
            for name, where in (("photo", ~sketch), ("sketch", sketch)):
                if where.any():
                    images[torch.from_numpy(where)] = self.render([a for a, w in zip(attributes, where) if w], name, rng)
        # 4) black-and-white pictures, captioned without a colour; a generator of their own leaves the rest as they were
        is_grey = [False] * n
        if grey_share:
            grey_rng = np.random.default_rng([self.seed, SPLITS.index(split), STYLES.index(style), 2])
            grey = np.flatnonzero(grey_rng.random(n) < grey_share)
            weights = torch.tensor(GREY_WEIGHTS).view(1, 3, 1, 1)
            images[grey] = (images[grey] * weights).sum(1, keepdim=True).expand(-1, 3, -1, -1)
            for i in grey:
                captions[i], mentions[i] = alt_text(attributes[i], grey_rng, styles[i], colour_shown=False)
                is_grey[i] = True
        return ImageTextPairs(images, captions, attributes, split, style, self, mentions, styles, is_grey)

    def render(self, attributes: list[Attributes], style: str = "photo",
               rng: np.random.Generator | None = None) -> torch.Tensor:
        """Draw one image per Attributes in `style` (one of DRAWN); returns (N, 3, H, W) float32 in [0, 1].

        photo: the shape filled and shaded on a grey-ish background with noise, casting a shadow. sketch: its
        outline in its colour on near-white paper. painting: a pale wash of its colour inside a thick brush
        outline, on a warm canvas with blotchy texture; neither a photo nor a sketch, and no shipped model trains
        on it. Sketches and paintings cast a lighter shadow than photos (DRAWN_SHADOW).
        """
        if style not in DRAWN:
            raise ValueError(f"render draws one style at a time: choose one of {DRAWN}, not {style!r}")
        rng = rng if rng is not None else np.random.default_rng(self.seed)
        n, side = len(attributes), self.image_size
        # 1) per-image jitter: centre offset, radius scale and rotation
        jitter = rng.uniform(-1, 1, size=(n, 4)) * np.array([0.06, 0.06, 0.12, 0.25])
        # 2) Pillow draws the shapes' masks at 2x resolution, then halves them (cheap anti-aliasing)
        m = self._masks(attributes, "photo" if style == "painting" else style, jitter)  # (N,1,H,W)
        # 3) NumPy colours the whole batch: background, shading, noise
        colour = np.array([COLOURS[a.colour] for a in attributes], np.float32)[:, :, None, None]  # (N,3,1,1)
        if style == "photo":
            ramp = np.linspace(1.15, 0.75, side, dtype=np.float32)
            shade = (ramp[None, :] + ramp[:, None])[None, None] / 2  # light from the top left, (1,1,H,W)
            background = rng.uniform(0.6, 0.85, size=(n, 3, 1, 1)).astype(np.float32)
            uncovered = (1 - m) * (1 - SHADOW_DEPTH * _cast(m, side))  # (N,1,H,W) the background, darker in the shadow
            images = background * uncovered + m * colour * shade
            if PHOTO_EDGE:  # a dark edge all round the shape, drawn where a sketch draws its outline
                images *= 1 - PHOTO_EDGE * self._masks(attributes, "sketch", jitter)
            images += 0.04 * rng.standard_normal(size=images.shape, dtype=np.float32)
        elif style == "sketch":  # the shape's outline in its colour on near-white paper, a pencil shadow beside it
            fill = self._masks(attributes, "photo", jitter)  # (N,1,H,W) the filled shape
            shadow = _cast(fill, side) * (1 - fill)  # outside the shape only: its inside is paper too
            images = 0.96 * (1 - m) * (1 - DRAWN_SHADOW * shadow) + m * colour
        else:  # painting: a pale wash inside a thick outline, on a blotchy warm canvas
            outline = self._masks(attributes, "sketch", jitter)  # (N,1,H,W)
            blotches = np.kron(rng.standard_normal((n, 1, side // 8, side // 8)), np.ones((1, 1, 8, 8)))  # (N,1,H,W)
            canvas = np.array([0.93, 0.87, 0.76], np.float32)[None, :, None, None] + 0.05 * blotches.astype(np.float32)
            images = canvas * (1 - m) * (1 - DRAWN_SHADOW * _cast(m, side)) + m * (0.45 * colour + 0.55 * canvas)
            images = images * (1 - outline) + outline * 0.9 * colour
        return torch.from_numpy(np.clip(images, 0.0, 1.0))

    def _masks(self, attributes: list[Attributes], style: str, jitter: np.ndarray) -> np.ndarray:
        """(N, 1, H, W) float32 masks of the shapes, 1 inside them (photo) or on their outlines (sketch).

        One canvas at 2x resolution is cleared and drawn on again for every shape, then halved.
        """
        big, side = 2 * self.image_size, self.image_size
        fill, outline, width = (255, None, 0) if style == "photo" else (None, 255, 3)
        canvas = Image.new("L", (big, big), 0)
        draw = ImageDraw.Draw(canvas)
        masks = np.empty((len(attributes), 1, side, side), np.uint8)
        for i, (a, j) in enumerate(zip(attributes, jitter)):
            canvas.paste(0, (0, 0, big, big))
            cx, cy, _ = POSITIONS[a.position]
            cx, cy = (cx + j[0]) * big, (cy + j[1]) * big
            r = SIZES[a.size] * (1 + j[2]) * big
            polygon = _POLYGONS[a.shape]
            if polygon is None:
                draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill, outline=outline, width=width)
            else:
                cos, sin = math.cos(j[3]), math.sin(j[3])
                points = [(cx + r * (x * cos - y * sin), cy + r * (x * sin + y * cos)) for x, y in polygon]
                draw.polygon(points, fill=fill, outline=outline, width=width)
            masks[i, 0] = np.frombuffer(canvas.reduce(2).tobytes(), np.uint8).reshape(side, side)
        return masks / np.float32(255)
