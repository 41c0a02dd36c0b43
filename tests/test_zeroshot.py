import open_clip
import pytest
import torch

import clipviz as cv

LABELS = ["red circle", "blue square", "green star", "yellow cross"]
TEMPLATES = ["a photo of a {}.", "a {}", "there is a {} in the picture"]


@pytest.mark.parametrize("bundle_name", ["untrained", "trained"])
def test_equals_open_clips_zero_shot_classifier(bundle_name, request):
    bundle = request.getfixturevalue(bundle_name)
    bundle = bundle[0] if isinstance(bundle, tuple) else bundle
    ours = cv.zero_shot_classifier(bundle, LABELS, TEMPLATES)
    ref = open_clip.build_zero_shot_classifier(bundle.model, bundle.tokenizer, LABELS, TEMPLATES,
                                               num_classes_per_batch=2, device="cpu")
    assert ours.weights.shape == ref.shape == (64, 4)
    assert torch.allclose(ours.weights, ref, atol=1e-5)


def test_trained_model_classifies_shapes_world_images(trained, world):
    bundle, _ = trained
    d = world.dataset("test", 200)
    labels = sorted({f"{a.colour}" for a in d.attributes})
    clf = cv.zero_shot_classifier(bundle, labels, ["a {} shape"])
    predicted = clf.predict(cv.encode_images(bundle, d.images))
    accuracy = sum(p == a.colour for p, a in zip(predicted, d.attributes)) / len(d)
    assert accuracy > 0.5  # 6 colours: chance is 1/6
    probs = clf.probs(cv.encode_images(bundle, d.images[:3]))
    assert torch.allclose(probs.sum(-1), torch.ones(3), atol=1e-5)


def test_bad_labels_and_templates(untrained):
    with pytest.raises(ValueError, match="no labels"):
        cv.zero_shot_classifier(untrained, [], TEMPLATES)
    with pytest.raises(ValueError, match="no templates"):
        cv.zero_shot_classifier(untrained, LABELS, [])
    with pytest.raises(ValueError, match=r"templates\[0\].*needs a '\{\}'"):
        cv.zero_shot_classifier(untrained, LABELS, ["a photo"])
