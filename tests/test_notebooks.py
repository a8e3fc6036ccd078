"""Every notebook in notebooks/ executes without an error output, under the kernel its metadata
names (the treadle kernel for notebooks made for it, python3 otherwise)."""

import glob
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOKS = sorted(glob.glob(os.path.join(ROOT, "notebooks", "*.ipynb")))
JUPYTER_DIR = os.path.join(ROOT, "prefix", "share", "jupyter")


def kernel_of(path):
    with open(path) as f:
        name = json.load(f).get("metadata", {}).get("kernelspec", {}).get("name")
    return "treadle" if name == "treadle" else "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[os.path.basename(p) for p in NOTEBOOKS])
def test_notebook_runs_clean(path, tmp_path):
    kernel = kernel_of(path)
    env = dict(os.environ)
    if kernel == "treadle":
        if not os.path.exists(os.path.join(JUPYTER_DIR, "kernels", "treadle", "kernel.json")):
            pytest.skip("the treadle kernelspec is not installed (./setup.sh build)")
        env["JUPYTER_PATH"] = os.pathsep.join(p for p in [JUPYTER_DIR, env.get("JUPYTER_PATH")] if p)
    out = tmp_path / os.path.basename(path)
    result = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "run_notebook.py"), path, str(out),
                             "--kernel", kernel], capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert out.exists()


def test_there_is_a_tour():
    assert any(p.endswith("tour.ipynb") for p in NOTEBOOKS)


def test_there_is_a_teaching_notebook_for_the_treadle_kernel():
    teaching = [p for p in NOTEBOOKS if p.endswith("teaching_parallel.ipynb")]
    assert teaching and kernel_of(teaching[0]) == "treadle"
