"""Widgets: small ipywidgets apps that let a student change something and see CLIP react.

Each app is an `ipywidgets.VBox` (a notebook cell shows it by ending with it) that
wires controls to figures from `clipviz.plots`; the numbers come from the package's
math helpers, never from the app itself.

    base         the framework: App, LiveFigure, Debounce, ImagePicker
    probes       CaptionProbe (01), PromptEffects (06, 08), ZeroShotExplorer (05)
    space        ToyEmbeddings (02), EmbeddingMap (07)
    contrastive  ContrastiveExplorer (03)
    dashboard    TrainingDashboard (04)
"""
from .base import App, Debounce, ImagePicker, LiveFigure
from .contrastive import ContrastiveExplorer
from .dashboard import TrainingDashboard
from .probes import CaptionProbe, PromptEffects, ZeroShotExplorer
from .space import EmbeddingMap, ToyEmbeddings

__all__ = ["App", "Debounce", "ImagePicker", "LiveFigure", "CaptionProbe", "PromptEffects", "ZeroShotExplorer",
           "ToyEmbeddings", "EmbeddingMap", "ContrastiveExplorer", "TrainingDashboard"]
