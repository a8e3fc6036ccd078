import sys, time
from kt import K
k = K(sys.argv[1] if len(sys.argv) > 1 else "treadle")
try:
    k.cell("%treadle workers 2")
    k.cell("import treadle, time\ndef ret_huge(n): return b'x' * (n << 20)")
    for n in [int(x) for x in sys.argv[2].split(",")]:
        k.cell("t0 = time.time(); r = treadle.submit(ret_huge, {}).result(); print(len(r), round(time.time() - t0, 1)); del r".format(n), timeout=300)
    k.cell("%treadle status")
finally:
    k.shutdown()
