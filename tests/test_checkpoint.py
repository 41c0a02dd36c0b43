import os
import pickle

import pytest
import torch

import clipviz as cv


def test_save_and_load_give_the_same_model(trained, world, tmp_path):
    bundle, _ = trained
    path = cv.save_checkpoint(bundle, tmp_path / "m.pt", note="test")
    loaded = cv.load_checkpoint(path, device="cpu")
    d = world.dataset("test", 8)
    assert torch.equal(cv.encode_images(bundle, d.images), cv.encode_images(loaded, d.images))
    assert torch.equal(cv.encode_texts(bundle, d.captions), cv.encode_texts(loaded, d.captions))
    assert loaded.config == bundle.config and loaded.name == bundle.name
    assert torch.load(path, weights_only=True)["metadata"] == {"note": "test"}


def test_a_crash_mid_write_keeps_the_old_checkpoint(trained, untrained, tmp_path, monkeypatch):
    path = tmp_path / "m.pt"
    cv.save_checkpoint(trained[0], path)
    good = path.read_bytes()

    def crash(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        cv.save_checkpoint(untrained, path)
    assert path.read_bytes() == good
    assert os.listdir(tmp_path) == ["m.pt"]  # no temporary file left behind


def test_missing_truncated_and_foreign_files(trained, tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m clipviz train"):
        cv.load_checkpoint(tmp_path / "absent.pt")
    path = cv.save_checkpoint(trained[0], tmp_path / "m.pt")
    data = open(path, "rb").read()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(cv.CheckpointError, match="truncated or corrupt"):
        cv.load_checkpoint(cut)
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    with pytest.raises(cv.CheckpointError, match="not a clipviz checkpoint|truncated or corrupt"):
        cv.load_checkpoint(text)
    foreign = tmp_path / "weights.pt"
    torch.save(trained[0].model.state_dict(), foreign)  # plain open_clip weights
    with pytest.raises(cv.CheckpointError, match="not a clipviz checkpoint.*load_clip"):
        cv.load_checkpoint(foreign)


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_load_refuses_code_in_a_file(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": "clipviz-checkpoint-v1", "payload": Evil()}, path, pickle_module=pickle)
    with pytest.raises(cv.CheckpointError, match="not a clipviz checkpoint"):
        cv.load_checkpoint(path)


def test_weights_that_do_not_fit_are_explained(trained, tmp_path):
    path = cv.save_checkpoint(trained[0], tmp_path / "m.pt")
    payload = torch.load(path, weights_only=True)
    payload["state_dict"].pop("logit_scale")
    torch.save(payload, path)
    with pytest.raises(cv.CheckpointError, match="do not fit"):
        cv.load_checkpoint(path)
