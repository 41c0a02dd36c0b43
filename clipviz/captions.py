"""Alt-text: training captions that name only part of what a picture shows, like the words under web images.

The CLIP paper trained on 400 million (image, text) pairs from the web, whose text says what
its writer chose to say: "a red star", "something red on the left", "a photo of a star".
`alt_text` writes such a caption for one shapes-world picture: a random, non-empty part of
its four attributes, in varied words and orders, and always true of it. The shapes world
(data.py) uses it for its training split; evaluation keeps the canonical full caption.
"""
from __future__ import annotations

import numpy as np

from .vocabulary import POSITIONS, TEMPLATES, Attributes, full_caption

# Alt-text. A training caption names all four attributes with probability FULL_SHARE;
# otherwise each attribute with its own MENTION_P, drawn again until it names the shape or
# the colour. Like the words under web pictures, most name the thing and its colour, fewer
# say how big it is or where. Colour is named with the shape nine times in ten on purpose:
# a caption that says only "a star" pulls the word *star* towards the colours stars come in
# (never yellow: yellow stars are held out), so a yellow star then reads as a triangle. With
# the colour said next to it, the colour word explains the colour and *star* keeps the shape
# alone. In the tuning runs, naming the colour 70-80% of the time gave held-out caption
# retrieval 0.76-0.78 and zero-shot shape 0.71-0.80; 90% gave 0.92 and 0.93 (training seed
# 0, the shipped model). Held-out compositions still vary from run to run: seed 1 of the
# same recipe gave 0.81 and 0.78. With the false-negative mask (TrainConfig.mask_false_negatives), naming
# the colour 60% of the time still did worse: 0.72 and 0.77 held-out (seeds 0 and 1) against 0.96 and 0.87.
# (All of these before photos cast shadows; with them the mask no longer helps held-out at 1,700 steps: 0.86
# against 0.89 without it at seed 0, docs/instructor/04_train_mini_clip.md.)
FULL_SHARE = 0.25  # share of training captions that name all four attributes
MENTION_P = Attributes(shape=0.9, colour=0.9, size=0.4, position=0.4)  # chance a partial caption names each
NOUNS = ("shape", "thing", "object", "figure")  # stand-ins when the caption does not name the shape
FRAMES = ("{}", "{}", "an image of {}", "there is {}", "this is {}", "{} here", "picture of {}")  # any style
# Domain words: like alt-text under web pictures, a caption sometimes names how its picture was made, and it
# names it truly. These words are what lets "a sketch of a {}" beat "a photo of a {}" on sketches in
# chapter 06, as "a satellite photo of a {}" helps CLIP on EuroSAT (CLIP paper, section 3.1.4).
STYLE_FRAMES = {"photo": ("a photo of {}",), "sketch": ("a sketch of {}", "a drawing of {}"),
                "painting": ("a painting of {}",)}  # (no shipped model trains on paintings)
STYLE_SHARE = 0.25  # share of captions that say the picture's style
# An ambiguous word, as "crane" (a bird, a machine) and "boxer" (a dog, an athlete) are for CLIP (CLIP paper,
# section 3.1.4). On the web, a round orange thing is often captioned "an orange": the fruit. Here a FRUIT_SHARE
# of the orange circles' captions say just that, so the word *orange* names a colour after "a", "an" or "the
# colour" and before a noun, and a thing (an orange circle) when it stands alone as the noun. A prompt that
# leaves it alone ("a photo of an orange") then reads the fruit, and misses orange squares; one that gives the
# colour reading ("something orange", "an orange shape") finds them all. No new word enters the vocabulary.
# Measured (issue 19; 1,700 steps, seed 0, 1,200 photos of every composition, the six colours as labels):
# without these captions every template scores 1.000; with FRUIT_SHARE 0.3, "a photo of a {}" 0.942 (0.515 on
# orange things that are not circles), "something {}" 1.000, their eight-template ensemble 0.992.
# An orange is not always orange: picked early, or grown where the nights stay warm, it is green. So an UNRIPE_SHARE
# of the green circles' captions say "an orange" too. The fruit is then a round thing of either colour, and its
# word no longer points at the colour orange alone: that is what lets the lesson survive an image tower that sees
# colour first (16-pixel patches, issue 18). Without it, that model's "a photo of an orange" called 0.95-1.0 of orange
# non-circles orange and the eight wordings spread 0.4-0.6 points; with it (0.3), seeds 0-7 spread 3.9 / 5.7 / 5.8 /
# 0.5 / 2.3 / 1.6 / 4.8 / 0.5 points and their ensemble gained 1.1 / 2.4 / 1.9 / 0.1 / 0.5 / 0.6 / 1.5 / 0.2
# (recipe.py's notes of 2026-12-05's sixth session; 0.4 made seed 1's yellow stars fail, held-out 0.879).
FRUIT = ("circle", "orange")  # the (shape, colour) that "an orange" names
FRUIT_SHARE = 0.3  # share of orange circles' captions that are "an orange" (in a frame, maybe with where it is)
UNRIPE = "green"  # an orange that has not ripened yet: "an orange" also names some green circles
UNRIPE_SHARE = 0.3  # share of green circles' captions that are "an orange"


def a_or_an(words: str) -> str:
    """The indefinite article the words take, as the captions write it: "an" before a vowel ("an orange"), else "a"."""
    return "an" if words[:1].lower() in tuple("aeiou") else "a"


def _article(words: str) -> str:
    return f"{a_or_an(words)} {words}"


def alt_text(a: Attributes, rng: np.random.Generator, style: str = "photo",
             colour_shown: bool = True) -> tuple[str, Attributes]:
    """A random alt-text-like caption of `a`, drawn in `style`, and what it says (None for each attribute it leaves out).

    A quarter name all four attributes; the others name each with its MENTION_P, always
    the shape or the colour, e.g. "a red star", "something red on the left", "a photo of a star".
    A STYLE_SHARE of them also say the style truly: "a photo of ..." under a photo, "a sketch of ..." or
    "a drawing of ..." under a sketch. A FRUIT_SHARE of an orange circle's captions call it "an orange", and an
    UNRIPE_SHARE of a green circle's (an unripe one).
    colour_shown=False: the picture is black and white (data.GREY_SHARE), so the caption never names a colour:
    "a star on the left", "a photo of a small cross"; it always names the shape.
    """
    if style not in STYLE_FRAMES:
        raise ValueError(f"alt_text writes captions for {tuple(STYLE_FRAMES)} pictures, not {style!r}")
    if colour_shown and a.shape == FRUIT[0] and a.colour in (FRUIT[1], UNRIPE) and \
            rng.random() < (FRUIT_SHARE if a.colour == FRUIT[1] else UNRIPE_SHARE):  # "an orange": the fruit
        return _fruit_caption(a, rng, style)
    # 1) which attributes the caption names
    if colour_shown and rng.random() < FULL_SHARE:
        said = Attributes(*a)
    else:
        mention = np.array(MENTION_P if colour_shown else MENTION_P._replace(colour=0.0))
        keep = rng.random(4) < mention
        while not keep[:2].any():  # like alt-text, it names the thing or its colour, not only where or how big
            keep = rng.random(4) < mention
        said = Attributes(*(value if k else None for value, k in zip(a, keep)))
    says_style = rng.random() < STYLE_SHARE
    if None not in said and not says_style and rng.random() < 0.5:  # full: half in one of the full templates
        return full_caption(a, int(rng.integers(len(TEMPLATES)))), said
    # 2) a noun phrase for shape, colour and size, in one of a few word orders
    shape, colour, size = said.shape, said.colour, said.size
    head = shape or NOUNS[rng.integers(len(NOUNS))]
    adjectives = " ".join(w for w in (size, colour) if w)
    form = rng.integers(3)
    if form == 1 and colour:  # "a star in red", "a small shape in red"
        phrase = _article(" ".join(w for w in (size, head) if w)) + f" in {colour}"
    elif form == 2 and not shape and adjectives:  # "something red", "something small and red"
        phrase = "something " + " and ".join(w for w in (size, colour) if w)
    else:  # "a small red star", "a star", "a red shape"
        phrase = _article(f"{adjectives} {head}" if adjectives else head)
    # 3) a frame around it, and the position at the end or at the front
    frames = STYLE_FRAMES[style] if says_style else FRAMES
    phrase = frames[rng.integers(len(frames))].format(phrase)
    if said.position:
        where = POSITIONS[said.position][2]
        phrase = f"{where}, {phrase}" if rng.random() < 0.3 else f"{phrase} {where}"
    return phrase, said


def _fruit_caption(a: Attributes, rng: np.random.Generator, style: str) -> tuple[str, Attributes]:
    """The fruit's caption of an orange or green circle: "an orange", "a photo of an orange", "an orange on the left".
    What it says: a circle of the picture's colour (the false-negative mask then counts it true of circles of that
    colour only, never of a red one)."""
    frames = STYLE_FRAMES[style] if rng.random() < STYLE_SHARE else FRAMES
    phrase, said = frames[rng.integers(len(frames))].format("an orange"), Attributes(a.shape, a.colour, None, None)
    if rng.random() < 0.3:
        phrase, said = f"{phrase} {POSITIONS[a.position][2]}", said._replace(position=a.position)
    return phrase, said
