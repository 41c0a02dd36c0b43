"""Every notebook, run in JupyterLab in a real browser, the way a student sees it.

A JupyterLab server (tests/labserver.py) starts on 127.0.0.1 (a free port, a random token) over a temporary
copy of notebooks/, in fast mode and offline. Headless Chromium (Debian's /usr/bin/chromium, driven by
Playwright) opens each notebook, runs all cells, and checks what a student would see: no error in any cell,
every widget drawn, plotly figures drawn. In the start-here, prompt-effects and binding notebooks it types a
prompt and presses Enter, and the bars must change; in the training notebook it clicks Start, and the loss
curve must gain points, then Stop, and the training must end. It saves a screenshot of each notebook's main
widget to a temporary folder, or, with `python -m pytest tests/test_browser.py --update-screenshots`, to
docs/screenshots/ (the README shows them), and fails when a notebook's kernel peaks above 1.5 GB (Binder
gives 2 GB).

This is the one place the suite executes the notebooks: each runs once, top to bottom, in a fresh kernel,
two at a time (each in its own kernel and Chromium page), on a temporary copy, so nothing it writes
(chapter 04's my_mini_clip.pt) lands in the checkout.

Needs: Debian's chromium (apt-get install -y chromium) and the pip package playwright; Linux (/proc).
"""
from __future__ import annotations

import os
import pathlib
import queue
import re
import shutil
import tempfile
import threading
import time
from concurrent.futures import Future

import nbformat
import pytest
from conftest import NOTEBOOKS, ROOT
from labserver import Lab, peak_memory_mb

SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TYPES_A_PROMPT = {"01_start_here.ipynb", "06_prompt_effects.ipynb",  # type a prompt, the bars must change
                  "09_binding.ipynb"}  # (in 09: the first caption, and the 2 x 2 matrices must change)
CLICKS_START = {"04_train_mini_clip.ipynb"}   # click Start, the loss must gain points; click Stop, training ends
PEAK_MEMORY_LIMIT_MB = 1536
PARALLEL = 2                  # notebooks running at once, each in its own kernel and Chromium page
LONGEST = {"04_train_mini_clip.ipynb", "09_binding.ipynb", "10_your_own_data.ipynb"}  # started first
RUN_ALL_TIMEOUT_S = 20 * 60   # a whole notebook in fast mode, on 2 busy CPU cores
WIDGET_TIMEOUT_S = 5 * 60     # a widget reacting to a prompt or a click

# What counts as an error in an output: an error output, a traceback anywhere, a widget that failed to draw.
FIND_PROBLEMS_JS = r"""() => {
  const problems = [];
  for (const out of document.querySelectorAll('.jp-OutputArea-output')) {
    const mime = out.getAttribute('data-mime-type') || '';
    const text = out.innerText || '';
    if (mime === 'application/vnd.jupyter.error' || /Traceback|Error displaying widget|\b\w+Error: /.test(text))
      problems.push(text.slice(0, 3000));
  }
  return problems;
}"""
UNDRAWN_FIGURES_JS = """() => [...document.querySelectorAll(
  '.jp-OutputArea-output[data-mime-type="application/vnd.plotly.v1+json"]')]
  .filter(out => !out.querySelector('.main-svg')).length"""  # plotly outputs (fig.show()) not drawn
# The plotly figures in (or at) an element, read from the plot divs the way plotly.js holds them.
PLOTS_IN = """(root) => [...(root.matches('.js-plotly-plot') ? [root] : []),
                          ...root.querySelectorAll('.js-plotly-plot')]"""
PLOT_DATA_JS = f"""(root) => ({PLOTS_IN})(root)
  .map(gd => JSON.stringify((gd.data || []).map(t => [t.type, t.x, t.y, t.text])))"""
POINTS_JS = f"""(root) => ({PLOTS_IN})(root)
  .flatMap(gd => gd._fullData || gd.data || []).reduce((n, t) => n + ((t.y && t.y.length) || 0), 0)"""
EVALUATIONS_JS = f"""(root) => ({PLOTS_IN})(root)
  .map(gd => (((gd.data || [])[1] || {{}}).y || []).length)[0] || 0"""  # the dashboard's seen-accuracy points


def wait_until(condition, timeout: float, what: str, every: float = 1.0):
    """Call condition() until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def run_all_cells(page, lab: Lab, notebook: str) -> str:
    """Open the notebook, wait for its kernel, run all cells from the Run menu, wait until they ran."""
    workspace = pathlib.Path(notebook).stem  # a fresh workspace each: no other notebook reopens beside it
    page.goto(f"{lab.url}/lab/workspaces/{workspace}/tree/notebooks/{notebook}?token={lab.token}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=180_000)
    kernel = wait_until(lambda: lab.kernel_id(notebook), 180, "the notebook's kernel to start")
    wait_until(lambda: lab.kernel_state(kernel) == "idle", 180, "the kernel to be ready")
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-item:not(.lm-mod-hidden) .lm-Menu-itemLabel",
                 has_text=re.compile(r"^Run All Cells$")).click()

    def finished():  # every code cell numbered (or an error stopped the run), and the kernel idle
        prompts = page.locator(".jp-CodeCell .jp-InputArea-prompt").all_inner_texts()
        numbered = all(re.search(r"\[\d+\]", p) for p in prompts)
        return (numbered or page.evaluate(FIND_PROBLEMS_JS)) and lab.kernel_state(kernel) == "idle"
    wait_until(finished, RUN_ALL_TIMEOUT_S, f"all cells of {notebook} to run", every=2)
    return kernel


def assert_student_view_is_clean(page, notebook: str):
    problems = page.evaluate(FIND_PROBLEMS_JS)
    assert not problems, f"{notebook} shows errors:\n\n" + "\n\n---\n\n".join(problems)
    wait_until(lambda: "Loading widget..." not in "".join(page.locator(".jp-OutputArea-output").all_inner_texts()),
               120, "every widget to finish loading (one still shows 'Loading widget...')")


def type_a_prompt(page, notebook: str):
    """Type a new prompt into the first prompt box like a student (click, select all, type, Enter)."""
    box = page.locator(".clipviz-prompt textarea, .clipviz-prompt input, textarea.clipviz-prompt, "
                       "input.clipviz-prompt").first
    box.wait_for(timeout=60_000)
    app = box.evaluate_handle("el => el.closest('.clipviz-app') || el.closest('.jp-Cell')")
    before = app.evaluate(PLOT_DATA_JS)
    assert before, f"{notebook}: no plotly figure next to the prompt box"
    old = box.input_value()
    prompt = "a drawing of a {}" if "{}" in old else "a small green triangle"
    box.click()

    def focused():  # JupyterLab may take the focus back to the notebook just after the click: click again
        if box.evaluate("el => el !== document.activeElement"):
            box.click()
            return False
        page.wait_for_timeout(300)
        return box.evaluate("el => el === document.activeElement")
    wait_until(focused, 60, f"{notebook}: the prompt box to keep the focus after a click", every=0.2)
    box.press("Control+a")
    box.type(prompt, delay=30)
    box.press("Enter")
    typed = box.input_value().rstrip("\n")  # Enter adds a line in a text area
    assert typed == prompt, f"{notebook}: typed {prompt!r}, but the prompt box holds {typed!r}"

    def redrawn():
        message = app.evaluate("el => [...el.querySelectorAll('.clipviz-message')].map(m => m.innerText).join(' ')")
        assert not message.strip(), f"{notebook}: after a new prompt the app says: {message}"
        return app.evaluate(PLOT_DATA_JS) != before
    wait_until(redrawn, WIDGET_TIMEOUT_S, f"{notebook}: the chart to change after a new prompt and Enter", every=0.5)


def click_start_then_stop(page, notebook: str):
    """Click the dashboard's Start: the loss curve must gain points, then two accuracy points. Then Stop:
    training must end early."""
    loss = page.locator(".clipviz-loss").first
    loss.wait_for(timeout=60_000)
    last = [loss.evaluate(POINTS_JS)]
    page.locator("button.clipviz-start, .clipviz-start button").first.click(timeout=WIDGET_TIMEOUT_S * 1000)

    def gained():
        last.append(loss.evaluate(POINTS_JS))
        return last[-1] > last[-2]
    wait_until(gained, WIDGET_TIMEOUT_S, f"{notebook}: the loss curve to gain points after Start", every=0.2)
    wait_until(lambda: loss.evaluate(EVALUATIONS_JS) >= 2, WIDGET_TIMEOUT_S,  # a third of the fast recipe
               f"{notebook}: two accuracy evaluations on the curves")
    page.locator("button.clipviz-stop, .clipviz-stop button").first.click(timeout=60_000)
    status = page.locator(".clipviz-status").first
    wait_until(lambda: re.search(r"stopped after \d+ steps", status.inner_text()), WIDGET_TIMEOUT_S,
               f"{notebook}: the status line to say the training stopped after Stop")
    wait_until(lambda: gained() is False and (time.sleep(2) or not gained()), 60,
               f"{notebook}: the loss curve to stop growing after Stop")


def screenshot(page, notebook: str, folder: pathlib.Path):
    """Save the notebook's main widget (or its first figure) as <folder>/<stem>.png."""
    for selector in (".clipviz-app", ".js-plotly-plot"):
        target = page.locator(selector).first
        if target.count():
            folder.mkdir(parents=True, exist_ok=True)
            target.scroll_into_view_if_needed()
            page.mouse.move(0, 0)  # no hover: plotly's toolbar hidden
            page.wait_for_timeout(500)  # let plotly finish its transition
            target.screenshot(path=folder / f"{pathlib.Path(notebook).stem}.png", animations="disabled")
            return


def open_chromium(playwright):
    assert os.path.exists(CHROMIUM), f"{CHROMIUM} is missing: apt-get install -y chromium"
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)


def run_notebook(lab: Lab, browser, notebook: str, shots: pathlib.Path) -> str:
    """Everything a student does with one notebook, in a new page of `browser` (a Playwright browser context).

    Returns a line for the log.
    """
    started = time.monotonic()
    page = browser.new_page()
    kernel = None
    try:
        kernel = run_all_cells(page, lab, notebook)
        assert_student_view_is_clean(page, notebook)
        cells = nbformat.read(ROOT / "notebooks" / notebook, as_version=4).cells
        code = "\n".join(cell.source for cell in cells if cell.cell_type == "code")
        if re.search(r"plotly|FigureWidget|\bplots\b|\bwidgets\b", code):  # the notebook makes figures
            wait_until(lambda: page.locator(".js-plotly-plot .main-svg").count(), 60, f"{notebook}: a figure drawn")
        wait_until(lambda: page.evaluate(UNDRAWN_FIGURES_JS) == 0, 60, f"{notebook}: every plotly output drawn")
        if notebook in TYPES_A_PROMPT:
            screenshot(page, notebook, shots)  # the app as it opens, before our prompt replaces the captions
            type_a_prompt(page, notebook)
        if notebook in CLICKS_START:
            click_start_then_stop(page, notebook)
        if notebook not in TYPES_A_PROMPT:
            screenshot(page, notebook, shots)  # after training, so the curves are drawn
        assert_student_view_is_clean(page, notebook)  # and still clean after the student's actions
        peak = peak_memory_mb(kernel)
        assert peak <= PEAK_MEMORY_LIMIT_MB, f"{notebook}: kernel peaked at {peak:.0f} MB > {PEAK_MEMORY_LIMIT_MB} MB"
        return f"{notebook}: kernel peak memory {peak:.0f} MB, {time.monotonic() - started:.0f} s"
    finally:
        page.close()
        if kernel:
            lab.shut_down(notebook)


class Runs:
    """Every chosen notebook's run in JupyterLab, PARALLEL at a time: `futures` is {notebook: Future}.

    conftest.py starts them as early as it can (at configure time when the command line asks for the browser
    tests by path and filters nothing, else once the tests are collected), so they go on beside collection and
    the other tests; every process then computes on one thread, so none waits for a core another holds. The
    browser tests run last, and each collects its notebook's result. A notebook spends much of its run waiting
    (a kernel starting, JupyterLab and plotly drawing), so the CPU stays busy. The longest start first.

    Each worker thread has its own Playwright and Chromium for all its notebooks (the sync API is not
    thread-safe, and one browser per worker saves a Chromium start per notebook); each notebook gets a new page.
    """

    def __init__(self, notebooks: list[str], shots: pathlib.Path | None):
        self.folder = pathlib.Path(tempfile.mkdtemp(prefix="clipviz-browser-"))
        shutil.copytree(ROOT / "notebooks", self.folder / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        self.shots = shots or self.folder / "screenshots"
        self.lab = Future()  # a server that fails to start fails every notebook
        order = sorted(notebooks, key=lambda name: name not in LONGEST)  # stable: the rest in chapter order
        self.futures = {notebook: Future() for notebook in order}
        self.queue = queue.SimpleQueue()
        for notebook in order:
            self.queue.put(notebook)
        self.threads = [threading.Thread(target=self._start_lab, name="jupyterlab", daemon=True)]
        self.threads += [threading.Thread(target=self._work, name=f"notebooks-{k}", daemon=True)
                         for k in range(PARALLEL)]
        for thread in self.threads:
            thread.start()

    def _start_lab(self):
        try:
            self.lab.set_result(Lab(self.folder, kernel_threads=max(1, (os.cpu_count() or 2) // PARALLEL)))
        except BaseException as err:  # pytest.fail raises a BaseException
            self.lab.set_exception(err)

    def _next(self) -> tuple[str, Future] | None:
        """The next notebook still wanted, marked running; None when there is none."""
        while True:
            try:
                notebook = self.queue.get_nowait()
            except queue.Empty:
                return None
            if self.futures[notebook].set_running_or_notify_cancel():
                return notebook, self.futures[notebook]

    def _work(self):
        """One worker: its own Playwright and Chromium, then notebook after notebook until none is left."""
        try:
            from playwright.sync_api import sync_playwright
            with sync_playwright() as p:
                chromium = open_chromium(p)
                try:
                    browser = chromium.new_context(viewport={"width": 1400, "height": 1800})
                    while (job := self._next()) is not None:
                        notebook, future = job
                        try:
                            future.set_result(run_notebook(self.lab.result(), browser, notebook, self.shots))
                        except BaseException as err:  # the notebook's own failure, raised by its test
                            future.set_exception(err)
                finally:
                    chromium.close()
        except BaseException as err:  # no Playwright or no Chromium: every notebook left fails with the reason
            if isinstance(err, ImportError):
                err = pytest.fail.Exception("playwright is missing: pip install -e '.[test]' (or pip install playwright)")
            while (job := self._next()) is not None:
                job[1].set_exception(err)

    def keep(self, notebooks: list[str]):
        """Cancel the runs not started yet of notebooks not in `notebooks` (collection deselected them)."""
        for notebook, future in self.futures.items():
            if notebook not in notebooks:
                future.cancel()

    def close(self):
        for future in self.futures.values():
            future.cancel()  # those not started; a running notebook finishes
        for thread in self.threads:
            thread.join()
        if self.lab.done() and self.lab.exception() is None:
            self.lab.result().stop()
        shutil.rmtree(self.folder, ignore_errors=True)


RUNS: Runs | None = None  # started by conftest.py, closed at the session's end


def start(config, notebooks: list[str]) -> Runs:
    """Start running `notebooks` in the background (conftest.py calls this)."""
    global RUNS
    RUNS = Runs(notebooks, SCREENSHOTS if config.getoption("--update-screenshots") else None)
    return RUNS


@pytest.fixture(scope="module")
def runs(request):
    return (RUNS or start(request.config, list(NOTEBOOKS))).futures


@pytest.mark.parametrize("notebook", NOTEBOOKS or [None])
def test_notebook_in_the_browser(runs, notebook):
    assert notebook, f"no notebooks in {ROOT / 'notebooks'}: there is nothing to open"
    print("\n" + runs[notebook].result())  # the notebook's own failure, if it had one, is raised here
