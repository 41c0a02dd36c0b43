"""Export for open_clip's trainer, and the round trip: export, train with open_clip_train, load back, probe."""
import json
import shlex
import sys

import open_clip
import pytest
import torch

import clipviz as cv
from clipviz.export import export_for_open_clip, open_clip_args, open_clip_command, train_with_open_clip
from clipviz.folder import folder_dataset
from clipviz.model import SHAPES_MEAN


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    return export_for_open_clip(tmp_path_factory.mktemp("export"), n=256, n_val=32, seed=0)


def test_export_writes_images_csvs_and_a_local_dir_model(export):
    assert len(list((export.folder / "images").glob("*.png"))) == 256 + 32
    lines = export.train_csv.read_text().splitlines()
    assert lines[0] == "filepath,title" and len(lines) == 257
    assert lines[1].startswith("images/train_000000.png,")
    saved = json.loads((export.model_dir / "open_clip_config.json").read_text())
    assert set(saved) == {"model_cfg", "preprocess_cfg"}
    name = f"local-dir:{export.model_dir}"
    assert open_clip.get_model_config(name) == open_clip.get_model_config("clipviz-tiny")
    assert open_clip.get_tokenizer(name).context_length == 16  # the kit's context, not open_clip's 77
    model, _, preprocess = open_clip.create_model_and_transforms(name)
    assert tuple(model.visual.preprocess_cfg["mean"]) == SHAPES_MEAN
    assert preprocess.transforms[0].size == 32


def test_the_command_scales_from_one_gpu_to_many(export):
    one, eight = open_clip_command(export, 1), open_clip_command(export, 8, batch_size=64)
    assert one.startswith(f"cd {export.folder} && torchrun --nproc_per_node=1 -m open_clip_train.main ")
    for flag in ("--model local-dir:model", "--train-data train.csv", "--val-data val.csv",
                 "--csv-img-key filepath", "--csv-caption-key title", '--csv-separator ","',
                 "--precision amp", "--batch-size 128", "--epochs 650",  # 1300 steps * 128 / 256 pairs
                 "--aug-cfg 'scale=(1.0,1.0)'"):  # no random crop, as cv.train
        assert flag in one, flag
    assert "--local-loss" not in one and "--gather-with-grad" not in one
    assert "--nproc_per_node=8" in eight and "--batch-size 64" in eight
    assert eight.endswith("--local-loss --gather-with-grad")
    with pytest.raises(ValueError, match="gpus"):
        open_clip_command(export, 0)


def test_bad_export_arguments_name_the_choices(tmp_path):
    with pytest.raises(ValueError, match="choose one of"):
        export_for_open_clip(tmp_path, 4, style="cartoon")
    with pytest.raises(ValueError, match="choose one of"):
        export_for_open_clip(tmp_path, 4, preset="huge")
    with pytest.raises(ValueError, match="at least 2"):
        export_for_open_clip(tmp_path, 1)


def test_the_printed_command_is_the_trainers_argument_list(export):
    """What train_with_open_clip runs (and the round trip tests) is what the printed line says."""
    folder, line = open_clip_command(export, 1, batch_size=16).split(" && ", 1)
    assert shlex.split(folder) == ["cd", str(export.folder)]
    args = shlex.split(line)
    assert args[:4] == ["torchrun", "--nproc_per_node=1", "-m", "open_clip_train.main"]
    assert args[4:] == open_clip_args(export, batch_size=16)
    assert args[args.index("--csv-separator") + 1] == ","


def test_round_trip_through_open_clip_train(export):
    try:
        import open_clip_train.main  # noqa: F401  (pandas, webdataset, braceexpand come with the extra)
    except ImportError as err:
        pytest.skip(f"open_clip's trainer needs the scale extra: pip install -e '.[scale]' ({err})")
    # 1) open_clip's trainer on the export, one CPU process, one epoch of 16 steps of 16 pairs
    checkpoint = train_with_open_clip(export, epochs=1, batch_size=16, device="cpu", timeout=120)
    assert checkpoint == export.folder / "logs" / "clipviz" / "checkpoints" / "epoch_1.pt"
    assert checkpoint.is_file()
    # 2) back into the kit: the exported config plus open_clip's checkpoint
    bundle = cv.load_clip(f"local-dir:{export.model_dir}", pretrained=str(checkpoint), device="cpu",
                          precision="fp32")
    trained = torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"]
    assert torch.equal(bundle.model.visual.conv1.weight, trained["visual.conv1.weight"])
    fresh = cv.mini_clip("tiny", seed=0, device="cpu")
    assert not torch.equal(bundle.model.visual.conv1.weight, fresh.model.visual.conv1.weight)
    # 3) encode, similarity and zero-shot on the pairs the trainer validated on
    val = folder_dataset(export.val_csv)
    images, texts = cv.encode_images(bundle, val.images), cv.encode_texts(bundle, val.captions)
    assert images.shape == texts.shape == (32, 64)
    assert torch.allclose(images.norm(dim=-1), torch.ones(32), atol=1e-5)
    sims = cv.similarity_matrix(images, texts)
    assert sims.shape == (32, 32) and torch.isfinite(sims).all()
    classifier = cv.zero_shot_classifier(bundle, ["circle", "square", "triangle", "star", "cross"],
                                         ["a {}", "a photo of a {}"])
    assert classifier.weights.shape == (64, 5) and len(classifier.predict(images)) == 32
    # 4) and it survives the kit's own checkpoint format
    path = cv.save_checkpoint(bundle, export.folder / "kit.pt")
    again = cv.load_checkpoint(path, device="cpu")
    assert torch.allclose(cv.encode_images(again, val.images), images, atol=1e-6)


def test_load_clip_reads_an_open_clip_train_checkpoint_without_the_trainer(export, tmp_path):
    """The format open_clip_train saves under DDP: {"epoch", "name", "state_dict" with "module." keys, ...}."""
    source = cv.mini_clip("tiny", seed=3, device="cpu")
    state = {f"module.{k}": v for k, v in source.model.state_dict().items()}
    torch.save({"epoch": 1, "name": "clipviz", "state_dict": state}, tmp_path / "epoch_1.pt")
    bundle = cv.load_clip(f"local-dir:{export.model_dir}", pretrained=tmp_path / "epoch_1.pt", device="cpu",
                          precision="fp32")
    assert torch.equal(bundle.model.token_embedding.weight, source.model.token_embedding.weight)
    assert bundle.context_length == 16 and bundle.config == source.config
    with pytest.raises(ValueError, match="no such weights file"):
        cv.load_clip(f"local-dir:{export.model_dir}", pretrained=str(tmp_path / "nope.pt"))


def test_without_the_extra_the_runner_names_it(export, monkeypatch):
    monkeypatch.setitem(sys.modules, "open_clip_train.main", None)  # as if not installed
    with pytest.raises(ImportError, match=r"clipviz\[scale\]"):
        train_with_open_clip(export)


def test_the_export_command_line_writes_the_folder_and_prints_the_command(tmp_path, capsys):
    from clipviz.__main__ import main
    assert main(["export", "--n", "8", "--val", "2", "--out", str(tmp_path / "out"), "--gpus", "2",
                 "--style", "sketch"]) == 0
    printed = capsys.readouterr().out
    assert "wrote 8 training and 2 validation pairs" in printed
    assert "torchrun --nproc_per_node=2 -m open_clip_train.main" in printed and "--gather-with-grad" in printed
    assert len(list((tmp_path / "out" / "images").glob("val_*.png"))) == 2
    assert (tmp_path / "out" / "model" / "open_clip_config.json").is_file()
    with pytest.raises(SystemExit):  # argparse names the valid styles
        main(["export", "--out", str(tmp_path), "--style", "cartoon"])
    assert "invalid choice: 'cartoon'" in capsys.readouterr().err
