"""The training dashboard: train a mini CLIP and watch the contrastive diagonal appear.

Training runs a tenth of a second at a time on the kernel's own thread, from a task on
Jupyter's event loop, so the kernel hears the Stop button between slices (a background
thread, the obvious design, trains half as fast on a CPU: `clipviz.train.TrainingRun`
says why); the loop reports through `clipviz.train` callbacks, and the dashboard
turns those reports into live curves and a live similarity matrix of a fixed probe
batch. The dashboard only draws; all the learning is `clipviz.train`.
"""
from __future__ import annotations

import asyncio
import dataclasses
import html
import math
import threading
import time

import ipywidgets as W

from .. import plots
from ..binding import TwoObjectWorld
from ..binding_eval import BINDING_PRESET
from ..checkpoint import save_checkpoint
from ..data import GREY_SHARE, ShapesWorld
from ..encode import encode_images, encode_texts
from ..model import PRESETS, mini_clip, pick_device
from ..recipe import PRESET_RECIPES, recipe_for
from ..similarity import similarity_matrix
from ..train import TrainConfig, TrainingRun, fast_mode, recipe
from ..zeroshot import caption_accuracy
from .base import App, LiveFigure


def starting_choice(world) -> tuple[str, TrainConfig, str]:
    """The preset and recipe the dashboard starts from, and why: (preset, TrainConfig, reason or "").

    On a CUDA GPU, for the shapes world and outside fast mode: the gpu preset and recipe, a model six
    times the tiny one's size on batches of 1,024. Elsewhere the tiny preset, or on chapter 09's two-object scenes the
    binding models' (binding_eval.BINDING_PRESET, tiny-p8), each with its recipe (recipe_for).
    """
    import torch
    if torch.cuda.is_available() and isinstance(world, ShapesWorld) and not fast_mode():
        config = recipe("gpu")
        return "gpu", config, (f"the <b>gpu</b> preset and recipe, because a CUDA GPU is present: a bigger model on "
                               f"batches of {config.batch_size:,} (choose tiny for the CPU-sized one)")
    preset = BINDING_PRESET if isinstance(world, TwoObjectWorld) else "tiny"  # two objects apart: 16 patches, not 4
    return preset, recipe_for(preset), ""


def _accuracies(evals) -> str:
    """The latest evaluation in words, for the status line: the curves' key figures, readable without the chart.

    evals: (steps, seen top-1 accuracies, held-out top-1 accuracies), one entry per evaluation so far.
    """
    if not evals[0]:
        return ""
    return (f" &nbsp;|&nbsp; top-1 accuracy at step {evals[0][-1]}: seen {evals[1][-1]:.0%}, "
            f"held-out {evals[2][-1]:.0%}")


class TrainingDashboard(App):
    """Start/stop training of a fresh mini CLIP, with live loss, accuracy, logit scale and probe matrix.

    world: the ShapesWorld to train on. n: training images (default: recipe().train_images).
    settings: settings text from another dashboard's "copy settings" (preset, batch size, learning rate,
        steps, the checkboxes, the sketch share and the black-and-white share); Start trains with them.
    After training, `.bundle` is the trained model and `.history` its History. The status line
    gives the latest loss and accuracies in words, beside the curves.
    """

    PROBE_EVERY_S = 1.0  # the probe matrix is redrawn at each evaluation and at least this often (seconds)

    def __init__(self, world, n: int | None = None, probe_size: int = 8, settings: str | None = None):
        self.world = world
        preset, self.config, why = starting_choice(world)  # the kit's recipe; the controls start from it
        self.n = n or self.config.train_images
        self.data = world.dataset("train", self.n)
        self._share = 0.0  # the fraction of sketches in self.data
        shapes = isinstance(world, ShapesWorld)
        self._grey = GREY_SHARE["photo"] if shapes else None  # the fraction of black-and-white pictures in it
        self.probe = world.dataset("test", probe_size)
        self.bundle, self.history, self._thread, self._stop = None, None, None, threading.Event()
        self._run, self._task, self._taken_over, self._ended = None, None, False, None  # the TrainingRun, what
        # drives it (a task on the event loop, or a thread without one), and the run whose end was shown
        self.preset = W.Dropdown(options=sorted(PRESETS), value=preset, description="preset")
        self.batch_size = W.Dropdown(options=sorted({16, 32, 64, 128, 256, 512, 1024, self.config.batch_size}),
                                     value=self.config.batch_size, description="batch size")
        self.lr = W.FloatLogSlider(value=self.config.lr, base=10, min=-4, max=-1.5, step=0.1,
                                   description="learning rate", style={"description_width": "initial"})  # not cut
        self.steps = W.IntSlider(value=self.config.steps, min=10, max=5000, step=10, description="steps")
        self.learn_temperature = W.Checkbox(value=self.config.learn_temperature, description="learn the temperature",
                                            layout=W.Layout(width="auto"))
        self.mask_false_negatives = W.Checkbox(value=self.config.mask_false_negatives, description="skip false negatives",
                                               tooltip="leave a caption out of the softmax of another picture it is "
                                                       "true of (off: CLIP's own loss, chapter 03)")
        self.sketch_share = W.FloatSlider(value=0.0, min=0.0, max=0.75, step=0.05, description="sketches",
                                          tooltip="the share of training pictures drawn as sketches (chapter 05)")
        self.grey_share = W.FloatSlider(value=self._grey or 0.0, min=0.0, max=0.5, step=0.05,
                                        description="black and white", style={"description_width": "initial"},
                                        tooltip="the share of training pictures in black and white, their captions "
                                                "naming no colour (chapter 04; the kit's photo model: 0.1)")
        for slider in (self.sketch_share, self.grey_share):
            slider.layout.display = None if shapes else "none"  # shapes world only
        self.start_button = W.Button(description="Start", button_style="success", icon="play",
                                     style={"button_color": "#2e7d32"})  # white on it: 5.1:1 (WCAG AA wants 4.5)
        self.start_button.add_class("clipviz-start")
        self.stop_button = W.Button(description="Stop", button_style="danger", icon="stop", disabled=True)
        self.stop_button.add_class("clipviz-stop")
        self.save_path = W.Text(value="my_mini_clip.pt", description="save to")
        self.save_button = W.Button(description="Save", icon="save", disabled=True)
        self.status = W.HTML(f"device: <b>{pick_device()}</b> &nbsp; {why or 'ready'}")
        self.status.add_class("clipviz-status")
        self.curves = LiveFigure(plots.training_figure())
        self.curves.widget.add_class("clipviz-loss")
        self.matrix = LiveFigure(self._probe_figure(None, "probe batch before training"))
        self.preset.observe(self.guarded(self._preset_changed), names="value")
        self.start_button.on_click(self.guarded(lambda button: self.start()))
        self.stop_button.on_click(self.guarded(lambda button: self.stop()))
        self.save_button.on_click(self.guarded(lambda button: self.save()))
        controls = W.VBox([W.HBox([self.preset, self.batch_size]), W.HBox([self.lr, self.steps]),
                           W.HBox([self.learn_temperature, self.mask_false_negatives]),
                           W.HBox([self.sketch_share, self.grey_share]),
                           W.HBox([self.start_button, self.stop_button]),
                           W.HBox([self.save_path, self.save_button])])
        state = {"preset": self.preset, "batch size": self.batch_size, "learning rate": self.lr,
                 "steps": self.steps, "learn temperature": self.learn_temperature,
                 "skip false negatives": self.mask_false_negatives, "sketches": self.sketch_share,
                 "black and white": self.grey_share}
        super().__init__([controls, self.status, self.curves.widget, self.matrix.widget], state=state,
                         figure=self.curves)
        self.apply_settings(settings)

    def _preset_changed(self, change) -> None:
        """To or from a preset with a recipe of its own (tiny-p8: 1,700 steps), the steps follow its recipe."""
        if {change["old"], change["new"]} & set(PRESET_RECIPES):
            steps = recipe_for(change["new"]).steps
            if steps != self.steps.value:
                self.steps.value = steps
                self.status.value = (f"device: <b>{pick_device()}</b> &nbsp; the {change['new']} preset trains "
                                     f"{steps:,} steps (its recipe)")

    def _probe_similarity(self, bundle):
        """(P, P) cosines of the probe batch under `bundle` (zeros before there is a model)."""
        import torch
        if bundle is None:
            return torch.zeros(len(self.probe), len(self.probe))
        return similarity_matrix(encode_images(bundle, self.probe.images), encode_texts(bundle, self.probe.captions))

    def _probe_figure(self, bundle, title):
        return plots.similarity_heatmap(self._probe_similarity(bundle), text_labels=self.probe.captions,
                                        thumbnails=list(self.probe.images), title=title, zmin=-0.2, zmax=1.0)

    SLICE_S = 0.1  # in Jupyter, training runs this long at a time between the widgets' messages (Stop, sliders)

    def start(self) -> None:
        """Train a fresh model with the chosen settings, while the notebook stays usable.

        In Jupyter (JupyterLab, Voilà, Colab: an asyncio event loop runs) the steps run on the kernel's own
        thread, a slice of SLICE_S seconds at a time, from a task on that loop, so Stop and the other widgets
        answer between slices; torch's OpenMP threads run a second Python thread's steps about half as fast
        (clipviz.train.TrainingRun). Without an event loop (a script) the steps run in a background thread.
        """
        if self.running:
            raise RuntimeError("training is already running; press Stop first")
        self._stop.clear()
        self._probe_drawn = time.perf_counter()
        shapes = isinstance(self.world, ShapesWorld)
        share = self.sketch_share.value if shapes else 0.0
        grey = self.grey_share.value if shapes else None
        if (share, grey) != (self._share, self._grey):  # a new mix: render the training pictures again (seconds)
            self.status.value = (f"rendering {self.n} training pictures, {share:.0%} of them sketches, "
                                 f"{grey:.0%} black and white ...")
            mix = dict(style="mixed", sketch_share=share) if share else {}
            self.data = self.world.dataset("train", self.n, grey_share=grey, **mix)
            self._share, self._grey = share, grey
        self.bundle = mini_clip(self.preset.value)
        self.curves.replace(plots.training_figure())
        self.start_button.disabled, self.stop_button.disabled, self.save_button.disabled = True, False, True
        try:
            self._run = self._begin()
        except Exception:
            self.start_button.disabled, self.stop_button.disabled = False, True
            raise
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop: a script or a test
            self._thread = threading.Thread(target=self.guarded(self._drive_to_end), daemon=True)
            self._thread.start()
        else:
            self._task = loop.create_task(self._drive(self._run))  # kept: the loop holds only a weak reference

    @property
    def running(self) -> bool:
        """True while a training run has steps to go."""
        return self._run is not None and not self._run.closed

    def _begin(self) -> TrainingRun:
        """The training run of the chosen settings, reporting each step and evaluation to the figures."""
        steps, losses, scales, last_draw = [], [], [], [0.0]
        evals = ([], [], [])
        self._series = (steps, losses, scales, evals)

        def on_event(event):
            if event.kind == "step":
                steps.append(event.step)
                losses.append(event.loss)
                scales.append(event.logit_scale)
            else:
                for values, value in zip(evals, (event.step, event.seen_top1, event.heldout_top1)):
                    values.append(value)
            if event.kind == "eval" or time.perf_counter() - last_draw[0] > 0.3 or event.step == event.steps:
                last_draw[0] = time.perf_counter()
                self._draw(steps, losses, scales, evals, event)
            return self._stop.is_set()

        config = dataclasses.replace(self.config, steps=self.steps.value, batch_size=self.batch_size.value,
                                     lr=self.lr.value, learn_temperature=self.learn_temperature.value,
                                     mask_false_negatives=self.mask_false_negatives.value,
                                     eval_every=max(10, self.steps.value // 6))
        return TrainingRun(self.bundle, self.data, config,
                           eval_sets={"seen": self.world.dataset("test", 200),
                                      "heldout": self.world.dataset("heldout", 200)},
                           callbacks=[on_event])

    async def _drive(self, run: TrainingRun) -> None:
        """Advance `run` a slice at a time from the event loop, until it ends or wait() takes it over."""
        try:
            while run is self._run and not self._taken_over and run.advance(self.SLICE_S):
                await asyncio.sleep(0)  # the kernel answers the widgets' messages here
        except Exception as err:  # shown in the app, as guarded() does; the app stays usable
            self.show_error(err)
        try:
            self._end(run)
        except Exception as err:
            self.show_error(err)

    def _drive_to_end(self) -> None:
        """Advance the run to its end here and now (the thread of a script, or wait() in a notebook)."""
        run = self._run
        try:
            while run.advance(math.inf):
                pass
        finally:
            self._end(run)

    def _end(self, run: TrainingRun) -> None:
        """`run` has ended: final figures, the status line in words, the buttons back (once per run; not for a
        run that a newer one replaced, or one that wait() took over and ended)."""
        if run is not self._run or run is self._ended:
            return
        self._ended = run
        try:
            self.history = run.history
            steps, losses, scales, evals = self._series
            self._draw(steps, losses, scales, evals, None)
            sketches = ""
            if isinstance(self.world, ShapesWorld):  # robustness: how the mix of styles carries over to sketches
                accuracy = caption_accuracy(self.bundle, self.world.dataset("test", 200, style="sketch"))
                sketches = (f"; sketch accuracy {accuracy:.0%} (trained on {self._share:.0%} sketches, "
                            f"{self._grey:.0%} black and white)")
            ending = "stopped" if self.history.stopped == "callback" else self.history.stopped  # callback: Stop
            self.status.value = (f"device: <b>{self.bundle.device}</b> &nbsp; {ending} after "
                                 f"{len(self.history.step)} steps in {self.history.seconds:.1f} s{sketches}"
                                 f"{_accuracies(evals)}")
        finally:
            self.start_button.disabled, self.stop_button.disabled = False, True
            self.save_button.disabled = self.bundle is None

    def _draw(self, steps, losses, scales, evals, event) -> None:
        def change(fig):
            fig.data[0].x, fig.data[0].y = list(steps), list(losses)
            fig.data[1].x, fig.data[1].y = list(evals[0]), list(evals[1])
            fig.data[2].x, fig.data[2].y = list(evals[0]), list(evals[2])
            fig.data[3].x, fig.data[3].y = list(steps), list(scales)
        self.curves.update(change)
        if event is None or event.kind == "eval" or time.perf_counter() - self._probe_drawn > self.PROBE_EVERY_S:
            self._probe_drawn = time.perf_counter()  # so the diagonal shows as soon as it forms, not at the next eval
            step = steps[-1] if steps else 0
            sim = self._probe_similarity(self.bundle).tolist()  # the probe batch is fixed: only its numbers change,

            def numbers(fig):  # so the browser redraws the cells, not the thumbnails and the axes
                fig.data[0].z = sim
                fig.layout.title.text = f"probe batch after {step} steps"
            self.matrix.update(numbers)
        if event is not None:
            self.status.value = (f"device: <b>{self.bundle.device}</b> &nbsp; step {event.step}/{event.steps}, "
                                 f"loss {event.loss:.3f}, logit scale {event.logit_scale:.1f}{_accuracies(evals)}")

    def stop(self) -> None:
        """Ask the training to stop after its current step."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> None:
        """Block until training has finished (for scripts, tests and a notebook's next cell).

        In a notebook the event loop cannot run the training while a cell waits, so wait() runs the
        remaining steps itself, in that cell (timeout is then not used); Stop answers again after it.
        """
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout)
        elif self.running:
            self._taken_over = True
            try:
                self.guarded(self._drive_to_end)()
            finally:
                self._taken_over = False

    def save(self) -> str:
        """Save the trained model to the path in the text box."""
        if self.bundle is None:
            raise RuntimeError("nothing to save yet: press Start to train a model first")
        if self.running:
            raise RuntimeError("training is still running: press Stop, then Save")
        path = save_checkpoint(self.bundle, self.save_path.value.strip() or "my_mini_clip.pt")
        self.status.value = f"saved <code>{html.escape(path)}</code>; load it with <code>cv.load_checkpoint({path!r})</code>"
        return path
