import pytest
import torch
import torch.nn.functional as F

import clipviz as cv
from clipviz.exercises import ExerciseMistake, check_contrastive_loss, check_similarity_matrix, \
    check_zero_shot_classifier


def test_similarity_answers():
    assert check_similarity_matrix(cv.similarity_matrix).startswith("Correct")
    with pytest.raises(ExerciseMistake, match="normalise each row"):
        check_similarity_matrix(lambda i, t: i @ t.T)
    with pytest.raises(ExerciseMistake, match="rows should be images"):
        check_similarity_matrix(lambda i, t: cv.similarity_matrix(i, t).T)
    with pytest.raises(ExerciseMistake, match="raised ZeroDivisionError"):
        check_similarity_matrix(lambda i, t: 1 / 0)


def test_contrastive_loss_answers():
    def right(i, t, s):
        logits = s * i @ t.T
        labels = torch.arange(len(i))
        return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2

    assert check_contrastive_loss(right).startswith("Correct")
    with pytest.raises(ExerciseMistake, match="only used the image → text direction"):
        check_contrastive_loss(lambda i, t, s: F.cross_entropy(s * i @ t.T, torch.arange(len(i))))
    with pytest.raises(ExerciseMistake, match="logit scale is missing"):
        check_contrastive_loss(lambda i, t, s: right(i, t, 1.0))
    with pytest.raises(ExerciseMistake, match="takes their mean"):
        check_contrastive_loss(lambda i, t, s: 2 * right(i, t, s))
    with pytest.raises(ExerciseMistake, match="scalar"):
        check_contrastive_loss(lambda i, t, s: s * i @ t.T)


def test_zero_shot_answers(untrained):
    def right(bundle, labels, templates):
        return cv.zero_shot_classifier(bundle, labels, templates).weights

    assert check_zero_shot_classifier(right, untrained).startswith("Correct")
    assert check_zero_shot_classifier(lambda b, l, t: right(b, l, t).T, untrained).startswith("Nearly")

    def first_template_only(bundle, labels, templates):
        return cv.encode_texts(bundle, [templates[0].format(x) for x in labels]).T

    with pytest.raises(ExerciseMistake, match="only the first template"):
        check_zero_shot_classifier(first_template_only, untrained)

    def not_normalised(bundle, labels, templates):
        emb = cv.encode_texts(bundle, [t.format(x) for x in labels for t in templates])
        return emb.view(len(labels), len(templates), -1).mean(1).T

    with pytest.raises(ExerciseMistake, match="normalise the mean"):
        check_zero_shot_classifier(not_normalised, untrained)
