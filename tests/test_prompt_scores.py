"""Chapter 06's live scoring: PromptEffects with a test set scores every prompt on all its images."""
import ipywidgets as W
import pytest

import clipviz as cv
from clipviz import widgets
from clipviz.bench.zeroshot import ZERO_SHOT_TEMPLATES, zero_shot_top1


def test_prompt_effects_scores_each_prompt_on_the_test_set(untrained, world):
    test = world.dataset("test", 40)
    labels, targets = test.labels("shape")
    pictures = {"first": test.images[0]}
    app = widgets.PromptEffects(untrained, pictures, labels, ["a {}", "{}"], test_images=test.images,
                                test_targets=targets)
    scores = app.test_accuracy()
    assert list(scores) == ["a {}", "{}", "my own prompt: {}", "ensemble of all prompts"]
    emb = cv.encode_images(untrained, test.images)
    expected = cv.zero_shot_classifier(untrained, labels, ["a {}"]).accuracy(emb, targets)
    assert scores["a {}"] == pytest.approx(expected)
    app.boxes[2].value = "a drawing of a {}"  # the student's own prompt is scored as soon as it changes
    assert "a drawing of a {}" in app.test_accuracy() and "a drawing of a {}" in app.scores.value
    assert "40 test images" in app.scores.value


def test_prompt_effects_needs_images_and_targets_together(untrained, world):
    test = world.dataset("test", 4)
    with pytest.raises(ValueError, match="together"):
        widgets.PromptEffects(untrained, {"x": test.images[0]}, ["circle", "star"], test_images=test.images)


def test_bench_zero_shot_is_the_mean_over_templates(untrained, world):
    data = world.dataset("all", 30)
    labels = list(cv.data.SHAPES)
    targets = [labels.index(a.shape) for a in data.attributes]
    emb = cv.encode_images(untrained, data.images)
    per_template = [cv.zero_shot_classifier(untrained, labels, [t]).accuracy(emb, targets) for t in ZERO_SHOT_TEMPLATES]
    assert zero_shot_top1(untrained, data, "shape") == pytest.approx(sum(per_template) / len(per_template))
    assert len(ZERO_SHOT_TEMPLATES) >= 5


def test_at_least_two_bench_templates_use_words_no_training_caption_has(world):
    import re
    vocabulary = {w for c in world.dataset("train", 3000).captions for w in re.findall(r"[a-z-]+", c)}
    unseen = [t for t in ZERO_SHOT_TEMPLATES if set(re.findall(r"[a-z-]+", t)) - vocabulary]
    assert len(unseen) >= 2, unseen


def test_a_big_clip_with_random_weights_says_so_on_the_app(untrained, world):
    """Chapter 08 offline runs ViT-B-32 with random weights: the app itself says so, not only the cell above it."""
    import dataclasses
    pictures = {"one": world.dataset("test", 1).images[0]}
    random_big = dataclasses.replace(untrained, name="ViT-B-32", pretrained=None)  # what load_clip(pretrained=None) gives
    said = [w.value for w in widgets.PromptEffects(random_big, pictures, ["circle", "star"]).children
            if isinstance(w, W.HTML)]
    assert any("ViT-B-32 with random weights" in text for text in said)
    mini = widgets.PromptEffects(untrained, pictures, ["circle", "star"])  # a mini CLIP: untrained on purpose
    assert not any("random weights" in getattr(w, "value", "") for w in mini.children if isinstance(w, W.HTML))
