"""Retake the README's screenshots (docs/screenshots/*.png) from full-mode, trained notebooks:
`python tools/screenshots.py [CHAPTER ...]`, e.g. `python tools/screenshots.py 03 04`; no CHAPTER: all ten.

A build tool, not part of the runtime package. The browser test (tests/test_browser.py, with
`--update-screenshots`) takes its screenshots in fast mode (CLIPVIZ_FAST=1), where chapter 04's dashboard
stops after a few dozen steps with accuracy near zero. This tool takes them the way a student sees the chapters:
1) it starts the browser test's JupyterLab server (tests/labserver.py) in full mode (CLIPVIZ_FAST unset) and
   offline, over a temporary copy of notebooks/, so the checkout stays clean but for docs/screenshots/*.png;
2) for each chapter, headless Chromium (Debian's /usr/bin/chromium, driven by Playwright) opens the notebook
   and runs all cells, as the browser test does (`run_all_cells`), and fails on any error a cell shows;
3) every training dashboard on the page (an app with a Start button: chapter 04's TrainingDashboard, chapter
   09's HardNegativeDashboard) trains to its last step: the tool presses Start where the notebook did not, and
   waits until the status line says "finished after N steps" (Stop, divergence or an error fail the chapter);
4) it saves the main widget (the first .clipviz-app, else the first plotly figure) as docs/screenshots/<stem>.png,
   with the browser test's `screenshot`.

It prints each chapter's seconds and screenshot path, and exits non-zero when Chromium or Playwright is missing
or a chapter fails. Chapter 08 needs OpenCLIP's pretrained weights from the model hub; offline it runs on random
weights, and the tool says so. Full mode trains for real: on 2 CPU cores, chapters 04, 09 and 10 take many minutes.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import re
import shutil
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the browser test's helpers: labserver.py, test_browser.py, conftest.py

import pytest  # noqa: E402  (the helpers fail through pytest.fail)
from labserver import Lab  # noqa: E402
from test_browser import (CHROMIUM, NOTEBOOKS, POINTS_JS, SCREENSHOTS, UNDRAWN_FIGURES_JS,  # noqa: E402
                          assert_student_view_is_clean, open_chromium, run_all_cells, screenshot, wait_until)

TIMEOUT_S = 90 * 60  # one chapter in full mode, training included, on 2 busy CPU cores
VIEWPORT = {"width": 1400, "height": 1800}  # the browser test's page size, so the widgets are laid out alike
FINISHED = re.compile(r"\bfinished after \d+ steps")  # a dashboard's status line once training ran to its end
ENDED_EARLY = re.compile(r"\b(stopped|diverged|error|interrupted) after \d+ steps")  # Stop pressed, or it broke
RANDOM_WEIGHTS = "RANDOM weights"  # chapter 08's note when it could not download its pretrained weights


def chosen_notebooks(chapters: list[str]) -> list[str]:
    """The notebooks named on the command line ("03", "3", "03_contrastive_diagonal", or a file name); all if none."""
    chosen = []
    for chapter in chapters:
        prefix = f"{int(chapter):02d}_" if chapter.isdigit() else pathlib.Path(chapter).stem
        found = [name for name in NOTEBOOKS if name.startswith(prefix)]
        if not found:
            raise SystemExit(f"no chapter {chapter!r} in notebooks/; choose from: "
                             + ", ".join(name[:2] for name in NOTEBOOKS))
        chosen += [name for name in found if name not in chosen]
    return chosen or list(NOTEBOOKS)


def wait_until_drawn(page, notebook: str):
    """Every plotly figure on the page drawn: plain outputs (fig.show()) and FigureWidgets alike."""
    def drawn():
        plots = page.locator(".js-plotly-plot")
        return page.evaluate(UNDRAWN_FIGURES_JS) == 0 and page.locator(".js-plotly-plot .main-svg").count() >= \
            plots.count()
    wait_until(drawn, 120, f"{notebook}: every figure drawn")


def train_to_the_end(page, notebook: str, timeout: float) -> list[str]:
    """Every training dashboard on the page trained to its last step; returns their status lines.

    A dashboard is an app with a Start button. Where the notebook did not start it (chapter 04), press Start;
    where it did (chapter 09 calls dashboard.start() and waits), its status line already says "finished".
    """
    lines = []
    dashboards = page.locator(".clipviz-app:has(.clipviz-start)")
    for k in range(dashboards.count()):
        app = dashboards.nth(k)
        status = app.locator(".clipviz-status").first
        start = app.locator("button.clipviz-start, .clipviz-start button").first
        if not FINISHED.search(status.inner_text()) and start.is_enabled():
            start.click()
            wait_until(lambda: not start.is_enabled() or FINISHED.search(status.inner_text()), 120,
                       f"{notebook}: training to start after Start")
        ended = wait_until(lambda: FINISHED.search(status.inner_text()) or ENDED_EARLY.search(status.inner_text()),
                           timeout, f"{notebook}: its dashboard's training to finish", every=2)
        if not FINISHED.search(ended.group(0)):
            message = app.locator(".clipviz-message").first.inner_text()
            pytest.fail(f"{notebook}: training ended early: {status.inner_text()!r} {message}")
        counts = []

        def settled():  # the curves' last points have reached the page: two equal counts a second apart
            counts.append(app.evaluate(POINTS_JS))
            return len(counts) > 1 and counts[-1] == counts[-2]
        wait_until(settled, 60, f"{notebook}: the curves to stop changing")
        lines.append(" ".join(status.inner_text().split()))
    return lines


def take(lab: Lab, browser, notebook: str, folder: pathlib.Path, timeout: float) -> pathlib.Path:
    """Run `notebook` in a new page, train its dashboards, save its screenshot; return the PNG's path."""
    page = browser.new_page()
    try:
        run_all_cells(page, lab, notebook, timeout=timeout)
        assert_student_view_is_clean(page, notebook)
        wait_until_drawn(page, notebook)
        for line in train_to_the_end(page, notebook, timeout):
            print(f"  {notebook}: {line}")
        assert_student_view_is_clean(page, notebook)  # and no error after training
        wait_until_drawn(page, notebook)
        target = screenshot(page, notebook, folder)
        if target is None:
            pytest.fail(f"{notebook}: no .clipviz-app and no plotly figure to take a screenshot of")
        if RANDOM_WEIGHTS in "".join(page.locator(".jp-OutputArea-output").all_inner_texts()):
            marked = re.search(r"random weights|untrained", target.text_content() or "", re.IGNORECASE)
            print(f"  {notebook}: NOTE: the screenshot shows a model with RANDOM weights (its pretrained weights "
                  f"could not be downloaded offline); the widget in it {'says' if marked else 'does not say'} so")
        return folder / f"{pathlib.Path(notebook).stem}.png"
    finally:
        page.close()
        lab.shut_down(notebook)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("chapters", nargs="*", metavar="CHAPTER", help="e.g. 03 or 04_train_mini_clip (default: all)")
    parser.add_argument("--out", type=pathlib.Path, default=SCREENSHOTS, help="folder for the PNGs (%(default)s)")
    parser.add_argument("--timeout", type=float, default=TIMEOUT_S, help="seconds per chapter (%(default)s)")
    args = parser.parse_args(argv)
    notebooks = chosen_notebooks(args.chapters)
    if not os.path.exists(CHROMIUM):
        print(f"error: {CHROMIUM} is missing: apt-get install -y chromium", file=sys.stderr)
        return 2
    try:
        from playwright.sync_api import Error as PlaywrightError, sync_playwright
    except ImportError:
        print("error: playwright is missing: pip install -e '.[test]' (or pip install playwright)", file=sys.stderr)
        return 2

    folder = pathlib.Path(tempfile.mkdtemp(prefix="clipviz-screenshots-"))
    shutil.copytree(ROOT / "notebooks", folder / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    failed, lab = [], None
    try:
        lab = Lab(folder, kernel_threads=os.cpu_count() or 1, fast=False)
        print(f"JupyterLab in full mode (CLIPVIZ_FAST unset) over {folder}; {len(notebooks)} chapter(s)")
        with sync_playwright() as p:
            chromium = open_chromium(p)
            try:
                browser = chromium.new_context(viewport=VIEWPORT)
                for notebook in notebooks:
                    started = time.monotonic()
                    try:
                        path = take(lab, browser, notebook, args.out, args.timeout)
                        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
                        print(f"{notebook}: {time.monotonic() - started:.0f} s -> {shown}", flush=True)
                    except (AssertionError, pytest.fail.Exception, PlaywrightError) as err:
                        failed.append(notebook)
                        print(f"{notebook}: FAILED after {time.monotonic() - started:.0f} s, no screenshot:\n{err}",
                              file=sys.stderr, flush=True)
            finally:
                chromium.close()
    except pytest.fail.Exception as err:  # the server did not start
        print(f"error: {err}", file=sys.stderr)
        return 1
    finally:
        if lab is not None:
            lab.stop()
        shutil.rmtree(folder, ignore_errors=True)
    if failed:
        print(f"error: {len(failed)} chapter(s) failed: {', '.join(failed)} (their screenshots were left as they were)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
