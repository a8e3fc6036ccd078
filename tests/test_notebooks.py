"""Every notebook in notebooks/ executes without an error output."""

import glob
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOKS = sorted(glob.glob(os.path.join(ROOT, "notebooks", "*.ipynb")))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[os.path.basename(p) for p in NOTEBOOKS])
def test_notebook_runs_clean(path, tmp_path):
    out = tmp_path / os.path.basename(path)
    result = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "run_notebook.py"), path, str(out)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert out.exists()


def test_there_is_a_tour():
    assert any(p.endswith("tour.ipynb") for p in NOTEBOOKS)
