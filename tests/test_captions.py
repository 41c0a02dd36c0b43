"""Alt-text training captions: partial, varied, always true; and the false negatives they make."""
import re

import numpy as np
import pytest
import torch

import clipviz as cv
from clipviz.captions import FRUIT, FRUIT_SHARE, UNRIPE, UNRIPE_SHARE, alt_text
from clipviz.data import COLOURS, POSITIONS, SHAPES, SIZES, Attributes

WORDS = {"shape": SHAPES, "colour": tuple(COLOURS), "size": tuple(SIZES),
         "position": tuple(words for *_, words in POSITIONS.values())}


@pytest.fixture(scope="module")
def train(world):
    return world.dataset("train", 2000)


def _is_fruit(caption: str) -> bool:
    """ "an orange", "a photo of an orange on the left": the fruit's caption, where *orange* is the noun."""
    return re.search(r"\ban orange( here)?( (on|at) the \w+)?$", caption) is not None


def test_every_caption_is_true_of_its_image(train):
    for caption, said, truth in zip(train.captions, train.mentions, train.attributes):
        assert said.fits(truth) and any(said), caption
        if _is_fruit(caption):  # "an orange" says colour and shape in one word: checked in the next test
            continue
        for kind, words in WORDS.items():
            named = getattr(said, kind)
            say = POSITIONS[named][2] if kind == "position" and named else named
            tokens = re.findall(r"[a-z]+", caption)
            present = [w for w in words if w in tokens or (kind == "position" and w in caption)]
            assert present == ([say] if named else []), (caption, kind)  # names what it says, and nothing else of that kind


def test_some_orange_and_green_circles_are_called_an_orange_and_nothing_else_is(train):
    fruit = [i for i, c in enumerate(train.captions) if _is_fruit(c)]
    orange_circles = [i for i, a in enumerate(train.attributes) if (a.shape, a.colour) == FRUIT]
    unripe = [i for i, a in enumerate(train.attributes) if (a.shape, a.colour) == (FRUIT[0], UNRIPE)]
    assert fruit and set(fruit) <= set(orange_circles) | set(unripe)  # "an orange" is only ever a round fruit
    assert 0.5 * FRUIT_SHARE < len(set(fruit) & set(orange_circles)) / len(orange_circles) < 1.5 * FRUIT_SHARE
    assert 0.5 * UNRIPE_SHARE < len(set(fruit) & set(unripe)) / len(unripe) < 1.5 * UNRIPE_SHARE  # green: unripe
    assert all(train.mentions[i][:2] == train.attributes[i][:2] for i in fruit)  # what it says: a circle, its colour
    assert any(train.captions[i] == "an orange" for i in fruit) and any(" on the " in train.captions[i] or " at the "
                                                                            in train.captions[i] for i in fruit)
    other = [c for i, c in enumerate(train.captions) if i in orange_circles and i not in fruit]
    assert any("orange circle" in c or "circle in orange" in c for c in other)  # the colour's reading too


def test_captions_are_mostly_partial_but_some_full(train):
    named = [sum(v is not None for v in said) for said in train.mentions]
    assert sum(n <= 2 for n in named) > 0.25 * len(named)  # many short: "a red star", "a star"
    assert 0.15 * len(named) < sum(n == 4 for n in named) < 0.5 * len(named)
    for kind in WORDS:  # every attribute is sometimes left out
        assert any(getattr(s, kind) is None for s in train.mentions), kind
    for kind in ("shape", "colour"):  # "a star", "a red shape": the thing or its colour alone
        assert any(getattr(s, kind) is not None and sum(v is not None for v in s) == 1 for s in train.mentions), kind
    assert all(s.shape or s.colour for s in train.mentions)  # never only a size or a place


def test_phrasings_and_word_orders_vary(train):
    assert len(set(train.captions)) > 0.5 * len(train)
    assert any(c.startswith(("on the", "at the")) for c in train.captions)  # position first
    assert any(f" in {c}" in cap for cap in train.captions for c in COLOURS)  # "a star in red"
    assert any(c.startswith("something") for c in train.captions)


def test_captions_fit_the_tiny_context(train, untrained):
    limit = untrained.context_length - 2  # start and end tokens
    assert max(len(untrained.tokenizer.encode(c)) for c in train.captions) <= limit


def test_evaluation_splits_keep_canonical_captions(world):
    for split in ("test", "heldout"):
        d = world.dataset(split, 50)
        assert d.captions == [world.caption(a) for a in d.attributes] and d.mentions == d.attributes


def test_alt_text_is_reproducible():
    a = Attributes("star", "red", "small", "left")
    first = [alt_text(a, np.random.default_rng(5)) for _ in range(3)]
    assert first[0] == first[1] == first[2]


def test_false_negatives_are_counted():
    world = cv.ShapesWorld(seed=0)
    red_star, red_circle, blue_star = (Attributes(s, c, "small", "left") for s, c in
                                       (("star", "red"), ("circle", "red"), ("star", "blue")))
    pairs = cv.ImageTextPairs(torch.zeros(3, 3, 32, 32), ["a red shape", "a red circle", "a star"],
                              [red_star, red_circle, blue_star], "train", "photo", world,
                              mentions=[Attributes(None, "red", None, None), Attributes("circle", "red", None, None),
                                        Attributes("star", None, None, None)])
    fits = pairs.caption_fits()  # [image, caption]
    assert fits.diagonal().all()
    assert fits.tolist() == [[True, False, True], [True, True, False], [False, False, True]]
    assert pairs.false_negatives() == 2  # "a red shape" fits the red circle too; "a star" fits the red star


def test_partial_captions_make_more_false_negatives_than_full_ones(world, train):
    full = world.dataset("test", 128)
    batch = train.subset(range(128))
    duplicates = full.false_negatives()  # full captions: only scenes drawn twice
    assert duplicates == sum(a == b for i, a in enumerate(full.attributes) for j, b in enumerate(full.attributes) if i != j)
    assert batch.false_negatives() > 5 * max(duplicates, 1)


def test_contrastive_explorer_counts_false_negatives(untrained, world):
    from clipviz import widgets
    app = widgets.ContrastiveExplorer(untrained, world.dataset("test", 32), n=32)
    full = app.false_negatives
    app.duplicates.value = True  # 16 scenes drawn twice, same caption: at least 2 x 16 matching off-diagonal cells
    assert app.false_negatives >= full + 32 and f"false negatives</b> {app.false_negatives}" in app.readout.value
    app.duplicates.value = False
    app.alt_text.value = True  # training-style captions: "a red shape" is true of every red picture
    images, captions, _ = app.batch()
    assert captions == [c for c, _ in app._alt[:32]] and app.false_negatives > full + 5


def test_black_and_white_pictures_are_captioned_without_a_colour_and_the_rest_are_untouched(world):
    plain, grey = world.dataset("train", 1500, grey_share=0.0), world.dataset("train", 1500, grey_share=0.2)
    changed = [i for i in range(len(grey)) if not torch.equal(plain.images[i], grey.images[i])]
    assert 0.15 * len(grey) < len(changed) < 0.25 * len(grey)
    assert [i for i, g in enumerate(grey.grey) if g] == changed and grey.subset(changed).grey == [True] * len(changed)
    for i in changed:
        picture, caption, said = grey.images[i], grey.captions[i], grey.mentions[i]
        assert torch.equal(picture[0], picture[1]) and torch.equal(picture[1], picture[2])  # no colour to see
        weights = torch.tensor(cv.data.GREY_WEIGHTS).view(3, 1, 1)
        assert torch.allclose(picture[0], (plain.images[i] * weights).sum(0), atol=1e-6)  # its luminance
        tokens = re.findall(r"[a-z]+", caption)
        assert said.colour is None and not set(COLOURS) & set(tokens), caption  # no colour word, not even "an orange"
        assert said.shape == grey.attributes[i].shape and said.shape in tokens, caption  # always the shape
        assert said.fits(grey.attributes[i])
    rest = sorted(set(range(len(grey))) - set(changed))
    assert all(plain.captions[i] == grey.captions[i] and plain.mentions[i] == grey.mentions[i] for i in rest)
    assert world.dataset("train", 1500, grey_share=0.2).captions == grey.captions  # reproducible
    default = world.dataset("train", 1500)  # the recipe's default: a tenth of photos; none among photos and sketches
    colourless = [i for i, m in enumerate(default.mentions) if m.colour is None and not default.images[i].diff(dim=0).any()]
    assert 0.06 * len(default) < len(colourless) < 0.14 * len(default)
    assert colourless == [i for i, g in enumerate(default.grey) if g]
    assert default.captions == world.dataset("train", 1500, grey_share=0.1).captions
    assert world.dataset("train", 1500, style="mixed").grey == [False] * 1500
    with pytest.raises(ValueError, match="split='train'"):
        world.dataset("heldout", 10, grey_share=0.1)
    with pytest.raises(ValueError, match="between 0 and 1"):
        world.dataset("train", 10, grey_share=1.5)
