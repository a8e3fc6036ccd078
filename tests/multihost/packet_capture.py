"""Captures every frame on one interface (a raw AF_PACKET socket) into a file until its stdin
closes; prints "capturing" once the socket is bound. Runs inside a namespace:

    ip netns exec A /usr/bin/python3 packet_capture.py veth-a OUT
"""

import select
import socket
import sys

ETH_P_ALL = 0x0003


def main(interface, path):
    raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    raw.bind((interface, 0))
    print("capturing", flush=True)
    with open(path, "wb") as out:
        while True:
            ready, _, _ = select.select([raw, sys.stdin], [], [])
            if raw in ready:
                out.write(raw.recv(65536))
            if sys.stdin in ready and not sys.stdin.readline():
                while select.select([raw], [], [], 0.2)[0]:  # what is still queued
                    out.write(raw.recv(65536))
                return


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
