"""The chapters as Voilà apps: what voila.py (Voilà's settings in the repository root) leaves out of them.

Cells tagged voila-hide are left out of an app before its kernel runs, so they are not run either: a tagged cell
must bind no name that a kept cell after it reads. tests/test_browser.py opens chapters 01, 04 and 06 as apps in
a real Voilà; these checks cover every chapter, in a second, without a browser.
"""
import ast
import copy

import nbformat
import pytest
from conftest import NOTEBOOKS, ROOT, voila_hook
from IPython.core.inputtransformer2 import TransformerManager

HIDE = "voila-hide"  # voila.py's tag


def app_of(nb):
    """The notebook as its app shows it (voila.py's hook, on a copy)."""
    return voila_hook()(None, copy.deepcopy(nb), "")


def names(source: str) -> tuple[set[str], set[str]]:
    """(names a cell binds at its top level, names it reads anywhere) of a code cell (IPython syntax allowed)."""
    tree = ast.parse(TransformerManager().transform_cell(source))
    bound, read = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (bound if isinstance(node.ctx, ast.Store) else read).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return bound, read  # a function's local names count as bound: the check errs on the safe side


def test_the_app_leaves_out_the_tagged_cells_and_keeps_the_rest_in_order():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Title"),
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("print('scaffolding')", metadata={"tags": [HIDE]}),
        nbformat.v4.new_markdown_cell("An exercise", metadata={"tags": ["other", HIDE]}),
        nbformat.v4.new_code_cell("x", metadata={"tags": ["other"]}),
    ])
    assert [cell.source for cell in app_of(nb).cells] == ["# Title", "x = 1", "x"]


def test_markdown_images_become_img_tags_with_their_alt_text():
    """Voilà 0.5 as JupyterLab's extension fails on markdown images (voila-dashboards/voila#1473)."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
        "[![Open In Colab](https://colab.example/badge.svg)](https://colab.example/nb) and ![a & b](pic.png)")])
    assert app_of(nb).cells[0].source == ('[<img src="https://colab.example/badge.svg" alt="Open In Colab">]'
                                          '(https://colab.example/nb) and <img src="pic.png" alt="a &amp; b">')


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_every_cell_the_app_leaves_out_can_be_left_out(notebook):
    cells = nbformat.read(ROOT / "notebooks" / notebook, as_version=4).cells
    left_out = {}  # name -> the tagged cell that binds it
    for index, cell in enumerate(cells):
        if cell.cell_type != "code":
            continue
        bound, read = names(cell.source)
        if HIDE in cell.metadata.get("tags", []):
            left_out.update(dict.fromkeys(bound, index))
        else:
            missing = {name: left_out[name] for name in read if name in left_out}
            assert not missing, (f"{notebook}: cell {index} reads {sorted(missing)}, bound by cell(s) "
                                 f"{sorted(set(missing.values()))} tagged {HIDE!r}, which the app neither shows nor "
                                 f"runs: untag them, or move what cell {index} needs out of them")
            for name in bound:  # bound again by a kept cell: the cells after it read that
                left_out.pop(name, None)

