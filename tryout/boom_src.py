import os, sys, threading, resource
class MyErr(Exception): pass
class NeedArgs(Exception):
    def __init__(self, a, b):
        super().__init__(a); self.b = b
class HasLock(Exception):
    def __init__(self, m):
        super().__init__(m); self.lock = threading.Lock()
def boom(kind):
    if kind == 'my': raise MyErr("mine")
    if kind == 'need': raise NeedArgs("x", 7)
    if kind == 'lock': raise HasLock("locky")
    if kind == 'kbd': raise KeyboardInterrupt("kbd in task")
    if kind == 'exit': sys.exit(5)
    if kind == 'osexit': os._exit(3)
    if kind == 'rec':
        def r(n): return r(n + 1)
        return r(0)
    if kind == 'mem':
        resource.setrlimit(resource.RLIMIT_AS, (600 << 20, resource.RLIM_INFINITY))
        return len(bytearray(2 << 30))
    if kind == 'gen': return (i for i in range(3))
    if kind == 'lockret': return threading.Lock()
    if kind == 'stderr': print("about to fail", file=sys.stderr); raise ValueError("after stderr")
    return kind
KINDS = ['my', 'need', 'lock', 'kbd', 'exit', 'osexit', 'rec', 'mem', 'gen', 'lockret', 'stderr']
def show(kind, e):
    print(kind, '->', type(e).__name__, [c.__name__ for c in type(e).__mro__[1:4]], repr(str(e))[:160].replace('\n', '|'))
