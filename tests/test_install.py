"""clipviz installed as a student installs it: a wheel, outside this checkout, offline.

The shipped models, photos and sketches live in assets/ at the top of the checkout, which packaging
maps into the package as clipviz/assets/ (pyproject's package-dir; plain files, so a Windows clone
without symlinks works too). A plain `pip install` (a wheel, `pip install .` or `pip install git+URL`,
which build the same wheel from a clone) and an sdist must carry them, and code must find them
installed, editable or from a checkout with no install at all. The Python versions the kit claims are
written in three places, which must agree.
"""
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tarfile
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
                  "sketches": len(cv.load_photos("sketch")), "dim": int(dim),
                  "photo_dir": str(cv.photos.PHOTO_DIR), "mixed": (cv.ASSETS / "mini_clip_shapes_mixed.pt").is_file()}))
"""
WHERE_ASSETS = """
import importlib.util, clipviz as cv
print(importlib.util.find_spec("clipviz.assets") is not None); print(cv.__file__); print(cv.ASSETS); print(cv.photos.PHOTO_DIR)
"""
PACKAGE_FILES = ("pyproject.toml", "README.md", "requirements.txt", "clipviz", "assets")  # what a build reads


def copy_sources(folder: pathlib.Path) -> pathlib.Path:
    """The files a build reads, copied out of the checkout (which builds would otherwise litter)."""
    folder.mkdir(exist_ok=True)
    for name in PACKAGE_FILES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / name, folder)
    return folder


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """A wheel built from a copy of the package's sources (the checkout itself is left untouched)."""
    source = copy_sources(tmp_path_factory.mktemp("source"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                    "-q", "-w", str(out), str(source)], check=True, capture_output=True, timeout=300)
    return next(out.glob("clipviz-*.whl"))


def test_the_wheel_carries_the_shipped_model_photos_and_configs(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for model in ("mini_clip_shapes.pt", "mini_clip_shapes_mixed.pt"):  # assets/ lands inside the package
        assert f"clipviz/assets/{model}" in names
    assert not [n for n in names if n.startswith("assets/")], "assets/ must install inside clipviz, not beside it"
    photos = {n.rsplit("/", 1)[1] for n in names if n.startswith("clipviz/assets/photos/")}
    expected = {p.name for p in (ROOT / "assets" / "photos").iterdir()}
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
    assert result["shipped"].startswith(str(target)) and result["photo_dir"].startswith(str(target))
    assert result["photos"] == result["sketches"] == 8 and result["dim"] > 0 and result["mixed"]


def test_the_sdist_carries_the_assets(tmp_path):
    """An sdist (what PyPI would get, and what a wheel is built from there) holds assets/ as it is in the checkout."""
    source, out = copy_sources(tmp_path / "source"), tmp_path / "sdist"
    build = "import sys; from setuptools import build_meta; build_meta.build_sdist(sys.argv[1])"
    done = subprocess.run([sys.executable, "-c", build, str(out)], cwd=source, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    with tarfile.open(next(out.glob("clipviz-*.tar.gz"))) as sdist:
        names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    expected = {p.relative_to(ROOT).as_posix() for p in (ROOT / "assets").rglob("*")
                if p.is_file() and "__pycache__" not in p.parts}
    assert expected <= names, f"missing from the sdist: {sorted(expected - names)}"


def test_the_packages_listed_in_pyproject_are_all_of_clipviz():
    """package-dir (assets/ -> clipviz.assets) rules out packages.find, so pyproject lists the packages by hand."""
    from setuptools import find_namespace_packages

    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = find_namespace_packages(str(ROOT), include=["clipviz*"], exclude=["*__pycache__"])
    found += ["clipviz.assets"] + [f"clipviz.assets.{p}" for p in find_namespace_packages(str(ROOT / "assets"),
                                                                                         exclude=["*__pycache__"])]
    assert sorted(setuptools["packages"]) == sorted(found), "every folder of clipviz and assets/ is a package"
    assert setuptools["package-dir"] == {"clipviz.assets": "assets"}


def where_the_assets_are(*python_args, env=None, cwd):
    done = subprocess.run([sys.executable, *python_args, "-c", WHERE_ASSETS], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    mapped, *paths = done.stdout.strip().splitlines()[-4:]
    return mapped == "True", *map(pathlib.Path, paths)


def test_a_checkout_finds_assets_at_the_top_level_with_or_without_installing(tmp_path):
    """`pip install -e .` (the README's install; its editable finder maps clipviz.assets to assets/) and a
    checkout with no install at all (PYTHONPATH=., site-packages read without their .pth files) both use assets/."""
    import clipviz as cv

    if not pathlib.Path(cv.__file__).resolve().is_relative_to(ROOT):
        pytest.skip("clipviz is not imported from this checkout")
    assets = ROOT / "assets"
    assert cv.ASSETS.resolve() == assets and cv.photos.PHOTO_DIR.resolve() == assets / "photos"  # as the tests run
    folders = [str(ROOT)] + [p for p in sys.path if p and os.path.isdir(p)]  # this Python's packages, clipviz aside
    bare = dict(os.environ, PYTHONPATH=os.pathsep.join(folders))
    mapped, module, found, photos = where_the_assets_are("-S", env=bare, cwd=tmp_path)  # -S: no editable finder
    assert not mapped, "no clipviz.assets without an install: the fallback to assets/ beside the package is tested"
    assert module.resolve().is_relative_to(ROOT) and found.resolve() == assets and photos.resolve() == assets / "photos"


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
