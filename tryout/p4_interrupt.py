"""Kernel interrupt while a cell waits, every layer; then the next cell on the same cluster."""
import os, sys, time, psutil
from kt import K
k = K(sys.argv[1] if len(sys.argv) > 1 else "treadle")
WAITS = {
"native": "fs = [treadle.submit(slow, i) for i in range(6)]\ntreadle.gather(fs)",
"nmap": "r = list(treadle.map(slow, range(6)))",
"ascomp": "fs = [treadle.submit(slow, i) for i in range(6)]\nfor f in treadle.as_completed(fs): print(f.result())",
"loom": "lfs = lc.submit([lslow(tasks.const(str(i))) for i in range(6)])\nlc.gather(lfs)",
"rain": "rs = rc.new_session()\nwith rs.bind_only():\n    rts = [rslow(i) for i in range(6)]\nrs.submit()\nrs.wait_all()",
"ipy": "ids = [tc.run(ic.Task('import time; time.sleep(30); a = 1', pull='a')) for i in range(6)]\ntc.barrier(ids)",
"mec": "mec.execute('import time; time.sleep(30)')",
"scoop": "r = list(futures.map(slow, range(6)))",
"sfut": "sfs = [futures.submit(slow, i) for i in range(6)]\nfutures.wait(sfs)",
"submit": "%%treadle submit\nsub = [treadle.submit(slow, i) for i in range(6)]",
"task": "%%treadle task\nimport time\ntime.sleep(30)",
}
def executors_busy():
    n = 0
    for p in k.processes():
        try:
            if "treadle.executor" in " ".join(p.cmdline()) and p.cpu_percent(0.05) > -1:
                for c in p.children(recursive=True): n += 1
        except psutil.Error: pass
    return n
only = sys.argv[2].split(",") if len(sys.argv) > 2 else list(WAITS)
try:
    k.cell("%treadle workers 2")
    k.cell("""
    import treadle, time, sys
    from treadle.loom.client import Client, tasks
    from treadle.rain.client import Client as RClient, remote, blob, tasks as rtasks
    from treadle.ipython import client as ic
    from treadle.scoop import futures
    def slow(i):
        print("slow", i, "starts", flush=True)
        time.sleep(30); return i
    lc = Client(); rc = RClient(); tc = ic.TaskClient(); mec = ic.MultiEngineClient()
    @tasks.py_task()
    def lslow(a):
        time.sleep(30); return a.read()
    @remote()
    def rslow(ctx, i):
        time.sleep(30); return str(i)
    """)
    for name in only:
        print("======", name)
        t0 = time.monotonic()
        k.cell(WAITS[name], timeout=60, interrupt_after=4)
        k.cell("%treadle status")
        t1 = time.monotonic()
        k.cell("t0 = time.time(); print(treadle.gather([treadle.submit(pow, i, 2) for i in range(8)]), round(time.time() - t0, 2))", timeout=60)
        print("   next cell took {:.1f}s".format(time.monotonic() - t1))
finally:
    k.shutdown()
