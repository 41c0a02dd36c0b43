"""Export for open_clip's trainer: the same data and the same model config, handed to the real engine.

When a mini CLIP trained in a notebook is no longer enough, the next tool is open_clip's
own trainer, `python -m open_clip_train.main`, which runs on one GPU or, under torchrun
or SLURM, on many. `export_for_open_clip` writes a folder it reads as is:

    DIR/images/*.png                  the shapes-world pictures
    DIR/train.csv, DIR/val.csv        filepath,title (comma-separated; paths relative to DIR)
    DIR/model/open_clip_config.json   the preset in open_clip's `local-dir:` format:
                                      {"model_cfg": ..., "preprocess_cfg": ...}

and `open_clip_command` writes the torchrun line that trains on it with the kit's recipe
(learning rate, warmup, weight decay, AdamW betas, no random crop, as many samples as `cv.train`);
`train_with_open_clip` runs the same trainer as one process, for a notebook or a test.
The checkpoint it saves (`OpenClipExport.checkpoint()` says where) comes back into the chapters with
`cv.load_clip("local-dir:DIR/model", pretrained="DIR/logs/<run>/checkpoints/epoch_K.pt")`.
The same CSVs are read back into the notebooks by `clipviz.folder.folder_dataset("DIR/train.csv")`.
"""
from __future__ import annotations

import csv
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .data import STYLES, ShapesWorld
from .model import PRESETS, mini_clip, pick_device
from .train import recipe

CONFIG_FILE = "open_clip_config.json"  # the file open_clip's `local-dir:` model names read


@dataclass
class OpenClipExport:
    """What `export_for_open_clip` wrote (all paths absolute)."""
    folder: Path  # DIR; run the trainer from here, the CSV paths are relative to it
    train_csv: Path  # DIR/train.csv
    val_csv: Path  # DIR/val.csv
    model_dir: Path  # DIR/model, holding open_clip_config.json: pass --model local-dir:model
    n_train: int  # training pairs
    n_val: int  # validation pairs

    def command(self, gpus: int = 1, **options) -> str:
        """The torchrun line for this export; see `open_clip_command` for the options."""
        return open_clip_command(self, gpus, **options)

    def checkpoint(self, epochs: int | None = None, name: str = "clipviz") -> Path:
        """Where the command's run saves its last checkpoint: DIR/logs/<name>/checkpoints/epoch_<epochs>.pt.

        epochs, name: the run's --epochs (None: the command's default, `recipe_epochs`) and --name.
        open_clip writes under ./logs/ of the folder it runs from, and the command runs from DIR.
        """
        return self.folder / "logs" / name / "checkpoints" / f"epoch_{epochs or recipe_epochs(self.n_train)}.pt"


def open_clip_config(preset: str = "tiny") -> dict:
    """The preset in open_clip's `local-dir:` format: {"model_cfg": ..., "preprocess_cfg": ...}.

    model_cfg is the preset's open_clip JSON (its text_cfg.context_length sets the tokenizer's
    context); preprocess_cfg is the kit's: image size, the shapes world's mean and std, bilinear.
    """
    bundle = mini_clip(preset, device="cpu")  # the authority on both configs: what the notebooks build
    preprocess = {k: list(v) if isinstance(v, tuple) else v for k, v in bundle.model.visual.preprocess_cfg.items()}
    return {"model_cfg": bundle.config, "preprocess_cfg": preprocess}


def _write_pairs(folder: Path, name: str, data) -> Path:
    """PNG files images/<name>_000000.png, ... and <name>.csv (filepath,title); returns the CSV path."""
    pixels = (data.images.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)  # (N, H, W, 3)
    paths = [f"images/{name}_{i:06d}.png" for i in range(len(data))]
    for path, image in zip(paths, pixels):
        Image.fromarray(image).save(folder / path, compress_level=1)  # fast zlib: these files are tiny anyway
    csv_path = folder / f"{name}.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)  # quotes captions that hold a comma ("a red star, small, on the left")
        writer.writerow(["filepath", "title"])
        writer.writerows(zip(paths, data.captions))
    return csv_path


def export_for_open_clip(out: str | os.PathLike, n: int = 10000, *, n_val: int | None = None,
                         style: str = "photo", preset: str = "tiny", seed: int = 0) -> OpenClipExport:
    """Write n shapes-world training pairs, a validation set and the model config for open_clip's trainer.

    out: the folder to write (created; files of an earlier export are overwritten).
    n: training pairs, drawn from the "train" split (seen compositions, varied caption templates).
    n_val: validation pairs from the "test" split (canonical captions); None means n // 10, at least 1.
    style: "photo" or "sketch".
    preset: the model config to write, a key of PRESETS.
    seed: the ShapesWorld seed (same seed, same world and held-out compositions as the notebooks).
    Returns an OpenClipExport; its .command(gpus=K) is the line to train on it.
    """
    if n < 2:
        raise ValueError(f"n must be at least 2 (a contrastive batch needs two pairs), got {n}")
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; choose one of {STYLES}")
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    n_val = max(1, n // 10) if n_val is None else n_val
    folder = Path(out).resolve()
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "model").mkdir(exist_ok=True)
    config = open_clip_config(preset)
    (folder / "model" / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
    world = ShapesWorld(seed=seed, image_size=config["model_cfg"]["vision_cfg"]["image_size"])
    train_csv = _write_pairs(folder, "train", world.dataset("train", n, style))
    val_csv = _write_pairs(folder, "val", world.dataset("test", n_val, style))
    return OpenClipExport(folder, train_csv, val_csv, folder / "model", n, n_val)


def recipe_epochs(n_train: int) -> int:
    """Epochs over n_train pairs that see as many samples as the kit's recipe (steps * batch_size), rounded up."""
    kit = recipe("normal")
    return math.ceil(kit.steps * kit.batch_size / n_train)


def open_clip_args(export: OpenClipExport, *, batch_size: int | None = None, precision: str = "amp",
                   epochs: int | None = None, workers: int = 4, name: str = "clipviz") -> list[str]:
    """open_clip_train.main's arguments for `export`, run from export.folder, with the kit's recipe.

    batch_size: pairs per GPU per step (None: the kit's recipe batch, 128).
    precision: open_clip's --precision ("amp" on a GPU, "fp32" on a CPU, "amp_bf16", ...).
    epochs: None sees as many samples as the kit's recipe (`recipe_epochs`).
    workers: data-loading processes per GPU.
    name: the run's folder under DIR/logs; checkpoints land in DIR/logs/<name>/checkpoints/epoch_K.pt.
    The logs folder is open_clip's default, ./logs/ under the folder the trainer runs from (DIR). Naming it
    with --logs would stop torchrun (torch >= 2.3) at once: it reads `--logs` as an ambiguous short form of
    its own --logs-specs.
    The loss carries over too: open_clip's ClipLoss is CLIP's own, as the kit's default recipe uses (the
    false-negative mask, TrainConfig(mask_false_negatives=True), is an experiment only cv.train has).
    """
    kit = recipe("normal")
    batch_size = batch_size or kit.batch_size
    epochs = epochs or recipe_epochs(export.n_train)
    return ["--model", "local-dir:model",  # DIR/model/open_clip_config.json: the preset and its preprocessing
            "--train-data", "train.csv", "--val-data", "val.csv", "--dataset-type", "csv",
            "--csv-img-key", "filepath", "--csv-caption-key", "title", "--csv-separator", ",",
            "--batch-size", str(batch_size), "--precision", precision, "--epochs", str(epochs),
            "--lr", f"{kit.lr:g}", "--warmup", str(kit.warmup), "--wd", f"{kit.weight_decay:g}",
            "--beta1", "0.9", "--beta2", "0.98", "--eps", "1e-6",  # the kit's AdamW, as cv.train uses
            "--aug-cfg", "scale=(1.0,1.0)",  # no random crop, as cv.train: a crop moves the shape a caption places
            "--workers", str(workers), "--name", name]  # no --logs (torchrun rejects it): open_clip's ./logs/


def open_clip_command(export: OpenClipExport, gpus: int = 1, **options) -> str:
    """The shell line that trains on `export` with open_clip's trainer, on `gpus` GPUs of one machine.

    options: those of `open_clip_args` (batch_size per GPU, precision, epochs, workers, name);
        the global batch is gpus * batch_size.
    With gpus > 1 the loss is computed locally with gathered features (--local-loss --gather-with-grad),
    which gives the same gradients as one big batch and saves memory.
    """
    if gpus < 1:
        raise ValueError(f"gpus must be at least 1, got {gpus}")
    args = ["torchrun", f"--nproc_per_node={gpus}", "-m", "open_clip_train.main", *open_clip_args(export, **options)]
    if gpus > 1:
        args += ["--local-loss", "--gather-with-grad"]
    return f"cd {shlex.quote(str(export.folder))} && " + " ".join(shlex.quote(a) if a != "," else '","' for a in args)


def train_with_open_clip(export: OpenClipExport, *, epochs: int = 1, batch_size: int = 64,
                         device: str | None = None, name: str = "clipviz", timeout: float | None = None) -> Path:
    """Run open_clip's trainer on `export` as one process (no torchrun) and return its last checkpoint.

    A small version of `open_clip_command` for a notebook or a test: one device (None picks CUDA,
    then MPS, then the CPU), fp32 on a CPU and amp on a GPU, no data-loading workers.
    Returns the path of DIR/logs/<name>/checkpoints/epoch_<epochs>.pt, for
    cv.load_clip(f"local-dir:{export.model_dir}", pretrained=path).
    Raises ImportError naming the `scale` extra when the trainer's dependencies are missing,
    and RuntimeError with the end of the trainer's log when it fails.
    """
    try:
        import open_clip_train.main  # noqa: F401  (pandas, webdataset, braceexpand come with the extra)
    except ImportError as err:
        raise ImportError(f"open_clip's trainer needs the scale extra: pip install 'clipviz[scale]', "
                          f"or pip install 'open_clip_torch[training]' ({err})") from None
    device = str(pick_device(device))
    precision = "amp" if device.startswith("cuda") else "fp32"
    checkpoint = export.checkpoint(epochs, name)  # DIR/logs/<name>/checkpoints/epoch_<epochs>.pt
    run = checkpoint.parents[1]
    if run.exists():  # open_clip refuses to overwrite a run; start this one afresh
        shutil.rmtree(run)
    args = [sys.executable, "-m", "open_clip_train.main", "--device", device,
            *open_clip_args(export, batch_size=batch_size, precision=precision, epochs=epochs, workers=0, name=name)]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}  # tiny model: threads only fight
    done = subprocess.run(args, cwd=export.folder, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"open_clip_train failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return checkpoint
