"""The torchrun line `python -m clipviz export` prints runs as printed: the real torchrun, one CPU process.

The test takes the printed line and changes only what a CPU needs: one process (--gpus 1), fp32 (the
export's own --precision fp32), --device cpu, no data-loading workers, 256 pairs and one epoch. The
recipe, the CSV flags and where the checkpoint lands are the printed text. The checkpoint then comes
back through load_clip, as the printed `cv.load_clip(...)` line says. tests/test_export.py's round trip
runs the same trainer without torchrun and probes the model further; this test is about the launcher
and the line (torchrun >= 2.3 refused the line while it held `--logs`).
"""
import ast
import os
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import clipviz as cv
from clipviz.__main__ import main
from clipviz.folder import folder_dataset

from conftest import ROOT

CPU = {"--workers": "0", "--epochs": "1"}  # what the printed line cannot know: no GPU, a test's time


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun() -> str:
    """The torchrun installed with this interpreter's torch (the one on PATH may belong to another Python)."""
    beside = Path(sys.executable).with_name("torchrun")
    return str(beside) if beside.is_file() else shutil.which("torchrun")


def test_the_printed_torchrun_command_trains_and_loads_back(tmp_path, capsys):
    try:
        import open_clip_train.main  # noqa: F401  (pandas, webdataset, braceexpand come with the extra)
    except ImportError as err:
        pytest.skip(f"open_clip's trainer needs the scale extra: pip install -e '.[scale]' ({err})")
    had_logs = (ROOT / "logs").exists()
    # 1) what the export prints, as a student would copy it
    assert main(["export", "--n", "256", "--val", "32", "--out", str(tmp_path / "export"),
                 "--gpus", "1", "--precision", "fp32"]) == 0
    printed = capsys.readouterr().out.splitlines()
    command = next(line for line in printed if " && torchrun " in line)
    load_line = next(line for line in printed if "cv.load_clip(" in line)
    cd, line = command.split(" && ", 1)
    folder = Path(shlex.split(cd)[1])
    args = shlex.split(line)  # as the shell reads it: the quoting of "," and 'scale=(1.0,1.0)' included
    assert args[:4] == ["torchrun", "--nproc_per_node=1", "-m", "open_clip_train.main"]
    # 2) the CPU's changes, and nothing else
    run = list(args)
    for flag, value in CPU.items():
        run[run.index(flag) + 1] = value
    run += ["--device", "cpu"]
    assert {args[i - 1]: new for i, (old, new) in enumerate(zip(args, run)) if old != new} == CPU
    # 3) the real torchrun, from the folder the line cds into, on one thread
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TMPDIR": str(tmp_path),  # torchrun's own scratch files too
           "PET_MASTER_PORT": str(_free_port())}  # torchrun's --master-port; 29500 may be taken on a busy CI
    done = subprocess.run([_torchrun(), *run[1:]], cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    # 4) the checkpoint is where the printed load line says, for the epochs the run had
    call = ast.parse(load_line.split("in Python: ", 1)[1], mode="eval").body
    model_name = ast.literal_eval(call.args[0])
    promised = Path(ast.literal_eval(next(k.value for k in call.keywords if k.arg == "pretrained")))
    assert promised.name == f"epoch_{args[args.index('--epochs') + 1]}.pt"  # the printed line's epochs
    checkpoint = promised.with_name("epoch_1.pt")  # this run's one epoch
    assert checkpoint == folder / "logs" / args[args.index("--name") + 1] / "checkpoints" / "epoch_1.pt"
    assert checkpoint.is_file(), sorted(str(p.relative_to(folder)) for p in folder.rglob("*.pt"))
    assert (ROOT / "logs").exists() == had_logs  # nothing written into the checkout
    # 5) back into the kit, and it encodes
    bundle = cv.load_clip(model_name, pretrained=str(checkpoint), device="cpu", precision="fp32")
    trained = torch.load(checkpoint, map_location="cpu", weights_only=True)
    assert trained["epoch"] == 1
    state = {k.removeprefix("module."): v for k, v in trained["state_dict"].items()}
    assert torch.equal(bundle.model.visual.conv1.weight, state["visual.conv1.weight"])
    val = folder_dataset(folder / "val.csv")
    images, texts = cv.encode_images(bundle, val.images), cv.encode_texts(bundle, val.captions)
    assert images.shape == texts.shape == (32, 64)
    assert torch.allclose(images.norm(dim=-1), torch.ones(32), atol=1e-5)
    assert torch.isfinite(cv.similarity_matrix(images, texts)).all()
