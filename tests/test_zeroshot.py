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


def test_prompt_embeddings_build_every_classifier_from_one_pass(trained):
    bundle = trained[0]
    emb = cv.prompt_embeddings(bundle, LABELS, TEMPLATES)  # (T, C, D)
    assert emb.shape == (3, 4, 64)
    assert torch.allclose(emb[1, 2], cv.encode_texts(bundle, ["a green star"])[0], atol=1e-6)
    classifiers = cv.template_classifiers(bundle, LABELS, TEMPLATES)
    assert list(classifiers) == TEMPLATES + ["ensemble"]
    for template in TEMPLATES:  # each single-template classifier is zero_shot_classifier with that template
        assert torch.allclose(classifiers[template].weights,
                              cv.zero_shot_classifier(bundle, LABELS, [template]).weights, atol=1e-6)
    assert torch.allclose(classifiers["ensemble"].weights, cv.zero_shot_classifier(bundle, LABELS, TEMPLATES).weights,
                          atol=1e-6)
    assert "ensemble" not in cv.template_classifiers(bundle, LABELS, TEMPLATES[:1])


def test_a_n_template_gives_each_label_its_article_and_plain_templates_are_left_as_written(trained):
    assert cv.fill_template("a photo of a(n) {}", "orange") == "a photo of an orange"
    assert cv.fill_template("a(n) {} shape", "red") == "a red shape"
    assert cv.fill_template("a photo of a {}", "orange") == "a photo of a orange"  # as CLIP's own templates
    bundle = trained[0]
    emb = cv.prompt_embeddings(bundle, ["orange", "red"], ["a photo of a(n) {}"])  # (1, 2, D)
    assert torch.allclose(emb[0], cv.encode_texts(bundle, ["a photo of an orange", "a photo of a red"]), atol=1e-6)


def test_classifier_accuracy_counts_right_answers(trained, world):
    bundle = trained[0]
    data = world.dataset("test", 60)
    labels, targets = data.labels("colour")
    clf = cv.zero_shot_classifier(bundle, labels, ["a {} shape"])
    image_emb = cv.encode_images(bundle, data.images)
    predicted = clf.predict_index(image_emb).tolist()
    expected = sum(p == t for p, t in zip(predicted, targets)) / len(targets)
    assert clf.accuracy(image_emb, targets) == pytest.approx(expected)
    wrong = [(t + 1) % len(labels) for t in predicted]  # a target list that disagrees with every prediction
    assert clf.accuracy(image_emb, wrong) == 0.0
    with pytest.raises(ValueError, match="60 image embeddings but 3 targets"):
        clf.accuracy(image_emb, targets[:3])


def test_the_shipped_model_composes_a_held_out_caption_from_its_parts_and_misses_in_the_image_tower(shipped, world):
    # chapter 05's guide (Q5): the words for a never-seen composition are where adding up their parts puts them;
    # what goes wrong on held-out pictures is where the image tower puts the pictures
    combos, held = world.combinations, set(world.held_out)
    captions = cv.encode_texts(shipped, world.all_captions())  # (240, D), unit length
    index = {a: i for i, a in enumerate(combos)}
    colours, shapes = {a.colour for a in combos}, {a.shape for a in combos}
    held_idx = [i for i, a in enumerate(combos) if (a.shape, a.colour) in held]
    analogies = captions.clone()
    for i in held_idx:  # "purple cross" as purple square - red square + red cross, averaged over the seen pairs
        a = combos[i]
        parts = [captions[index[a._replace(shape=s)]] - captions[index[a._replace(shape=s, colour=c)]]
                 + captions[index[a._replace(colour=c)]]
                 for c in colours - {a.colour} for s in shapes - {a.shape}
                 if not {(s, a.colour), (s, c), (a.shape, c)} & held]
        assert len(parts) >= 4
        v = torch.stack(parts).mean(0)
        analogies[i] = v / v.norm()
    real = captions[held_idx]
    assert (real * analogies[held_idx]).sum(-1).min() > 0.99  # the caption is its parts, added
    others = real @ captions.T
    others[torch.arange(len(held_idx)), torch.tensor(held_idx)] = -1
    assert others.max() < 0.9  # ... far closer than to any other caption
    heldout = world.dataset("heldout", 300)
    images = cv.encode_images(shipped, heldout.images)
    truth = torch.tensor([index[a] for a in heldout.attributes])
    top1 = {name: ((images @ emb.T).argmax(-1) == truth).float().mean().item()
            for name, emb in (("words", captions), ("added parts", analogies))}
    assert top1["words"] < 0.99  # there are misses to explain
    assert top1["added parts"] <= top1["words"] + 0.01  # and perfectly added-up words would not remove them
