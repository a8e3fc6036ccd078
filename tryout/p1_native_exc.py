"""Native API: odd exceptions and results in a real kernel on 2 workers."""
import sys
from kt import K
k = K(sys.argv[1] if len(sys.argv) > 1 else "treadle")
try:
    k.cell("%treadle workers 2")
    k.cell("""
    import treadle, os, sys, threading, resource
    class MyErr(Exception): pass
    class NeedArgs(Exception):
        def __init__(self, a, b):
            super().__init__(a); self.b = b
    class HasLock(Exception):
        def __init__(self, m):
            super().__init__(m); self.lock = threading.Lock()
    def ok(x): return x * 2
    def boom_my(): raise MyErr("mine")
    def boom_need(): raise NeedArgs("x", 7)
    def boom_lock(): raise HasLock("locky")
    def boom_kbd(): raise KeyboardInterrupt("kbd in task")
    def boom_exit(): sys.exit(5)
    def boom_osexit(): os._exit(3)
    def boom_rec():
        def r(n): return r(n + 1)
        return r(0)
    def boom_mem():
        resource.setrlimit(resource.RLIMIT_AS, (600 << 20, resource.RLIM_INFINITY))
        x = bytearray(2 << 30)
        return len(x)
    def ret_gen(): return (i for i in range(3))
    def ret_lock(): return threading.Lock()
    def ret_huge(): return b"x" * (300 << 20)
    def loud(): sys.stdout.write(("y" * 99 + "\\n") * 100000); return "loud done"
    def err_then_fail(): print("about to fail", file=sys.stderr); raise ValueError("after stderr")
    """)
    for fn, exc in [("boom_my", "MyErr"), ("boom_need", "NeedArgs"), ("boom_lock", "HasLock"),
                    ("boom_kbd", "KeyboardInterrupt"), ("boom_exit", "SystemExit"),
                    ("boom_osexit", "Exception"), ("boom_rec", "RecursionError"), ("boom_mem", "MemoryError"),
                    ("ret_gen", "Exception"), ("ret_lock", "Exception"), ("err_then_fail", "ValueError")]:
        k.cell("""
        fs = [treadle.submit(ok, i) for i in range(4)] + [treadle.submit({fn})] + [treadle.submit(ok, i) for i in range(4, 8)]
        try:
            fs[4].result()
            print("NO EXCEPTION")
        except {exc} as e:
            print("caught", type(e).__mro__[:3], repr(str(e))[:300], getattr(e, 'b', None))
        print([f.result() for i, f in enumerate(fs) if i != 4])
        """.format(fn=fn, exc=exc), timeout=120)
    k.cell("f = treadle.submit(boom_need); f.result()")
    k.cell("f = treadle.submit(boom_kbd); f.result()")
    k.cell("f = treadle.submit(boom_exit); f.result()")
    k.cell("r = treadle.submit(ret_huge).result(); print(len(r))", timeout=180)
    k.cell("r = treadle.submit(loud).result(); print(r)", timeout=180, quiet=False)
    k.cell("print([f.result() for f in [treadle.submit(ok, i) for i in range(10)]])")
finally:
    k.shutdown()
