"""HyperLoom, Rain, IPython, SCOOP layers: odd exceptions, mixed with healthy tasks, in a real kernel."""
import os, sys
from kt import K
k = K(sys.argv[1] if len(sys.argv) > 1 else "treadle")
only = sys.argv[2].split(",") if len(sys.argv) > 2 else ["loom", "rain", "ipy", "scoop"]
try:
    k.cell("%treadle workers 2")
    BOOM_SRC = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "boom_src.py")).read()
    k.cell("import treadle\nBOOM_SRC = " + repr(BOOM_SRC) + "\nexec(BOOM_SRC)")
    if "loom" in only:
        k.cell("""
        from treadle.loom.client import Client, tasks
        lc = Client()
        @tasks.py_task(context=True)
        def lboom(ctx, k):
            r = boom(k.read().decode())
            return r if isinstance(r, (bytes, str)) else ctx.wrap(r)
        for kind in KINDS:
            ts = [tasks.const(str(i)) for i in range(3)] + [lboom(tasks.const(kind))] + [tasks.const("ok")]
            fs = lc.submit(ts)
            try:
                fs[3].fetch(); print(kind, "NO EXC")
            except BaseException as e:
                show(kind, e)
            print(' healthy', [f.fetch() for i, f in enumerate(fs) if i != 3])
        """, timeout=240)
    if "rain" in only:
        k.cell("""
        from treadle.rain.client import Client as RClient, remote, blob
        rc = RClient()
        @remote()
        def rboom(ctx, kind):
            r = boom(kind)
            return r if isinstance(r, (bytes, str)) else repr(r)
        @remote()
        def rok(ctx, x): return str(x)
        for kind in KINDS:
            with rc.new_session() as s:
                good = [rok(i) for i in range(3)]; bad = rboom(kind)
                for t in good + [bad]: t.keep_outputs()
                s.submit()
                try:
                    s.wait_all(); print(kind, "NO EXC", bad.output.fetch().get_bytes())
                except BaseException as e:
                    show(kind, e)
        """, timeout=240)
    if "ipy" in only:
        k.cell("""
        from treadle.ipython import client as ic
        tc = ic.TaskClient()
        for kind in KINDS:
            ids = [tc.run(ic.Task("a = %d" % i, pull="a")) for i in range(3)]
            bid = tc.run(ic.Task(BOOM_SRC + "\\nr = boom(kind)", push={'kind': kind}, pull='r'))
            tc.barrier(ids + [bid])
            tr = tc.get_task_result(bid)
            try:
                tr.raise_exception(); print(kind, "NO EXC", tr.results if hasattr(tr, 'results') else tr)
            except BaseException as e:
                show(kind, e)
            print(' healthy', [tc.get_task_result(i).ns.a for i in ids])
        """, timeout=240)
    if "scoop" in only:
        k.cell("""
        from treadle.scoop import futures
        for kind in KINDS:
            fs = [futures.submit(str, i) for i in range(3)] + [futures.submit(boom, kind)]
            try:
                fs[3].result(); print(kind, "NO EXC")
            except BaseException as e:
                show(kind, e)
            print(' healthy', [f.result() for f in fs[:3]])
        """, timeout=240)
    k.cell("print(treadle.gather([treadle.submit(pow, i, 2) for i in range(10)]))")
finally:
    k.shutdown()
