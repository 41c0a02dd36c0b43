"""clipviz installed as a student installs it: a wheel, outside this checkout, offline.

The shipped model and the photos are package data (clipviz/assets/), so a plain `pip install`
(a wheel, `pip install .` or `pip install git+URL`) must carry them. The Python versions the kit
claims are written in three places, which must agree.
"""
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = pathlib.Path(__file__).resolve().parent.parent

# The installed clipviz, run from a folder with no checkout in sight: the shipped model and photos load.
USE_INSTALLED = """
import json, clipviz as cv
bundle = cv.load_checkpoint(cv.SHIPPED, device="cpu")
dim = cv.encode_texts(bundle, ["a red circle"]).shape[1]
print(json.dumps({"module": cv.__file__, "shipped": str(cv.SHIPPED), "photos": len(cv.load_photos()),
                  "sketches": len(cv.load_photos("sketch")), "dim": int(dim)}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """A wheel built from a copy of the package's sources (the checkout itself is left untouched)."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md", "requirements.txt"):
        shutil.copy(ROOT / name, source)
    shutil.copytree(ROOT / "clipviz", source / "clipviz", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                    "-q", "-w", str(out), str(source)], check=True, capture_output=True, timeout=300)
    return next(out.glob("clipviz-*.whl"))


def test_the_wheel_carries_the_shipped_model_photos_and_configs(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "clipviz/assets/mini_clip_shapes.pt" in names
    photos = {n.rsplit("/", 1)[1] for n in names if n.startswith("clipviz/assets/photos/")}
    expected = {p.name for p in (ROOT / "clipviz" / "assets" / "photos").iterdir()}
    assert photos == expected, f"missing from the wheel: {sorted(expected - photos)}"
    assert {n for n in names if n.startswith("clipviz/model_configs/")} == {
        f"clipviz/model_configs/{p.name}" for p in (ROOT / "clipviz" / "model_configs").glob("*.json")}


def test_an_installed_wheel_works_outside_the_checkout_offline(wheel, tmp_path):
    target, elsewhere = tmp_path / "site", tmp_path / "elsewhere"
    elsewhere.mkdir()
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target",
                    str(target), str(wheel)], check=True, capture_output=True, timeout=300)
    env = dict(os.environ, PYTHONPATH=str(target), HF_HUB_OFFLINE="1")
    done = subprocess.run([sys.executable, "-c", USE_INSTALLED], cwd=elsewhere, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["module"].startswith(str(target)), "imported the checkout, not the installed wheel"
    assert result["shipped"].startswith(str(target))
    assert result["photos"] == result["sketches"] == 8 and result["dim"] > 0


def test_a_missing_shipped_model_says_to_reinstall_not_to_train_into_the_package(tmp_path, monkeypatch):
    import clipviz as cv
    from clipviz import checkpoint

    assets = tmp_path / "site-packages" / "clipviz" / "assets"  # an installation that lost its package data
    monkeypatch.setattr(checkpoint, "ASSETS", assets)
    gone = assets / "mini_clip_shapes.pt"
    with pytest.raises(FileNotFoundError, match="(?i)reinstall clipviz") as err:
        cv.load_checkpoint(gone)
    assert "--out " + str(gone) not in str(err.value)


def python_versions():
    """(pyproject's requires-python, the README's claim, Binder's runtime.txt version)."""
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    claim = re.search(r"with Python (\d+\.\d+) or newer", (ROOT / "README.md").read_text())
    runtime = (ROOT / "binder" / "runtime.txt").read_text().strip()
    return requires, claim and claim.group(1), runtime.removeprefix("python-")


def test_the_python_versions_claimed_agree():
    requires, readme, binder = python_versions()
    assert readme, "README.md must say 'with Python X.Y or newer' in its Quickstart"
    assert requires == f">={readme}", f"pyproject says {requires}, the README Python {readme} or newer"
    supported = SpecifierSet(requires)
    assert Version(binder) in supported, f"binder/runtime.txt asks for {binder}, outside {requires}"
    assert Version(f"{sys.version_info.major}.{sys.version_info.minor}") in supported  # the tests run on one
    assert Version("3.12") in supported  # Colab's Python
