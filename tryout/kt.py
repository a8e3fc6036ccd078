"""Tryout harness: a real kernel (treadle or ipykernel + %load_ext treadle) driven by jupyter_client.
Usage: from kt import K; k = K("treadle"); k.cell("code") prints what the cell showed."""
import os, sys, time, textwrap
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TREADLE_SECRET", "tryout10-" + os.urandom(8).hex())
os.environ["PYTHONPATH"] = os.path.join(ROOT, "prefix/lib/treadle/python")
os.environ["PATH"] = os.path.join(ROOT, "prefix/bin") + ":" + os.environ["PATH"]
sys.path.insert(0, os.path.join(ROOT, "tests", "kernel"))
sys.path.insert(0, os.path.join(ROOT, "prefix/lib/treadle/python"))
from conftest import Kernel  # noqa

MAXSHOW = int(os.environ.get("MAXSHOW", "1500"))


def short(s):
    s = str(s)
    return s if len(s) <= MAXSHOW else s[:MAXSHOW // 2] + "\n...[{} chars]...\n".format(len(s)) + s[-MAXSHOW // 2:]


class K(Kernel):
    def __init__(self, name="treadle", **kw):
        super().__init__(name, **kw)
        self.name = name
        if name == "python3":
            self.cell("%load_ext treadle")

    def cell(self, code, timeout=60, quiet=False, **kw):
        code = textwrap.dedent(code)
        t0 = time.monotonic()
        try:
            reply, outputs, secs = self.run(code, timeout=timeout, stop_on_error=False, **kw)
        except Exception as e:
            print("### CELL TIMEOUT/EXC after {:.1f}s: {!r}\n{}".format(time.monotonic() - t0, e, code))
            return None, None
        if not quiet:
            print("### [{}] {:.2f}s status={} {}".format(self.name, secs, reply["status"], code.strip().splitlines()[0][:80] if code.strip() else ""))
            for o in outputs:
                if o[0] in ("stdout", "stderr"):
                    print("  <{}> {}".format(o[0], short(o[1]).rstrip().replace("\n", "\n    ")))
                elif o[0] == "error":
                    print("  <error> {}: {}".format(o[1], short(o[2])))
                else:
                    print("  <{}> {}".format(o[0], short(o[1].get("text/plain", list(o[1])))))
        return reply, outputs
