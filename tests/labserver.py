"""A JupyterLab server for the browser tests (tests/test_browser.py): a subprocess over a folder, in fast mode
and offline, with a random token on a free port of 127.0.0.1, and its REST API (sessions, kernels).
tools/screenshots.py starts it in full mode (fast=False) for the README's screenshots."""
from __future__ import annotations

import json
import os
import pathlib
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


class Lab:
    """A JupyterLab server in a subprocess, and its REST API.

    fast: True sets CLIPVIZ_FAST=1 for the kernels (the notebooks' short runs); False leaves it unset even where
    this process has it (conftest.py sets it), so the notebooks run their full recipes.
    """

    def __init__(self, root: pathlib.Path, kernel_threads: int = 1, fast: bool = True):
        self.root, self.token = root, secrets.token_hex(16)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        settings = root / ".lab" / "settings"
        (settings / "@jupyterlab" / "notebook-extension").mkdir(parents=True)
        # every cell stays in the page (no virtual scrolling), so every output can be read
        (settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings").write_text(
            json.dumps({"windowingMode": "none"}))
        (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True)
        (root / ".lab" / "tmp").mkdir()
        (settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        env = {**os.environ, "CLIPVIZ_FAST": "1", "HF_HUB_OFFLINE": "1",
               "JUPYTERLAB_SETTINGS_DIR": str(settings), "JUPYTERLAB_WORKSPACES_DIR": str(root / ".lab" / "ws"),
               "JUPYTER_RUNTIME_DIR": str(root / ".lab" / "runtime"),
               "TMPDIR": str(root / ".lab" / "tmp"),  # the notebooks' scratch folders (chapter 10's) go with the test's
               "OMP_NUM_THREADS": str(kernel_threads),
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        if not fast:
            del env["CLIPVIZ_FAST"]
        self.log = open(root / ".lab" / "server.log", "wb")
        # -E -P: the server reads neither PYTHONPATH nor its own folder (its kernels still get PYTHONPATH), where the
        # checkout's and the copy's voila.py (Voilà's settings, read from the folder the server starts in) would
        # stand in for the voila package; `-m jupyterlab`, as `-m jupyter lab` starts jupyter-lab without the flags
        self.process = subprocess.Popen(
            [sys.executable, "-E", "-P", "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
             f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
             f"--ServerApp.root_dir={root}", "--ServerApp.allow_root=True", "--LabApp.news_url=None",
             "--VoilaConfiguration.show_tracebacks=True"],  # an app's failing cell shows its traceback, not a notice
            stdout=self.log, stderr=subprocess.STDOUT, env=env, cwd=root)
        deadline = time.monotonic() + 180
        while True:
            try:
                self.api("status")
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    log = (root / ".lab" / "server.log").read_text(errors="replace")[-5000:]
                    pytest.fail(f"JupyterLab did not start:\n{log}")
                time.sleep(0.5)

    def api(self, path: str, method: str = "GET"):
        request = urllib.request.Request(f"{self.url}/api/{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        return json.loads(body) if body else None

    def kernel_id(self, notebook: str) -> str | None:
        for session in self.api("sessions"):
            if session["path"] == f"notebooks/{notebook}" and session.get("kernel"):
                return session["kernel"]["id"]
        return None

    def kernel_state(self, kernel_id: str) -> str:
        return self.api(f"kernels/{kernel_id}")["execution_state"]

    def shut_down(self, notebook: str):
        for session in self.api("sessions"):
            if session["path"] == f"notebooks/{notebook}":
                self.api(f"sessions/{session['id']}", method="DELETE")

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def peak_memory_mb(kernel_id: str) -> float:
    """Peak resident memory (VmHWM) of the kernel process, found by its connection file kernel-<id>.json."""
    for proc in pathlib.Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and f"kernel-{kernel_id}.json".encode() in (proc / "cmdline").read_bytes():
                status = (proc / "status").read_text()
                return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024
        except (OSError, AttributeError):
            continue
    raise AssertionError(f"no process found for kernel {kernel_id}")
