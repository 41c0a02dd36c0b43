"""Speed benchmarks of the parts a student waits on: rendering, encoding, projecting, redrawing an app."""
from __future__ import annotations

import statistics
import time

import torch

from ..data import ShapesWorld
from ..encode import encode_images
from ..projection import project
from .timing import median_ms, sync


def bench_encode_ratio(world: ShapesWorld, bundle, device: torch.device, quick: bool) -> dict:
    """encode_images on a (256, 3, 32, 32) batch over bare open_clip code doing the same work on the same batch.

    The bare side is what one writes with open_clip alone: normalise the pixels with the model's
    mean and std, then model.encode_image(..., normalize=True). The ratio is clipviz's wrapper cost.
    """
    raw = world.dataset("test", 256).images.to(device)  # (256, 3, H, W) in [0, 1]
    model = bundle.model.eval()
    mean = torch.tensor(model.visual.preprocess_cfg["mean"], device=device).view(1, 3, 1, 1)
    std = torch.tensor(model.visual.preprocess_cfg["std"], device=device).view(1, 3, 1, 1)

    def bare():
        with torch.no_grad():
            model.encode_image((raw - mean) / std, normalize=True).cpu()
        sync(device)

    def ours():
        encode_images(bundle, raw)
        sync(device)

    ours_ms, bare_ms = [], []
    for _ in range(10 if quick else 60):  # alternate call by call; compare each pair measured side by side
        ours_ms.append(median_ms(ours, 1))
        bare_ms.append(median_ms(bare, 1))
    ratio = statistics.median(o / b for o, b in zip(ours_ms, bare_ms))
    return {"encode_ms_256": statistics.median(ours_ms), "encode_overhead_ratio": ratio}


def bench_render(world: ShapesWorld, quick: bool) -> dict:
    n = 2000 if quick else 10000
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)  # rendering is Pillow + NumPy on one core; keep torch from helping
    try:
        t0 = time.perf_counter()
        world.dataset("train", n)
        seconds = time.perf_counter() - t0
    finally:
        torch.set_num_threads(torch_threads)
    return {"render_images_per_s": n / seconds}


def bench_projection(bundle, world: ShapesWorld) -> dict:
    emb = encode_images(bundle, world.dataset("all", 2000).images)  # (2000, D)
    out = {}
    t0 = time.perf_counter()
    project(emb, "pca")
    out["pca_seconds_2000"] = time.perf_counter() - t0
    for key in ("umap_seconds_2000_cold", "umap_seconds_2000_warm"):  # cold includes numba compiling UMAP
        t0 = time.perf_counter()
        project(emb, "umap")
        out[key] = time.perf_counter() - t0
    return out


def bench_prompt_update(bundle, world: ShapesWorld, quick: bool) -> dict:
    """prompt_update_ms: median time for PromptEffects to redraw after a prompt edit (mini model)."""
    from ..widgets import PromptEffects  # ipywidgets only when this benchmark runs

    data = world.dataset("test", 4)
    app = PromptEffects(bundle, {f"image {i}": data.images[i] for i in range(4)},
                        ["circle", "square", "triangle", "star", "cross"])
    times = []
    for i in range(5 if quick else 15):
        app.boxes[-1].value = f"my prompt {i}: a {{}}"  # what a student's Enter does
        times.append(app.last_update_ms)
    return {"prompt_update_ms": statistics.median(times)}
