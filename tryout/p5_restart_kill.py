"""Kernel restart while tasks run (leftovers?), and a worker SIGKILLed amid mixed tasks."""
import os, sys, time, signal, psutil
from kt import K

def treadle_procs():
    out = []
    for p in psutil.process_iter(["pid", "cmdline", "status"]):
        cl = " ".join(p.info["cmdline"] or [])
        if ("treadle-worker" in cl or "treadle.executor" in cl or "xtreadle" in cl or "sleep 977" in cl) and p.info["status"] != psutil.STATUS_ZOMBIE:
            if "/work/wt/tryout10" in cl or "sleep 977" in cl or "treadle.executor" in cl:
                out.append((p.pid, cl[:90]))
    return out

k = K(sys.argv[1] if len(sys.argv) > 1 else "treadle")
try:
    before = treadle_procs()
    k.cell("%treadle workers 2")
    k.cell("""
    import treadle, time, subprocess
    def slow(i):
        subprocess.Popen(["sleep", "977"])
        time.sleep(60); return i
    fs = [treadle.submit(slow, i) for i in range(6)]
    time.sleep(3)
    """)
    print("procs before restart:", len(treadle_procs()))
    old_children = k.processes()
    k.km.restart_kernel(now=False)
    k.kc.wait_for_ready(timeout=60)
    deadline = time.time() + 20
    while time.time() < deadline:
        left = [p for p in old_children if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        if not left: break
        time.sleep(0.5)
    print("old children left after restart:", [(p.pid, " ".join(p.cmdline())[:80]) for p in left])
    print("sleep 977 left:", [x for x in treadle_procs() if "sleep 977" in x[1]])
    k.cell("import treadle; print(treadle.gather([treadle.submit(pow, i, 2) for i in range(8)]))", timeout=90)
    # worker SIGKILL amid mixed tasks
    k.cell("%treadle workers --stop")
    k.cell("%treadle workers 2")
    k.cell("""
    import treadle, time, os
    class MyErr(Exception): pass
    def work(i):
        time.sleep(0.3)
        if i % 7 == 3: raise MyErr(i)
        return i * i
    fs = [treadle.submit(work, i) for i in range(40)]
    """)
    workers = [p for p in k.processes() if "treadle-worker" in " ".join(p.cmdline())]
    print("workers:", [w.pid for w in workers])
    time.sleep(2)
    os.kill(workers[0].pid, signal.SIGKILL)
    k.cell("""
    res = []
    for i, f in enumerate(fs):
        try: res.append(f.result())
        except MyErr as e: res.append(('MyErr', e.args))
        except Exception as e: res.append((type(e).__name__, str(e)[:80]))
    bad = [(i, r) for i, r in enumerate(res) if (r != i * i if i % 7 != 3 else r != ('MyErr', (i,)))]
    print("wrong:", bad)
    """, timeout=120)
    k.cell("%treadle status")
    k.cell("print(treadle.gather([treadle.submit(pow, i, 2) for i in range(8)]))", timeout=90)
finally:
    k.shutdown()
    time.sleep(2)
    print("after shutdown:", treadle_procs())
