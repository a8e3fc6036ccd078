"""Executes a notebook with nbclient and fails on any error output.

usage: run_notebook.py IN.ipynb OUT.ipynb [--kernel NAME] [--show] [--passes N]

The kernel is the one the notebook's metadata names, unless --kernel says otherwise. --passes 2
runs all the cells, then all again in the same kernel (Run All pressed twice, no restart).
"""

import argparse
import os
import sys

import nbformat
from nbclient import NotebookClient


def error_outputs(nb):
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                yield i, "{}: {}".format(out.get("ename"), out.get("evalue"))
            if out.get("output_type") == "stream" and out.get("name") == "stderr" and "Traceback" in out.get("text", ""):
                yield i, out["text"]


def run(path, out_path, kernel=None, timeout=600, passes=1):
    nb = nbformat.read(path, as_version=4)
    kernel = kernel or nb.metadata.get("kernelspec", {}).get("name") or "python3"
    client = NotebookClient(nb, kernel_name=kernel, timeout=timeout,
                            resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}})
    if passes == 1:
        client.execute()
    else:
        with client.setup_kernel():   # one kernel for every pass; a failing cell raises
            for _ in range(passes):
                for index, cell in enumerate(nb.cells):
                    client.execute_cell(cell, index)
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    nbformat.write(nb, out_path)
    return nb


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("notebook")
    parser.add_argument("output")
    parser.add_argument("--kernel", default=None)
    parser.add_argument("--show", action="store_true", help="print the text outputs")
    parser.add_argument("--passes", type=int, default=1, help="run all the cells this many times in one kernel")
    args = parser.parse_args()
    nb = run(args.notebook, args.output, args.kernel, passes=args.passes)
    if args.show:
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            print(">>> " + cell.source.replace("\n", "\n... "))
            for out in cell.get("outputs", []):
                text = out.get("text") or out.get("data", {}).get("text/plain", "")
                if text:
                    print(text.rstrip())
    errors = list(error_outputs(nb))
    for i, e in errors:
        print("cell {}: {}".format(i, e), file=sys.stderr)
    print("executed {} -> {}".format(args.notebook, args.output))
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
