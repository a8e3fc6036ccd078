"""A stream of executor requests written to a pipe cut in random places, for the tests of the
readers of the request pipe (pipe.MessageReader, request_prefetch.PrefetchingReader)."""

import os
import random
import threading

from treadle.runtime import pipe


class SplitRequests:
    """300 requests with 0-3 blobs of 0 B to 200 kB each, written to a pipe by a thread in
    pieces of 1 B to 70 kB: ``sent`` is what went in, ``read_fd`` where it comes out."""

    def __init__(self, seed, withdrawals=False):
        rng = random.Random(seed)
        self.sent = [({"op": "run", "id": i, "pad": "x" * rng.randint(0, 300)},
                      [bytes([i % 256]) * rng.choice([0, 1, 10, 70_000, 200_000]) for _ in range(rng.randint(0, 3))])
                     for i in range(300)]
        stream = list(self.sent)
        # With `withdrawals`: a `withdraw` (as the worker writes it) after a run now and then,
        # naming it; `withdrawn` lists their ids in order.
        self.withdrawn = [i for i in range(300) if withdrawals and rng.random() < 0.2]
        for i in reversed(self.withdrawn):
            stream.insert(i + 1, ('{"op":"withdraw","id":%d}' % i, []))
        data = b"".join(b"".join(pipe.message_parts(h, b)) for h, b in stream)
        self.read_fd, write_fd = os.pipe()

        def write_in_pieces():
            at = 0
            while at < len(data):
                n = rng.choice([1, 3, 7, 100, 5000, 70_000])
                os.write(write_fd, data[at:at + n])
                at += n
            os.close(write_fd)
        self._writer = threading.Thread(target=write_in_pieces)
        self._writer.start()

    def close(self):
        self._writer.join()
        os.close(self.read_fd)
