"""clipviz's shipped models, photos and sketches, installed as the package data `clipviz.assets`.

This folder sits at the top of the repository and packaging maps it into the package
(pyproject.toml's [tool.setuptools.package-dir]): a wheel, `pip install .`, `pip install git+URL`
and `pip install -e .` all find it as `clipviz.assets`. Code asks `clipviz.checkpoint.ASSETS` where it is.
"""
