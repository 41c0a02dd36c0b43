"""Zero-shot and style benchmarks: short label prompts, and sketches after photo-only or mixed training.

Each zero-shot figure is the mean accuracy over ZERO_SHOT_TEMPLATES, one classifier per
template (no ensembling), so it measures how well the model reads a short prompt, not
how well one wording was chosen. Half the templates use words no training caption has.
"""
from __future__ import annotations

import statistics

import torch

from ..captions import FRUIT, UNRIPE
from ..data import COLOURS, SHAPES, UNSEEN_STYLE, ShapesWorld
from ..encode import encode_images
from ..model import ClipBundle, mini_clip
from ..train import recipe_for, train
from ..zeroshot import caption_accuracy, template_classifiers
from .training import training_pairs

ZERO_SHOT_TEMPLATES = (
    "a {}", "a photo of a {}", "{}",  # phrasings of the training captions (or, for "{}", bare labels)
    "a rendering of a {}", "itap of a {}", "a close-up photo of the {}",  # never in training: from CLIP's ImageNet prompts
)
LABEL_WORDS = {  # label kind -> (C labels, the label of an Attributes)
    "shape": (list(SHAPES), lambda a: a.shape),  # "star"
    "colour": ([f"{c} shape" for c in COLOURS], lambda a: f"{a.colour} shape"),  # "red shape"
    "colour_shape": ([f"{c} {s}" for s in SHAPES for c in COLOURS], lambda a: f"{a.colour} {a.shape}"),  # "red star"
}


def zero_shot_top1(bundle: ClipBundle, data, kind: str, templates=ZERO_SHOT_TEMPLATES) -> float:
    """Mean over `templates` of the zero-shot accuracy of one-template classifiers on `data`'s images."""
    labels, label_of = LABEL_WORDS[kind]
    targets = [labels.index(label_of(a)) for a in data.attributes]
    image_emb = encode_images(bundle, data.images)  # (N, D)
    classifiers = template_classifiers(bundle, labels, templates, ensemble=False)
    return statistics.mean(c.accuracy(image_emb, targets) for c in classifiers.values())


# Chapter 06's wordings for the domain-word effect: training captions say "a photo of" only under photos and
# "a sketch of" / "a drawing of" only under sketches (captions.STYLE_FRAMES), as alt-text names how a picture was made.
STYLE_TEMPLATES = ("a {}", "{}", "an image of a {}", "a photo of a {}", "a sketch of a {}", "a drawing of a {}")


def per_template_top1(bundle: ClipBundle, data, kind: str, templates=STYLE_TEMPLATES) -> dict[str, float]:
    """{template: zero-shot accuracy of its one-template classifier, ..., "ensemble": of their ensemble} on data."""
    labels, label_of = LABEL_WORDS[kind]
    targets = [labels.index(label_of(a)) for a in data.attributes]
    image_emb = encode_images(bundle, data.images)  # (N, D)
    return {t: c.accuracy(image_emb, targets) for t, c in template_classifiers(bundle, labels, templates).items()}


def style_word_effects(bundle: ClipBundle, world: ShapesWorld, n: int, templates=STYLE_TEMPLATES) -> dict:
    """The domain words' effect on shape labels, on sketches and on photos of every composition, in points:
    sketch_minus_photo_points_on_*, "a sketch of a {}" minus "a photo of a {}"."""
    figures = {}
    for style, plural in (("sketch", "sketches"), ("photo", "photos")):
        scores = per_template_top1(bundle, world.dataset("all", n, style=style), "shape", templates)
        figures[f"sketch_minus_photo_points_on_{plural}"] = 100 * (scores["a sketch of a {}"] - scores["a photo of a {}"])
    return figures


# Chapter 06's wordings for the ambiguous word: the six colours as bare words ("orange"), which the
# training captions also use for a thing, the fruit (captions.FRUIT: a round thing, orange or, unripe, green;
# captions.UNRIPE). The first four leave the word alone as the noun; the last four give it the colour's reading. "a(n) {}" gives each colour its article, as the captions
# do: "a photo of an orange" is a phrase the captions use for the fruit, while "a photo of a orange" is one no caption
# has, which a model may read either way (issue 18: the same model read it as the fruit at one training seed and as
# "something orange" at another; recipe.py's notes).
COLOUR_TEMPLATES = ("a(n) {}", "a photo of a(n) {}", "{}", "an image of a(n) {}",
                    "something {}", "a(n) {} shape", "a(n) {} thing", "the colour {}")


def colour_readings(bundle: ClipBundle, data, templates=COLOUR_TEMPLATES) -> dict[str, tuple[float, float, float]]:
    """{template: (colour accuracy on data's images, share of its orange non-circles called orange, share of its
    green circles called orange), ..., "ensemble": the same for their ensemble}, the six colours as bare words
    (chapter 06, section 5). The fruit's reading shows in the last two: not round, so not "an orange"; round and
    green, so maybe an unripe one."""
    colours, targets = data.labels("colour")
    not_fruit = [i for i, a in enumerate(data.attributes) if a.colour == FRUIT[1] and a.shape != FRUIT[0]]
    unripe = [i for i, a in enumerate(data.attributes) if (a.shape, a.colour) == (FRUIT[0], UNRIPE)]
    image_emb = encode_images(bundle, data.images)  # (N, D)
    classifiers = template_classifiers(bundle, colours, templates)

    def called_orange(c, rows):
        return c.accuracy(image_emb[rows], [colours.index(FRUIT[1])] * len(rows)) if rows else float("nan")
    return {t: (c.accuracy(image_emb, targets), called_orange(c, not_fruit), called_orange(c, unripe))
            for t, c in classifiers.items()}


def ambiguous_word_effects(bundle: ClipBundle, photos, templates=COLOUR_TEMPLATES) -> dict:
    """The wording's spread and the ensemble's gain, in points, for colour as bare words on `photos`.

    prompt_spread_points: best minus worst single template; ensemble_gain_points: the ensemble over the mean
    single template; orange_non_circle_top1_*: how many orange things that are not circles "a photo of a(n) {}"
    and "something {}" call orange; green_circle_called_orange_*: how many green circles "a(n) {}" (the fruit's
    own caption, "an orange"), and "something {}" call orange.
    """
    readings = colour_readings(bundle, photos, templates)
    single = [readings[t][0] for t in templates]
    return {
        "prompt_spread_points": 100 * (max(single) - min(single)),
        "ensemble_gain_points": 100 * (readings["ensemble"][0] - sum(single) / len(single)),
        "orange_non_circle_top1_photo_of": readings["a photo of a(n) {}"][1],
        "orange_non_circle_top1_something": readings["something {}"][1],
        "green_circle_called_orange_a": readings["a(n) {}"][2],
        "green_circle_called_orange_something": readings["something {}"][2],
        "prompt_effects_measured_on": (f"the photo model, the six colours as bare words, {len(photos)} photos of "
                                       f"every composition, {len(templates)} templates: {', '.join(templates)}"),
    }


def bench_zero_shot(bundle: ClipBundle, world: ShapesWorld, quick: bool) -> dict:
    """Shape (5-way) and colour (6-way) on photos of every composition; colour + shape (30-way) on held-out ones;
    the ambiguous word's prompt effects."""
    n = 300 if quick else 1000
    every, heldout = world.dataset("all", n), world.dataset("heldout", n)
    return {"zeroshot_shape_top1": zero_shot_top1(bundle, every, "shape"),
            "zeroshot_colour_top1": zero_shot_top1(bundle, every, "colour"),
            "zeroshot_colour_shape_heldout_top1": zero_shot_top1(bundle, heldout, "colour_shape"),
            **ambiguous_word_effects(bundle, every)}


def bench_mixed_training(world: ShapesWorld, device: torch.device, quick: bool, seed: int = 0,
                         preset: str = "tiny") -> dict:
    """The same preset and recipe on a mix of photos and sketches at `seed`: caption retrieval on sketches, on seen
    photos and on paintings, a style neither model trained on."""
    config = recipe_for(preset, fast=quick)
    data = training_pairs(world, config.train_images, style="mixed")
    bundle = mini_clip(preset, seed=seed, device=device)
    train(bundle, data, config, callbacks=[lambda event: None], seed=seed)
    n = 300 if quick else 1000
    return {"sketch_top1_mixed": caption_accuracy(bundle, world.dataset("all", n, style="sketch")),
            "seen_top1_mixed": caption_accuracy(bundle, world.dataset("test", n)),
            "unseen_style_top1_mixed": caption_accuracy(bundle, world.dataset("all", n, style=UNSEEN_STYLE)),
            **style_word_effects(bundle, world, n)}
