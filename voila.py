"""Voilà's settings for presenting the chapters as apps: no code, and no cell a lecturer does not need.

Voilà reads this file from the folder it starts in, both as `voila notebooks/06_prompt_effects.ipynb` and as
JupyterLab's extension (http://localhost:8888/voila/render/notebooks/06_prompt_effects.ipynb, and Binder's
`urlpath=voila/render/...`; binder/postBuild also copies it to ~/.jupyter): start either from the repository
root. Voilà hides every cell's code by itself (`VoilaConfiguration.strip_sources`, on by default).

Why a hook and not `c.TagRemovePreprocessor...`: JupyterLab's extension gives Voilà's exporter the Jupyter
server's own settings, not this file's, so preprocessor settings here would reach only the `voila` command.
The hook is this file's `VoilaConfiguration`, which both read. It runs before the kernel does, so a tagged
cell is left out, not run: tag only cells no later cell needs.
"""
import html
import re

if __name__ == "voila":  # imported as a module, not read as settings: this folder is on Python's path
    raise ImportError(f"{__file__} is Voilà's settings file, not the voila package. Python found it because the "
                      "repository root is on its path (`python -m ...` run there, or PYTHONPATH=.): start "
                      "`jupyter lab` or `voila` by their own commands")

from nbconvert.preprocessors import TagRemovePreprocessor

HIDE = "voila-hide"  # the cell tag that keeps a cell out of the app (outputs that would only distract)
MARKDOWN_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")  # ![alt](src)


def present(request, notebook, cwd):
    """The notebook as the app shows it: 1) the tagged cells left out, 2) markdown images as <img> tags."""
    notebook, _ = TagRemovePreprocessor(remove_cell_tags={HIDE}).preprocess(notebook, {})
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            # Voilà 0.5.13 as a Jupyter Server 2 extension fails on any markdown image, the Colab and Binder badges
            # included (voila-dashboards/voila#1473: it calls the async contents manager without awaiting it),
            # and the page never finishes loading. An <img> tag is not passed through that code.
            cell.source = MARKDOWN_IMAGE.sub(
                lambda m: f'<img src="{html.escape(m[2])}" alt="{html.escape(m[1])}">', cell.source)
    return notebook


c.VoilaConfiguration.prelaunch_hook = present  # noqa: F821 (`c` is the config object Voilà passes in)
