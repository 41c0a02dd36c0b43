"""Binding: two-object scenes, the swaps that test which word goes with which object.

"a red square left of a blue circle" and "a blue square left of a red circle" use
the same words; only their order says which colour belongs to which shape. A text
encoder that reads a bag of words cannot tell them apart, and CLIP trained on
web captions is close to one (Yuksekgonul et al. 2023, "When and why
vision-language models behave like bags-of-words"). This module holds the world
to see it in:

- `TwoObjectWorld` draws two shapes side by side (32 x 32 pixels) and captions
  them with or without their relation ("left of", "right of"), or, as alt-text
  often does, only lists them ("a square and a circle, red and blue": one caption
  in twenty by default); some (shape, colour) compositions are held out of
  training, images and captions both. By default it is CLIP-like: as on the web,
  where "a horse riding a man" is hardly ever written, training draws one scene
  of each swap family and never its swaps (`swapped_scenes=1.0` draws them all:
  the dense world).
- The swaps, defined on captions: `swap_colours`, `swap_shapes`,
  `reverse_relation` change the scene a caption describes and keep its words;
  `reverse_mention` changes the words and keeps the scene, so it is no negative.
- Winoground-style 2 x 2 groups of two images and two captions with the same
  words (Thrush et al. 2022), scored in `clipviz.binding_eval`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image, ImageDraw

from .data import _POLYGONS, COLOURS, SHAPES, ImageTextPairs

RELATIONS = ("left of", "right of")  # a relation caption says where its first-mentioned object is
LISTED = "listed"  # a Caption "relation" that binds nothing: "a square and a circle, red and blue", as alt-text lists
SWAP_KINDS = ("colours", "shapes", "relation")  # the swaps that make a negative (same words, other scene)
X_CENTRES = (0.25, 0.75)  # centre of the left and of the right object, as a fraction of the image side
RADIUS = 0.19  # object radius as a fraction of the image side (a "small" shape of the shapes world)
HELD_OUT = (("circle", "red"), ("square", "green"), ("triangle", "blue"),  # the shapes world's default:
            ("star", "yellow"), ("cross", "purple"), ("circle", "orange"))  # one per colour, every shape


class Thing(NamedTuple):
    """One object of a scene: a (shape, colour) composition."""
    shape: str
    colour: str

    def words(self) -> str:
        """The object in words with its article: "a red square", "an orange circle"."""
        return f"{'an' if self.colour[0] in 'aeiou' else 'a'} {self.colour} {self.shape}"


class Scene(NamedTuple):
    """What a two-object image shows: the object on the left and the object on the right."""
    left: Thing
    right: Thing


class Caption(NamedTuple):
    """A caption as data: two objects in the order they are mentioned, and their relation.

    relation: "left of" (first is on the left), "right of" (first is on the right),
        None ("a red square and a blue circle": which side each is on is not said), or
        LISTED ("a square and a circle, red and blue": not even which colour goes with which shape).
    """
    first: Thing
    second: Thing
    relation: str | None = None

    def text(self) -> str:
        """The caption in words, e.g. "a red square left of a blue circle"."""
        if self.relation == LISTED:
            return f"a {self.first.shape} and a {self.second.shape}, {self.first.colour} and {self.second.colour}"
        return f"{self.first.words()} {self.relation or 'and'} {self.second.words()}"

    def scenes(self) -> set[Scene]:
        """Every scene this caption is true of: one if the relation is stated, else both arrangements
        (and, for a LISTED caption, both arrangements of the colours swapped too)."""
        left_first, right_first = Scene(self.first, self.second), Scene(self.second, self.first)
        if self.relation == LISTED:
            return {left_first, right_first} | swap_colours(self._replace(relation=None)).scenes()
        return {"left of": {left_first}, "right of": {right_first}, None: {left_first, right_first}}[self.relation]

    def describes(self, scene: Scene) -> bool:
        return scene in self.scenes()


# --- The swaps. Each maps a Caption to a Caption; see the module docstring for which are negatives. ---

def swap_colours(c: Caption) -> Caption:
    """The two objects trade colours: "a red square left of a blue circle" -> "a blue square left of a red circle"."""
    return Caption(Thing(c.first.shape, c.second.colour), Thing(c.second.shape, c.first.colour), c.relation)


def swap_shapes(c: Caption) -> Caption:
    """The two objects trade shapes: "a red square left of a blue circle" -> "a red circle left of a blue square"."""
    return Caption(Thing(c.second.shape, c.first.colour), Thing(c.first.shape, c.second.colour), c.relation)


def reverse_relation(c: Caption) -> Caption:
    """The objects trade places around the relation: "a red square left of a blue circle" -> "a blue circle
    left of a red square". Same words, mirrored scene; without a relation it changes nothing but the order."""
    return Caption(c.second, c.first, c.relation)


def reverse_mention(c: Caption) -> Caption:
    """The order of mention reversed, meaning kept: "a red square left of a blue circle" -> "a blue circle
    right of a red square". Not a negative: it describes the same scene in other words."""
    flipped = {"left of": "right of", "right of": "left of", None: None, LISTED: LISTED}[c.relation]
    return Caption(c.second, c.first, flipped)


SWAPS = {"colours": swap_colours, "shapes": swap_shapes, "relation": reverse_relation, "mention": reverse_mention}


def is_negative(caption: Caption, other: Caption) -> bool:
    """True when `other` is false of every scene `caption` describes (a real negative, not a paraphrase)."""
    return not (caption.scenes() & other.scenes())


def hard_negatives(caption: Caption, allowed: set[Thing] | None = None) -> list[Caption]:
    """The swaps of `caption` that are real negatives and mention only `allowed` things (None: any)."""
    out = []
    for kind in SWAP_KINDS:
        other = SWAPS[kind](caption)
        if is_negative(caption, other) and other not in out and (
                allowed is None or {other.first, other.second} <= allowed):
            out.append(other)
    return out


def swap_families(scenes: list[Scene]) -> list[list[Scene]]:
    """`scenes` grouped by their two shapes and two colours: each group holds a scene and those of its
    swaps (colours, shapes, mirrored) that are in `scenes`, in the order of `scenes`."""
    families: dict[tuple[frozenset, frozenset], list[Scene]] = {}
    for s in scenes:
        families.setdefault((frozenset((s.left.shape, s.right.shape)), frozenset((s.left.colour, s.right.colour))),
                            []).append(s)
    return list(families.values())


@dataclass
class BindingPairs(ImageTextPairs):
    """Two-object image-caption pairs, with each caption's swapped versions for hard-negative training.

    images: (N, 3, H, W) in [0, 1]; captions: N strings; attributes: N `Scene`s (what each image shows).
    negatives: N lists of swapped captions that are false of image i (`hard_negatives`), read by
        `clipviz.train` when TrainConfig.hard_negatives > 0.
    """
    negatives: list[list[str]] = field(default_factory=list)

    def subset(self, index) -> "BindingPairs":
        """The items at `index` (a slice, or a sequence of ints), negatives included."""
        idx = list(range(len(self)))[index] if isinstance(index, slice) else [int(i) for i in index]
        part = vars(super().subset(idx))  # every field of ImageTextPairs, cut to idx
        return BindingPairs(**part, negatives=[self.negatives[i] for i in idx])


@dataclass
class WinogroundGroups:
    """2 x 2 groups: images[g, k] is described by captions[g][k], and never by captions[g][1 - k].

    images: (G, 2, 3, H, W) in [0, 1]. captions: G pairs of strings with the same words.
    kinds: G swap kinds ("colours", "shapes", "relation"); relation: G bools, True when the
        captions state the relation.
    """
    images: torch.Tensor
    captions: list[tuple[str, str]]
    kinds: list[str]
    relation: list[bool]
    split: str

    def __len__(self) -> int:
        return len(self.captions)

    def where(self, keep) -> "WinogroundGroups":
        """The groups for which keep(kind, relation) is true, e.g. g.where(lambda k, r: k == "colours")."""
        idx = [g for g in range(len(self)) if keep(self.kinds[g], self.relation[g])]
        return WinogroundGroups(self.images[idx], [self.captions[g] for g in idx], [self.kinds[g] for g in idx],
                                [self.relation[g] for g in idx], self.split)


class TwoObjectWorld:
    """Two shapes side by side; captions with or without their relation. Deterministic for a seed.

    seed: every scene, jitter and caption choice follows from it.
    image_size: side of the square images in pixels.
    held_out: (shape, colour) compositions that never appear in training, neither drawn
        nor in a caption (nor in a hard negative). Default: the shapes world's six.
    swapped_scenes: how many of a training scene's swaps are drawn too. The scenes with the same two
        shapes and two colours form a *swap family* (up to four: a scene, its colour swap, and both
        mirrored); one scene of each family is always in training, each other one with this probability.
        0.0 (default): a caption's swap is never drawn, as on the web, where a caption's swap is rarely
        written, so plain training never meets it in a batch. 1.0: every seen scene, the dense world.
    listed_share: the share of training captions that list the shapes and the colours apart ("a square and a
        circle, red and blue"), as alt-text often does; they are true of the whole swap family, so they teach
        which things are in a scene and nothing of which colour goes with which shape. Default 0.05, one caption
        in twenty: with it the plain model binds as little as CLIP does (binding_eval.CONDITIONS). At 0.5 the plain
        model's group score falls near zero, but hard negatives no longer fix it (0.39 seen).
    combinations: keep only this fraction of those scenes for training (1.0: all of them),
        to ask how much coverage binding needs.
    """

    def __init__(self, seed: int = 0, image_size: int = 32, held_out=HELD_OUT, swapped_scenes: float = 0.0,
                 listed_share: float = 0.05, combinations: float = 1.0):
        for shape, colour in held_out:
            if shape not in SHAPES or colour not in COLOURS:
                raise ValueError(f"held_out pair ({shape!r}, {colour!r}) is not in the world: "
                                 f"shapes are {SHAPES}, colours are {tuple(COLOURS)}")
        if not 0 < combinations <= 1:
            raise ValueError(f"combinations is a fraction of the seen scenes, in (0, 1]; got {combinations}")
        if not 0 <= swapped_scenes <= 1:
            raise ValueError(f"swapped_scenes is a probability, in [0, 1]; got {swapped_scenes}")
        self.seed, self.image_size, self.held_out = int(seed), int(image_size), tuple(map(tuple, held_out))
        if not 0 <= listed_share <= 1:
            raise ValueError(f"listed_share is a share of the training captions, in [0, 1]; got {listed_share}")
        self.swapped_scenes, self.listed_share, self.combinations = (float(swapped_scenes), float(listed_share),
                                                                     float(combinations))
        self.things = [Thing(s, c) for s in SHAPES for c in COLOURS]  # all 30 compositions
        self.seen = {t for t in self.things if tuple(t) not in self.held_out}
        # two objects always differ in shape and in colour, so that every swap changes the scene
        self.scenes = [Scene(a, b) for a in self.things for b in self.things
                       if a.shape != b.shape and a.colour != b.colour]
        seen_scenes = [s for s in self.scenes if {s.left, s.right} <= self.seen]  # 388
        if swapped_scenes < 1:  # one scene per swap family, and each of its swaps with probability swapped_scenes
            rng = np.random.default_rng([self.seed, 98])
            keep = set()
            for family in swap_families(seen_scenes):
                first = int(rng.integers(len(family)))
                keep |= {s for k, s in enumerate(family) if k == first or rng.random() < swapped_scenes}
            seen_scenes = [s for s in seen_scenes if s in keep]  # 146 at swapped_scenes=0
        kept = max(1, round(combinations * len(seen_scenes)))
        order = np.random.default_rng([self.seed, 99]).permutation(len(seen_scenes))
        self.train_scenes = [seen_scenes[i] for i in sorted(order[:kept])]

    def __repr__(self) -> str:
        return (f"TwoObjectWorld(seed={self.seed}, image_size={self.image_size}, swapped_scenes={self.swapped_scenes}, "
                f"listed_share={self.listed_share}, "
                f"train scenes={len(self.train_scenes)} of {len(self.scenes)}, held_out={self.held_out})")

    def describe(self, scene: Scene, relation: str | None, rng: np.random.Generator) -> Caption:
        """A true caption of `scene`: with a relation ("left of" or "right of", mention order to match),
        or without (relation None, random mention order)."""
        if relation is None:
            return Caption(*(scene if rng.random() < 0.5 else scene[::-1]), None)
        if relation not in RELATIONS:
            raise ValueError(f"unknown relation {relation!r}; choose one of {RELATIONS} or None")
        first, second = (scene.left, scene.right) if relation == "left of" else (scene.right, scene.left)
        return Caption(first, second, relation)

    @staticmethod
    def caption(scene: Scene) -> str:
        """The canonical caption of a scene: "a red square left of a blue circle"."""
        return Caption(scene.left, scene.right, "left of").text()

    def all_captions(self) -> list[str]:
        """The canonical caption of every scene (600): what `caption_accuracy` picks from, swaps included."""
        return [self.caption(s) for s in self.scenes]

    def dataset(self, split: str = "train", n: int = 1000, style: str = "photo", relation_share: float = 0.5,
                seed: int = 0) -> BindingPairs:
        """n image-caption pairs of one split (the shapes world's signature, so its tools work here).

        split: "train" (the training scenes; captions state the relation for a `relation_share`
            of the pairs, the rest say "and", so 0 teaches binding with no word for where; then
            the world's `listed_share` of all captions become LISTED ones),
            "test" (seen scenes, canonical captions) or "heldout" (scenes with a held-out
            object, canonical captions).
        Returns BindingPairs; negatives[i] are caption i's hard negatives among seen things.
        """
        if split not in ("train", "test", "heldout") or style != "photo":
            raise ValueError(f"TwoObjectWorld draws split 'train', 'test' or 'heldout' in style 'photo'; "
                             f"got split={split!r}, style={style!r}")
        rng = np.random.default_rng([self.seed, 1, seed, ("train", "test", "heldout").index(split)])
        pool = {"train": self.train_scenes, "test": [s for s in self.scenes if {s.left, s.right} <= self.seen],
                "heldout": [s for s in self.scenes if not {s.left, s.right} <= self.seen]}[split]
        scenes = [pool[i] for i in rng.integers(0, len(pool), size=n)]
        if split == "train":
            captions = [self.describe(s, str(rng.choice(RELATIONS)) if rng.random() < relation_share else None, rng)
                        for s in scenes]
            if self.listed_share:  # alt-text style: some captions list the shapes, then the colours in any order
                listed, flip = rng.random(n) < self.listed_share, rng.random(n) < 0.5
                captions = [(swap_colours(c) if f else c)._replace(relation=LISTED) if x else c
                            for c, x, f in zip(captions, listed, flip)]
        else:
            captions = [Caption(s.left, s.right, "left of") for s in scenes]
        negatives = [[c.text() for c in hard_negatives(c, self.seen)] for c in captions]
        return BindingPairs(self.render(scenes, rng), [c.text() for c in captions], scenes, split, "photo",
                            world=self, negatives=negatives)

    def groups(self, split: str = "seen", n: int = 300, kinds=SWAP_KINDS, seed: int = 0) -> WinogroundGroups:
        """n Winoground-style groups: a caption, its swap, and an image of each.

        split: "seen" (all four objects are seen compositions) or "heldout" (at least one is held out).
        kinds: swap kinds to draw from, in turn. "relation" groups always state the relation;
            the others do so for half the groups.
        """
        if split not in ("seen", "heldout"):
            raise ValueError(f"unknown split {split!r}; choose 'seen' or 'heldout'")
        rng = np.random.default_rng([self.seed, 2, seed, ("seen", "heldout").index(split)])
        captions, scenes, kind_of, with_relation = [], [], [], []
        while len(captions) < n:
            kind = kinds[len(captions) % len(kinds)]
            scene = self.scenes[rng.integers(len(self.scenes))]
            relation = str(rng.choice(RELATIONS)) if kind == "relation" or rng.random() < 0.5 else None
            c0 = self.describe(scene, relation, rng)
            c1 = SWAPS[kind](c0)
            s1 = sorted(c1.scenes())[rng.integers(len(c1.scenes()))]
            unseen = not {scene.left, scene.right, s1.left, s1.right} <= self.seen
            if unseen == (split == "heldout"):
                captions.append((c0.text(), c1.text()))
                scenes += [scene, s1]
                kind_of.append(kind)
                with_relation.append(relation is not None)
        images = self.render(scenes, rng).reshape(n, 2, 3, self.image_size, self.image_size)
        return WinogroundGroups(images, captions, kind_of, with_relation, split)

    def render(self, scenes: list[Scene], rng: np.random.Generator | None = None) -> torch.Tensor:
        """Draw each scene, photo style as in the shapes world; returns (N, 3, H, W) float32 in [0, 1]."""
        rng = rng if rng is not None else np.random.default_rng(self.seed)
        n, side = len(scenes), self.image_size
        # 1) per-object jitter: centre offset, radius scale and rotation, (N, 2, 4)
        jitter = rng.uniform(-1, 1, size=(n, 2, 4)) * np.array([0.04, 0.12, 0.12, 0.25])
        # 2) one mask per object, drawn by Pillow at 2x and halved
        masks = np.stack([[self._mask(thing.shape, side, X_CENTRES[k], jitter[i, k]) for k, thing in enumerate(s)]
                          for i, s in enumerate(scenes)])[:, :, None]  # (N, 2, 1, H, W)
        colours = np.array([[COLOURS[t.colour] for t in s] for s in scenes], np.float32)
        colours = colours[:, :, :, None, None]  # (N, 2, 3, 1, 1)
        # 3) NumPy paints the batch: background, each object in its colour, light and noise
        ramp = np.linspace(1.15, 0.75, side, dtype=np.float32)
        shade = (ramp[None, :] + ramp[:, None])[None, None] / 2  # (1, 1, H, W)
        images = rng.uniform(0.6, 0.85, size=(n, 3, 1, 1)).astype(np.float32) * (1 - masks.max(axis=1))
        images = images + (masks * colours).sum(axis=1) * shade  # the objects never overlap
        images += 0.04 * rng.standard_normal(size=images.shape, dtype=np.float32)
        return torch.from_numpy(np.clip(images, 0.0, 1.0))

    @staticmethod
    def _mask(shape: str, side: int, x: float, jitter: np.ndarray) -> np.ndarray:
        """(H, W) float32 mask of one shape centred at (x, 0.5) plus jitter."""
        big = 2 * side
        cx, cy, r = (x + jitter[0]) * big, (0.5 + jitter[1]) * big, RADIUS * (1 + jitter[2]) * big
        canvas = Image.new("L", (big, big), 0)
        draw = ImageDraw.Draw(canvas)
        polygon = _POLYGONS[shape]
        if polygon is None:
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=255)
        else:
            cos, sin = math.cos(jitter[3]), math.sin(jitter[3])
            draw.polygon([(cx + r * (px * cos - py * sin), cy + r * (px * sin + py * cos)) for px, py in polygon],
                         fill=255)
        return np.asarray(canvas.reduce(2), np.float32) / 255
