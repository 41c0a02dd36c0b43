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

The same server also serves chapters 01, 04 and 06 as Voilà apps, the way a lecturer presents them
(/voila/render/..., with the repository's voila.py): no code may show, the cells tagged voila-hide are left
out, the app must open with the figures the notebook shows in JupyterLab, a typed prompt or a click on Start
must change a figure, no output may show an error, and the page may throw or log no JavaScript error but two
from outside the kit (`js_errors` says which, and whose).

After each notebook ran in JupyterLab, and in each app, axe-core (axe-playwright-python) scans the cell
outputs, the kit's own widgets, figures and text, and fails on any "serious" or "critical" violation; JupyterLab's
own interface is left out (`AXE_CONTEXT`).

This is the one place the suite executes the notebooks: each runs once, top to bottom, in a fresh kernel,
two at a time (each in its own kernel and Chromium page), on a temporary copy, so nothing it writes
(chapter 04's my_mini_clip.pt) lands in the checkout; an app runs its own copy, in another folder of it.

Needs: Debian's chromium (apt-get install -y chromium), the pip packages playwright, voila and
axe-playwright-python (the test extra); Linux (/proc).
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
import urllib.error
from concurrent.futures import Future

import nbformat
import pytest
from conftest import APPS, BROWSER_RUNS, NOTEBOOKS, ROOT, VOILA, voila_hook
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
LONGEST = {"04_train_mini_clip.ipynb", "09_binding.ipynb", "10_your_own_data.ipynb",  # started first
           VOILA + "04_train_mini_clip.ipynb"}
RUN_ALL_TIMEOUT_S = 20 * 60   # a whole notebook in fast mode, on 2 busy CPU cores
WIDGET_TIMEOUT_S = 5 * 60     # a widget reacting to a prompt or a click
APP_FOLDER = "app"            # the apps run their own copy of notebooks/, app/notebooks/ under the server's root
# What a lecturer must not see in an app: a code cell's input (Voilà leaves it out) or an editor
CODE_SELECTOR = ".jp-CodeCell .jp-InputArea, .jp-CodeCell .highlight, .jp-InputArea-editor, .cm-editor, .CodeMirror"
# axe-core scans the cell outputs only: every widget, figure and printed text the kit shows, in JupyterLab and in
# Voilà alike. JupyterLab's own interface (menus, toolbars, side panels, tabs, cell editors and prompts, markdown
# cells) lies outside every .jp-OutputArea-output, so it is left out; so is Voilà's page around the outputs.
# Pictures the chapters show go through clipviz.Pictures (ImageTextPairs.show), whose <img> tags carry the caption as
# alt text, so the scan allows no image-alt exception: a bare PIL picture (JupyterLab's renderer sets no alt) fails it.
AXE_CONTEXT = {"include": [".jp-OutputArea-output"]}

AXE_FAILS_ON = ("serious", "critical")  # axe's impacts: minor, moderate, serious, critical

# What counts as an error in an output: an error output, a traceback anywhere, a widget that failed to draw.
FIND_PROBLEMS_JS = r"""() => {
  const problems = [];
  for (const out of document.querySelectorAll('.jp-OutputArea-output')) {
    const mime = out.getAttribute('data-mime-type') || '';
    const text = out.innerText || '';
    if (mime === 'application/vnd.jupyter.error' ||
        /Traceback|Error displaying widget|\b\w+Error: |There was an error when executing cell/.test(text))
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


OPENED: dict[str, list[str]] = {}  # run -> the figures of its notebook's first app as it opened (APPS only)


def wait_until(condition, timeout: float, what: str, every: float = 1.0):
    """Call condition() until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def run_all_cells(page, lab: Lab, notebook: str, timeout: float = RUN_ALL_TIMEOUT_S) -> str:
    """Open the notebook, wait for its kernel, run all cells from the Run menu, wait until they ran (at most
    `timeout` seconds)."""
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
    wait_until(finished, timeout, f"all cells of {notebook} to run", every=2)
    return kernel


# Axis labels that stick out of their figure, where the page cuts them off ("...left" for "a large red star on the
# left"): each as "figure i: label text".
CLIPPED_LABELS_JS = f"""() => ({PLOTS_IN})(document.body).flatMap((gd, i) => {{
  const box = gd.querySelector('.main-svg').getBoundingClientRect();
  return [...gd.querySelectorAll('.xtick text, .ytick text')]
    .filter(t => {{ const r = t.getBoundingClientRect();
                   return r.width > 0 && (r.left < box.left - 1 || r.right > box.right + 1); }})
    .map(t => `figure ${{i}}: ${{t.textContent}}`); }})"""


def assert_labels_are_whole(page, notebook: str):
    clipped = page.evaluate(CLIPPED_LABELS_JS)
    assert not clipped, f"{notebook}: axis labels cut off at the figure's edge: {clipped[:5]}"


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


def figures_as_opened(page) -> list[str]:
    """The data of the figures in the page's first app, once it holds still (the same twice, a second apart)."""
    app, last = page.locator(".clipviz-app").first, [None]

    def still():
        now, before = app.evaluate(PLOT_DATA_JS), last[0]
        last[0] = now
        return now if now == before else None
    return wait_until(still, 60, "the app's figures to hold still")


def click_start_then_stop(page, notebook: str, evaluations: int = 2):
    """Click the dashboard's Start: the loss curve must gain points, then `evaluations` accuracy points. Then Stop:
    training must end early."""
    loss = page.locator(".clipviz-loss").first
    loss.wait_for(timeout=60_000)
    last = [loss.evaluate(POINTS_JS)]
    page.locator("button.clipviz-start, .clipviz-start button").first.click(timeout=WIDGET_TIMEOUT_S * 1000)

    def gained():
        last.append(loss.evaluate(POINTS_JS))
        return last[-1] > last[-2]
    wait_until(gained, WIDGET_TIMEOUT_S, f"{notebook}: the loss curve to gain points after Start", every=0.2)
    wait_until(lambda: loss.evaluate(EVALUATIONS_JS) >= evaluations, WIDGET_TIMEOUT_S,  # 2: a third of the fast recipe
               f"{notebook}: {evaluations} accuracy evaluations on the curves")
    page.locator("button.clipviz-stop, .clipviz-stop button").first.click(timeout=60_000)
    status = page.locator(".clipviz-status").first
    wait_until(lambda: re.search(r"stopped after \d+ steps", status.inner_text()), WIDGET_TIMEOUT_S,
               f"{notebook}: the status line to say the training stopped after Stop")
    wait_until(lambda: gained() is False and (time.sleep(2) or not gained()), 60,
               f"{notebook}: the loss curve to stop growing after Stop")


def screenshot(page, notebook: str, folder: pathlib.Path):
    """Save the notebook's main widget (or its first figure) as <folder>/<stem>.png; return that element (a
    Playwright Locator), or None when the page has neither."""
    for selector in (".clipviz-app", ".js-plotly-plot"):
        target = page.locator(selector).first
        if target.count():
            folder.mkdir(parents=True, exist_ok=True)
            target.scroll_into_view_if_needed()
            page.mouse.move(0, 0)  # no hover: plotly's toolbar hidden
            page.wait_for_timeout(500)  # let plotly finish its transition
            target.screenshot(path=folder / f"{pathlib.Path(notebook).stem}.png", animations="disabled")
            return target
    return None


def assert_accessible(page, where: str):
    """axe-core's serious and critical violations in the page's cell outputs (AXE_CONTEXT), one line per element:
    rule, impact, the element's selector, what to fix."""
    from axe_playwright_python.sync_playwright import Axe
    results = Axe().run(page, context=AXE_CONTEXT, options={"resultTypes": ["violations"]}).response
    problems = [f"{rule['id']} ({rule['impact']}): {rule['help']}\n    at {' > '.join(node['target'])}\n    "
                + node.get("failureSummary", "").replace("\n", "\n    ")
                for rule in results["violations"] if rule["impact"] in AXE_FAILS_ON for node in rule["nodes"]]
    assert not problems, f"{where}: {len(problems)} serious or critical accessibility problems (axe-core " \
                         f"{results['testEngine']['version']}):\n" + "\n".join(problems)


def js_errors(page, lab: Lab) -> list[str]:
    """The list the page's JavaScript errors go to from now on: thrown (pageerror) or logged (console.error).

    Two come from outside the kit, each left out by its exact message and source:
    1) "r.setData is not a function", thrown by plotly's renderer for plain figures (jupyterlab-plotly, for a cell
       that ends in a go.Figure), in Voilà only. Voilà 0.5's render-outputs plugin hands each output's JSON to the
       renderer as its model, where JupyterLab hands a MimeModel; after drawing the figure, plotly's renderer keeps
       a PNG of it in the notebook with model.setData(...), which the JSON lacks. The figure is drawn; only that
       copy fails. A notebook of one cell, go.Figure(go.Bar(y=[1, 2])), throws it too. It is Voilà's: its
       outputs' models lack the setData of JupyterLab's IMimeModel.
    2) "Failed to load resource" for addresses outside the test's server: the test runs offline, and Voilà's page
       links Font Awesome (cdn.jsdelivr.net) and MathJax (cdnjs.cloudflare.com), the chapters their Colab and
       Binder badges (images on colab.research.google.com and mybinder.org).
    """
    errors = []

    def thrown(error):
        if error.message == "r.setData is not a function" and "/jupyterlab-plotly/" in (error.stack or ""):
            return  # 1)
        errors.append(f"thrown: {error.stack or error.message}")

    def logged(message):
        url = (message.location or {}).get("url", "")
        if message.type != "error" or (message.text.startswith("Failed to load resource") and
                                       not url.startswith(lab.url)):
            return  # 2)
        errors.append(f"console.error: {message.text} (at {url})")

    page.on("pageerror", thrown)
    page.on("console", logged)
    return errors


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
        if notebook in APPS:  # what its app in Voilà must open with too (test_app_in_voila)
            OPENED[notebook] = figures_as_opened(page)
        if notebook in TYPES_A_PROMPT:
            screenshot(page, notebook, shots)  # the app as it opens, before our prompt replaces the captions
            type_a_prompt(page, notebook)
        if notebook in CLICKS_START:
            click_start_then_stop(page, notebook)
        if notebook not in TYPES_A_PROMPT:
            screenshot(page, notebook, shots)  # after training, so the curves are drawn
        assert_student_view_is_clean(page, notebook)  # and still clean after the student's actions
        assert_labels_are_whole(page, notebook)  # every figure's axis labels readable in full
        peak = peak_memory_mb(kernel)
        assert peak <= PEAK_MEMORY_LIMIT_MB, f"{notebook}: kernel peaked at {peak:.0f} MB > {PEAK_MEMORY_LIMIT_MB} MB"
        assert_accessible(page, f"{notebook} in JupyterLab")
        return f"{notebook}: kernel peak memory {peak:.0f} MB, {time.monotonic() - started:.0f} s"
    finally:
        page.close()
        if kernel:
            lab.shut_down(notebook)


def run_app(lab: Lab, browser, notebook: str) -> str:
    """The chapter as a lecturer presents it: a Voilà app from the same server, in a new page of `browser`.

    Returns a line for the log.
    """
    started = time.monotonic()
    page = browser.new_page()
    errors = js_errors(page, lab)
    kernel = None
    try:
        page.goto(f"{lab.url}/voila/render/{APP_FOLDER}/notebooks/{notebook}?token={lab.token}", wait_until="commit")
        # Voilà sends the page while its kernel runs every cell, and shows the cells when all have run
        page.wait_for_selector("#rendered_cells", state="visible", timeout=RUN_ALL_TIMEOUT_S * 1000)
        kernel = page.evaluate("() => JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId")
        loaded = time.monotonic() - started
        shown = voila_hook()(None, nbformat.read(ROOT / "notebooks" / notebook, as_version=4), "").cells
        assert page.locator("[cell-index]").count() == len(shown), \
            f"{notebook}: the app shows {page.locator('[cell-index]').count()} cells, voila.py leaves {len(shown)}"
        code = page.locator(CODE_SELECTOR)
        assert not code.count(), f"{notebook}: the app shows code: {code.first.inner_text()[:300]!r}"
        assert "import clipviz" not in page.inner_text("#rendered_cells"), f"{notebook}: the app shows code"
        wait_until(lambda: page.locator(".js-plotly-plot .main-svg").count(), 120, f"{notebook}: a figure drawn")
        assert_student_view_is_clean(page, notebook)
        OPENED[VOILA + notebook] = figures_as_opened(page)
        if notebook in TYPES_A_PROMPT:
            type_a_prompt(page, notebook)
        if notebook in CLICKS_START:
            click_start_then_stop(page, notebook, evaluations=0)  # the curves redraw; JupyterLab's run waits for more
        assert_student_view_is_clean(page, notebook)
        assert not errors, f"{notebook} in Voilà: JavaScript errors:\n" + "\n".join(errors)
        peak = peak_memory_mb(kernel)
        assert peak <= PEAK_MEMORY_LIMIT_MB, f"{notebook}: kernel peaked at {peak:.0f} MB > {PEAK_MEMORY_LIMIT_MB} MB"
        assert_accessible(page, f"{notebook} in Voilà")
        return (f"{notebook} as an app: shown after {loaded:.0f} s, kernel peak memory {peak:.0f} MB, "
                f"{time.monotonic() - started:.0f} s")
    except BaseException as err:
        if errors:  # they may explain the failure
            err.add_note(f"{notebook} in Voilà: JavaScript errors until then:\n" + "\n".join(errors))
        raise
    finally:
        page.close()
        if kernel:
            try:
                lab.api(f"kernels/{kernel}", method="DELETE")
            except urllib.error.HTTPError as err:  # 404: Voilà shut it down when the page closed
                if err.code != 404:
                    raise


class Runs:
    """Every chosen browser run, PARALLEL at a time: `futures` is {run: Future}, where a run is a notebook's name
    (the notebook in JupyterLab) or VOILA + its name (its app in Voilà).

    conftest.py starts them as early as it can (at configure time when the command line asks for the browser
    tests by path and filters nothing, else once the tests are collected), so they go on beside collection and
    the other tests; every process then computes on one thread, so none waits for a core another holds. The
    browser tests run last, and each collects its notebook's result. A notebook spends much of its run waiting
    (a kernel starting, JupyterLab and plotly drawing), so the CPU stays busy. The longest start first.

    Each worker thread has its own Playwright and Chromium for all its notebooks (the sync API is not
    thread-safe, and one browser per worker saves a Chromium start per notebook); each notebook gets a new page.
    """

    def __init__(self, runs: list[str], shots: pathlib.Path | None):
        self.folder = pathlib.Path(tempfile.mkdtemp(prefix="clipviz-browser-"))
        for notebooks in (self.folder / "notebooks", self.folder / APP_FOLDER / "notebooks"):
            shutil.copytree(ROOT / "notebooks", notebooks, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        shutil.copy(ROOT / "voila.py", self.folder)  # Voilà's settings, read from the folder the server starts in
        self.shots = shots or self.folder / "screenshots"
        self.lab = Future()  # a server that fails to start fails every run
        order = sorted(runs, key=lambda run: run not in LONGEST)  # stable: the rest in chapter order, then the apps
        self.futures = {run: Future() for run in order}
        self.queue = queue.SimpleQueue()
        for run in order:
            self.queue.put(run)
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
        """The next run still wanted, marked running; None when there is none."""
        while True:
            try:
                run = self.queue.get_nowait()
            except queue.Empty:
                return None
            if self.futures[run].set_running_or_notify_cancel():
                return run, self.futures[run]

    def _work(self):
        """One worker: its own Playwright and Chromium, then run after run until none is left."""
        try:
            from playwright.sync_api import sync_playwright
            with sync_playwright() as p:
                chromium = open_chromium(p)
                try:
                    browser = chromium.new_context(viewport={"width": 1400, "height": 1800})
                    while (job := self._next()) is not None:
                        run, future = job
                        try:
                            if run.startswith(VOILA):
                                future.set_result(run_app(self.lab.result(), browser, run.removeprefix(VOILA)))
                            else:
                                future.set_result(run_notebook(self.lab.result(), browser, run, self.shots))
                        except BaseException as err:  # the run's own failure, raised by its test
                            future.set_exception(err)
                finally:
                    chromium.close()
        except BaseException as err:  # no Playwright or no Chromium: every notebook left fails with the reason
            if isinstance(err, ImportError):
                err = pytest.fail.Exception("playwright is missing: pip install -e '.[test]' (or pip install playwright)")
            while (job := self._next()) is not None:
                job[1].set_exception(err)

    def keep(self, runs: list[str]):
        """Cancel the runs not started yet that are not in `runs` (collection deselected them)."""
        for run, future in self.futures.items():
            if run not in runs:
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


def start(config, runs: list[str]) -> Runs:
    """Start `runs` (notebooks, and VOILA + notebook for apps) in the background (conftest.py calls this)."""
    global RUNS
    RUNS = Runs(runs, SCREENSHOTS if config.getoption("--update-screenshots") else None)
    return RUNS


@pytest.fixture(scope="module")
def runs(request):
    return (RUNS or start(request.config, list(BROWSER_RUNS))).futures


@pytest.mark.parametrize("notebook", NOTEBOOKS or [None])
def test_notebook_in_the_browser(runs, notebook):
    assert notebook, f"no notebooks in {ROOT / 'notebooks'}: there is nothing to open"
    print("\n" + runs[notebook].result())  # the notebook's own failure, if it had one, is raised here


@pytest.mark.parametrize("notebook", APPS or [None])
def test_app_in_voila(runs, notebook):
    assert notebook, "chapters 01, 04 and 06 are missing from notebooks/: there is no app to open"
    print("\n" + runs[VOILA + notebook].result())  # the app's own failure, if it had one, is raised here
    lab_run = runs.get(notebook)  # the notebook in JupyterLab, when its test is selected too
    if lab_run is not None and not lab_run.cancelled() and lab_run.exception() is None:
        lab, app = OPENED[notebook], OPENED[VOILA + notebook]
        assert app == lab, (f"{notebook}: the app opens with other figures than the notebook shows in JupyterLab "
                            f"(Voilà connects after every cell ran):\n  Voilà: {str(app)[:600]}\n  JupyterLab: "
                            f"{str(lab)[:600]}")
