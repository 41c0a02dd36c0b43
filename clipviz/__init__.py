"""clipviz: a hands-on kit for learning how CLIP links text and images.

The package follows the story the notebooks tell:
    data        the shapes world, a procedural image-caption world to train on
    vocabulary  the world's words: shapes, colours, sizes, positions, caption templates
    palette     the colour-blind-safe (Okabe-Ito) colours of the world and of every figure
    captions    its training captions: alt-text that names only part of a picture
    folder      your own captioned photos (a folder with captions.csv) as the same pairs
    export      the shapes world and a preset, written for open_clip's own trainer
    model       a mini CLIP built by open_clip, and the ClipBundle every helper takes
    pretrained  any open_clip model with its weights (load_clip), in the precision the CPU suits
    loss        the contrastive loss, written out
    recipe      the training recipe (TrainConfig) and fast mode, in one place
    train       the training loop (callbacks, no drawing); train_gpu, its GPU path
    encode      images and texts -> normalised embeddings
    similarity  the similarity matrix and the modality gap
    zeroshot    classifiers made of label text and prompt templates
    probe       a k-shot linear probe on the image embeddings, against the zero-shot classifier (cv.probe)
    projection  PCA / UMAP / t-SNE pictures of the embedding space
    checkpoint  save and load trained models (load_checkpoint / save_checkpoint)
    plots       results -> plotly figures (never computes)
    widgets     ipywidgets apps wiring controls to figures, and the training dashboard
    bench       the figures the kit promises, measured (python -m clipviz bench)

    >>> import clipviz as cv
    >>> world = cv.ShapesWorld(seed=0)
    >>> bundle = cv.mini_clip("tiny")
    >>> history = cv.train(bundle, world.dataset("train", n=cv.recipe().train_images))
"""
from . import exercises
from .checkpoint import ASSETS, SHIPPED, CheckpointError, load_checkpoint, save_checkpoint
from .data import Attributes, ImageTextPairs, ShapesWorld
from .encode import encode_folder, encode_images, encode_texts, load_image
from .export import export_for_open_clip
from .folder import FolderDataError, folder_dataset
from .loss import ContrastiveLoss, contrastive_loss
from .photos import load_photos
from .pictures import Pictures
from .model import PRESETS, ClipBundle, MiniClipConfig, available_models, mini_clip, pick_device
from .pretrained import PretrainedUnavailable, choose_precision, load_clip, pretrained_cached
from .projection import project
from .similarity import DiagonalStats, diagonal_stats, modality_gap, similarity_matrix
from .train import Event, History, TrainConfig, TrainingDiverged, fast_mode, recipe, recipe_for, train
from .zeroshot import (ZeroShotClassifier, caption_accuracy, fill_template, prompt_embeddings, template_classifiers,
                       zero_shot_classifier)

__all__ = [
    # data
    "ShapesWorld", "ImageTextPairs", "Attributes", "Pictures", "folder_dataset", "FolderDataError", "export_for_open_clip",
    # models
    "mini_clip", "load_clip", "available_models", "pick_device", "ClipBundle", "MiniClipConfig", "PRESETS",
    "PretrainedUnavailable", "choose_precision", "pretrained_cached",
    # the CLIP ideas
    "encode_images", "encode_texts", "encode_folder", "load_image", "similarity_matrix", "diagonal_stats",
    "DiagonalStats", "contrastive_loss", "ContrastiveLoss",
    "prompt_embeddings", "fill_template", "zero_shot_classifier", "template_classifiers", "ZeroShotClassifier",
    "caption_accuracy",
    "modality_gap", "project",
    # training and checkpoints
    "train", "TrainConfig", "recipe", "recipe_for", "fast_mode", "History", "Event", "TrainingDiverged",
    "save_checkpoint", "load_checkpoint", "CheckpointError", "ASSETS", "SHIPPED",
    # notebooks
    "exercises", "load_photos",
]


def __getattr__(name):
    """cv.plots, cv.widgets, cv.bench, cv.probe: imported on first use, so `import clipviz` stays light."""
    if name in ("plots", "widgets", "bench", "probe"):
        import importlib
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'clipviz' has no attribute {name!r}")
