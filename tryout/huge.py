import os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "prefix/lib/treadle/python"))
import treadle
def ret_huge(n): return b"x" * (n << 20)
if __name__ == "__main__":
    with treadle.local_cluster(workers=2, cpus=1) as c:
        cl = treadle.Client(c)
        for n in (100, 300):
            t0 = time.time()
            r = cl.submit(ret_huge, n).result()
            print(n, len(r), round(time.time() - t0, 2), flush=True)
