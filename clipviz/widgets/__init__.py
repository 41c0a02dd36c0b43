"""Widgets: small ipywidgets apps that let a student change something and see CLIP react.

Each app is an `ipywidgets.VBox` (a notebook cell shows it by ending with it) that
wires controls to figures from `clipviz.plots`; the numbers come from the package's
math helpers, never from the app itself. Each also prints its key figures as text,
and ends with a share bar: "copy settings" gives its state as one line of text that
`settings=` (or "apply settings") restores, and "save figure" writes its figure as
a web page that works offline.

    base         the framework: App, LiveFigure, Debounce, ImagePicker, pictures with alt text
    share        every app's share bar: settings as text, figures saved as offline web pages
    probes       CaptionProbe (01), PromptEffects (06, 08), ZeroShotExplorer (05)
    space        ToyEmbeddings (02), EmbeddingMap (07)
    contrastive  ContrastiveExplorer (03)
    dashboard    TrainingDashboard (04)
    binding      BindingExplorer, HardNegativeDashboard (09)
    linear_probe LinearProbeExplorer (05)
"""
from .base import App, Debounce, ImagePicker, LiveFigure
from .contrastive import ContrastiveExplorer
from .dashboard import TrainingDashboard
from .linear_probe import LinearProbeExplorer
from .probes import CaptionProbe, PromptEffects, ZeroShotExplorer
from .space import EmbeddingMap, ToyEmbeddings

__all__ = ["App", "Debounce", "ImagePicker", "LiveFigure", "CaptionProbe", "PromptEffects", "ZeroShotExplorer",
           "ToyEmbeddings", "EmbeddingMap", "ContrastiveExplorer", "TrainingDashboard",
           "LinearProbeExplorer"]
