"""The browser tests: a real Jupyter Notebook 6 server on 127.0.0.1 and headless Chromium driven
by Selenium (Debian's chromium, chromium-driver and python3-selenium; no network: the driver's
path is given, so Selenium Manager is never asked).

* ``notebook_server`` (module-wide): ``python3 -m notebook`` on a free port with a random token,
  its notebook directory a fresh tmp dir, its Jupyter config/data/runtime dirs private (so the
  notary's signatures are its own), the treadle kernelspec found through JUPYTER_PATH.
  ``bare_notebook_server``: the same without any kernelspec, with a notary of its own — a notebook
  opened there is untrusted and runs no kernel, as someone without treadle would see it.
* ``browser`` (per test): headless Chromium; quit after the test, and every kernel the test
  started is shut down before the leftover-process check of tests/conftest.py runs.
* ``open_and_run(path)`` opens a notebook (a path in the server's notebook dir), runs all its
  cells and waits until every code cell has run and the kernel is idle; a timeout or an error
  output fails with the cells' state and the browser's console log.
* ``screenshot(driver_or_element, name)`` saves build/screenshots/NAME.png.
"""

import importlib.util
import json
import os
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from tests.conftest import end_processes

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
JUPYTER_DIR = os.path.join(ROOT, "prefix", "share", "jupyter")
SCREENSHOTS = os.path.join(ROOT, "build", "screenshots")
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PYTHON = "/usr/bin/python3"   # Debian's: notebook 6 is an apt package there

_missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
if importlib.util.find_spec("selenium") is None:
    _missing.append("python3-selenium")
if _missing:
    pytest.skip("the browser tests need chromium, chromium-driver and python3-selenium "
                "(./setup.sh installs them); missing: " + ", ".join(_missing), allow_module_level=True)
if not os.path.exists(os.path.join(JUPYTER_DIR, "kernels", "treadle", "kernel.json")):
    pytest.skip("the treadle kernelspec is not installed (./setup.sh build)", allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import JavascriptException, TimeoutException, WebDriverException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402

SERVER_START_TIMEOUT = 30


# ---------------------------------------------------------------------------------------------
# The notebook server

def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NotebookServer:
    """A Jupyter Notebook 6 server process; ``url(path)`` gives the token-bearing address."""

    def __init__(self, folder, kernels=True):
        self.root = os.path.join(folder, "notebooks")
        home = os.path.join(folder, "jupyter")
        for d in (self.root, home):
            os.makedirs(d, exist_ok=True)
        self.token = os.urandom(16).hex()
        self.log_path = os.path.join(folder, "server.log")
        env = dict(os.environ)
        env.update(JUPYTER_CONFIG_DIR=os.path.join(home, "config"), JUPYTER_DATA_DIR=os.path.join(home, "data"),
                   JUPYTER_RUNTIME_DIR=os.path.join(home, "runtime"), IPYTHONDIR=os.path.join(home, "ipython"))
        args = ["--no-browser", "--ip=127.0.0.1", "--port-retries=0", "--notebook-dir=" + self.root,
                "--NotebookApp.token=" + self.token, "--NotebookApp.password=",
                "--NotebookApp.open_browser=False"]
        if os.geteuid() == 0:
            args.append("--allow-root")   # CI runs as root
        if kernels:
            env["JUPYTER_PATH"] = os.pathsep.join(p for p in [JUPYTER_DIR, os.environ.get("JUPYTER_PATH")] if p)
        else:
            # No kernelspec at all (not even Python's, which the page would pick for a python
            # notebook): the page asks, and the test continues without a kernel.
            env.pop("JUPYTER_PATH", None)
            args += ["--KernelSpecManager.ensure_native_kernel=False",
                     "--KernelSpecManager.allowed_kernelspecs=['no-such-kernel']"]
        self.env = env
        self.args = args
        self.proc = None
        for _ in range(3):  # a port taken between choosing and binding: try another
            self.port = _free_port()
            self._log = open(self.log_path, "ab")
            self.proc = subprocess.Popen([PYTHON, "-m", "notebook", "--port={}".format(self.port)] + args,
                                         env=env, stdin=subprocess.DEVNULL, stdout=self._log,
                                         stderr=subprocess.STDOUT, cwd=self.root)
            try:
                up = self._wait_up()
            except BaseException:   # the test's deadline, ^C: no server left behind
                self.stop()
                raise
            if up:
                return
            self.stop()
        raise RuntimeError("the notebook server did not start:\n" + self.log()[-3000:])

    def _wait_up(self):
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                self.api("GET", "status")
                return True
            except (OSError, ValueError):   # not listening yet (URLError is an OSError), half-started
                time.sleep(0.1)
        return False

    def url(self, path=""):
        return "http://127.0.0.1:{}/{}{}token={}".format(self.port, path, "&" if "?" in path else "?", self.token)

    def api(self, method, path, body=None, timeout=10):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request("http://127.0.0.1:{}/api/{}".format(self.port, path), data=data,
                                     method=method, headers={"Authorization": "token " + self.token})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            text = r.read()
        return json.loads(text) if text else None

    def notebook_path(self, name):
        return os.path.join(self.root, name)

    def shutdown_kernels(self, timeout=20):
        """Shuts down every kernel of the server (through its API) and waits until their
        processes, and what they started, are gone."""
        import psutil
        if self.proc is None or self.proc.poll() is not None:
            return
        procs = []
        try:
            server = psutil.Process(self.proc.pid)
            procs = server.children(recursive=True)
        except psutil.Error:
            pass
        try:
            for k in self.api("GET", "kernels"):
                try:
                    self.api("DELETE", "kernels/" + k["id"], timeout=timeout)
                except (OSError, urllib.error.URLError):
                    pass
        except (OSError, urllib.error.URLError):
            pass
        end_processes(procs, grace=timeout)

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc is None:
            return
        self.shutdown_kernels()
        if self.proc.poll() is None:
            self.proc.terminate()   # notebook 6 shuts down cleanly on SIGTERM
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        self.proc = None


@pytest.fixture(scope="module")
def notebook_server(tmp_path_factory):
    server = NotebookServer(str(tmp_path_factory.mktemp("nbserver")))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def bare_notebook_server(tmp_path_factory):
    """A server without kernelspecs and with a notary of its own: untrusted, no kernel."""
    server = NotebookServer(str(tmp_path_factory.mktemp("nbserver-bare")), kernels=False)
    yield server
    server.stop()


# ---------------------------------------------------------------------------------------------
# The browser

def _chrome_options():
    o = webdriver.ChromeOptions()
    o.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000",
              "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
              "--disable-extensions", "--disable-background-networking", "--disable-sync",
              "--disable-component-update", "--disable-default-apps", "--mute-audio",
              "--hide-scrollbars", "--force-device-scale-factor=1"):
        o.add_argument(a)
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return o


def start_browser():
    """Headless Chromium through Debian's chromedriver (given explicitly: no network look-up)."""
    service = Service(executable_path=CHROMEDRIVER, log_path=os.devnull)
    driver = webdriver.Chrome(service=service, options=_chrome_options())
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    return driver


def _quit(driver):
    import psutil
    try:
        pid = driver.service.process.pid
        procs = [psutil.Process(pid)] + psutil.Process(pid).children(recursive=True)
    except (AttributeError, psutil.Error):
        procs = []
    try:
        driver.quit()
    except Exception:
        pass
    end_processes(procs, grace=10)


@pytest.fixture
def browser(request, notebook_server):
    driver = start_browser()
    yield driver
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        try:
            screenshot(driver, "FAILED-" + request.node.name)
        except Exception:
            pass
    _quit(driver)
    notebook_server.shutdown_kernels()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


# ---------------------------------------------------------------------------------------------
# Screenshots, console logs, waiting

def screenshot(target, name):
    """Saves a PNG of the page (a driver) or of one element under build/screenshots/; returns
    its path."""
    os.makedirs(SCREENSHOTS, exist_ok=True)
    path = os.path.join(SCREENSHOTS, "".join(c if c.isalnum() or c in "-_." else "_" for c in name) + ".png")
    if isinstance(target, WebElement):
        # scrolled into view only if it is not (scrolling moves it away from the mouse: hovers end)
        target.parent.execute_script(
            "var r = arguments[0].getBoundingClientRect();"
            "if (r.top < 0 || r.bottom > innerHeight) arguments[0].scrollIntoView({block: 'center'});", target)
        ok = target.screenshot(path)
    else:
        ok = target.save_screenshot(path)
    assert ok, "the screenshot {} was not written".format(path)
    return path


def console_log(driver, last=40):
    """The browser console's messages since the last call (the last ``last``), one a line."""
    try:
        entries = driver.get_log("browser")
    except WebDriverException as e:
        return "(no console log: {})".format(e)
    lines = []
    for e in entries[-last:]:
        message = re.sub(r"https?://127\.0\.0\.1:\d+", "", e.get("message", ""))
        lines.append("{} {}".format(e.get("level"), re.sub(r"\?v=[0-9a-f]+", "", message)))
    if len(entries) > last:
        lines.insert(0, "({} earlier messages left out)".format(len(entries) - last))
    return "\n".join(lines)


def wait_for(driver, predicate, timeout=10.0, interval=0.05, what="the condition", details=None):
    """Polls ``predicate(driver)`` until it returns something true, and returns that; else fails
    with ``what``, ``details()`` if given, and the console log."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = predicate(driver)
            if value:
                return value
        except (JavascriptException,) as e:
            last_error = e
        if time.monotonic() > deadline:
            extra = details() if details is not None else ""
            pytest.fail("{} did not hold within {} s{}{}\n--- browser console ---\n{}".format(
                what, timeout, "\nlast error: {}".format(last_error) if last_error else "",
                "\n" + extra if extra else "", console_log(driver)), pytrace=False)
        time.sleep(interval)


def js_wait(driver, expression, timeout=10.0, what=None):
    """Waits until the JavaScript ``expression`` is truthy; returns its value."""
    return wait_for(driver, lambda d: d.execute_script("return (" + expression + ");"), timeout,
                    what=what or "the page condition {!r}".format(expression))


# The state of a notebook page, for waiting and for failure messages.
_PAGE_STATE = """
var nb = window.Jupyter && Jupyter.notebook;
if (!nb || !nb._fully_loaded) return {loaded: false};
var k = nb.kernel;
var icon = document.getElementById('kernel_indicator_icon');
var cells = nb.get_cells().map(function (c, i) {
  if (c.cell_type !== 'code') return null;
  var outs = (c.output_area && c.output_area.outputs) || [];
  return {index: i, prompt: c.input_prompt_number === undefined ? null : c.input_prompt_number,
          source: c.get_text().slice(0, 80),
          errors: outs.filter(function (o) { return o.output_type === 'error'; })
                      .map(function (o) { return o.ename + ': ' + o.evalue; }),
          stderr: outs.filter(function (o) { return o.output_type === 'stream' && o.name === 'stderr'; })
                      .map(function (o) { return o.text.slice(-500); })};
}).filter(function (c) { return c !== null; });
return {loaded: true, kernel: !!k, connected: !!(k && k.is_connected()),
        idle: !!(icon && icon.classList.contains('kernel_idle_icon')),
        kernel_status: icon ? icon.className : null, cells: cells};
"""


def page_state(driver):
    return driver.execute_script(_PAGE_STATE)


def _describe(state):
    if not state or not state.get("loaded"):
        return "the notebook page did not load"
    lines = ["kernel: {} ({})".format("connected" if state["connected"] else "not connected",
                                      state.get("kernel_status"))]
    for c in state["cells"]:
        lines.append("cell {} [{}] {!r}{}{}".format(
            c["index"], c["prompt"] if c["prompt"] is not None else " ", c["source"],
            "".join("\n    error: " + e for e in c["errors"]),
            "".join("\n    stderr: " + s.strip().replace("\n", "\n            ") for s in c["stderr"])))
    return "\n".join(lines)


def open_notebook(driver, server, path, kernel=True, timeout=60):
    """Opens the notebook ``path`` (relative to the server's notebook dir) and waits until the
    page has loaded it (and, with ``kernel``, until its kernel is connected and idle)."""
    try:
        driver.get(server.url("notebooks/" + path))
    except TimeoutException:
        # A loaded machine: chromedriver gave up on the renderer's answer ("Timed out receiving
        # message from renderer"); the page is still loading, and one more try waits for it.
        driver.get(server.url("notebooks/" + path))
    what = "the notebook page loaded {}".format(path) + (" with a connected, idle kernel" if kernel else "")

    def ready(d):
        s = page_state(d)
        return s.get("loaded") and (not kernel or (s["connected"] and s["idle"]))
    wait_for(driver, ready, timeout, what=what, details=lambda: _describe(page_state(driver)) +
             "\n--- server log ---\n" + server.log()[-2000:])
    return driver


def run_all(driver, timeout=90):
    """Runs every cell of the open notebook; waits until each code cell has a prompt number and
    the kernel is idle. An error output fails at once."""
    driver.execute_script("Jupyter.notebook.clear_all_output(); Jupyter.notebook.execute_all_cells();")

    def finished(d):
        s = page_state(d)
        if not s.get("loaded"):
            return False
        # An exception is an error output; IPython's UsageError (wrong magic usage) goes to stderr
        errors = [c for c in s["cells"] if c["errors"] or any(
            e.lstrip().startswith("UsageError") or "Traceback" in e for e in c["stderr"])]
        if errors:
            pytest.fail("a cell failed:\n{}\n--- browser console ---\n{}".format(_describe(s), console_log(d)),
                        pytrace=False)
        return s["idle"] and all(isinstance(c["prompt"], int) for c in s["cells"])
    wait_for(driver, finished, timeout, interval=0.2, what="all cells ran and the kernel went idle",
             details=lambda: _describe(page_state(driver)))
    return driver


def save(driver, timeout=20):
    """Saves the open notebook through the page (as a user's Ctrl-S would)."""
    driver.execute_script("window.__treadle_saved = false; Jupyter.notebook.save_notebook()"
                          ".then(function () { window.__treadle_saved = true; });")
    js_wait(driver, "window.__treadle_saved === true", timeout, what="the notebook was saved")


@pytest.fixture
def open_and_run(browser, notebook_server):
    """``open_and_run(path, timeout=90) -> driver``: opens the notebook at ``path`` (absolute
    under the server's notebook dir, or relative to it) and runs all its cells."""
    def run(path, timeout=90):
        rel = os.path.relpath(path, notebook_server.root) if os.path.isabs(path) else path
        open_notebook(browser, notebook_server, rel)
        return run_all(browser, timeout)
    return run


# ---------------------------------------------------------------------------------------------
# Making notebooks

def write_notebook(path, cells, kernel="treadle"):
    """Writes a notebook of code cells (strings) for ``kernel``; returns its path."""
    import nbformat
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": "Python 3 (treadle)", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.write(nb, str(path))
    return str(path)
