#!/bin/bash
# A standalone server, 2 workers, a client script fetching a 300 MB result; server log at info.
cd /work/wt/tryout10
export PATH=$PWD/prefix/bin:$PATH PYTHONPATH=$PWD/prefix/lib/treadle/python TREADLE_SECRET=hs$RANDOM
TREADLE_LOG=info treadle-server --port 0 > /tmp/t10-srv.out 2> /tmp/t10-srv.err &
SRV=$!
for i in $(seq 50); do grep -q listening /tmp/t10-srv.out && break; sleep 0.1; done
PORT=$(awk '/listening/{print $3}' /tmp/t10-srv.out)
TREADLE_LOG=info treadle-worker 127.0.0.1:$PORT 2> /tmp/t10-w1.err & W1=$!
TREADLE_LOG=info treadle-worker 127.0.0.1:$PORT 2> /tmp/t10-w2.err & W2=$!
/usr/bin/python3 - $PORT <<'PY'
import sys, time, treadle
c = treadle.Client("127.0.0.1:" + sys.argv[1])
def ret_huge(n): return b'x' * (n << 20)
for n in (300, 300):
    t0 = time.time(); f = c.submit(ret_huge, n); c.wait([f]); t1 = time.time()
    r = f.result(); print(n, "computed", round(t1 - t0, 1), "fetched", round(time.time() - t1, 1), flush=True)
    del r; f.release()
PY
kill $W1 $W2; sleep 1; kill $SRV; wait
grep -i -E "lost|warn" /tmp/t10-srv.err | head
