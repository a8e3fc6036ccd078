import sys, time
from kt import K
k = K("treadle")
try:
    k.cell("%treadle workers 2")
    k.cell("import treadle, time\ndef ret_huge(n): return b'x' * (n << 20)")
    k.cell("t0 = time.time(); f = treadle.submit(ret_huge, 300); treadle.wait([f]); print('computed', round(time.time() - t0, 1)); print(treadle.default_client().story([f]))", timeout=300)
    k.cell("t0 = time.time(); r = f.result(); print('fetched', round(time.time() - t0, 1))", timeout=300)
finally:
    k.shutdown()
