#!/usr/bin/env python3
# A flood of TFTP read requests that never acknowledge, from many loopback addresses and ports, counting
# what the server sends back. Loopback only (127.0.0.0/8). Used by bench/tftp/flood.sh.
#
# flood.py SERVER_PORT FILE ADDRESSES PORTS_PER_ADDRESS SECONDS RATE
#   Binds ADDRESSES x PORTS_PER_ADDRESS sockets (127.1.x.y), sends one RRQ from each in turn, round after
#   round for SECONDS at RATE requests a second, never answers, and prints: requests sent, bytes sent,
#   datagrams and bytes received, the ratio received/sent.
import selectors
import socket
import sys
import time


def main():
    port, name = int(sys.argv[1]), sys.argv[2].encode()
    addresses, per_address, seconds = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    rate = float(sys.argv[6])
    rrq = b"\x00\x01" + name + b"\x00octet\x00"
    sel = selectors.DefaultSelector()
    socks = []
    for a in range(addresses):
        host = f"127.1.{a // 250}.{a % 250 + 1}"
        for _ in range(per_address):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((host, 0))
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
            socks.append(s)

    sent = sent_bytes = got = got_bytes = 0
    start = time.monotonic()
    end = start + seconds
    i = 0
    while time.monotonic() < end:
        while sent > (time.monotonic() - start) * rate:
            time.sleep(0.002)
        # Bursts of 200 requests, then drain what arrived.
        for _ in range(200):
            try:
                socks[i % len(socks)].sendto(rrq, ("127.0.0.1", port))
                sent += 1
                sent_bytes += len(rrq)
            except BlockingIOError:
                pass
            i += 1
        for key, _ in sel.select(timeout=0.005):
            while True:
                try:
                    data = key.fileobj.recv(70000)
                except BlockingIOError:
                    break
                got += 1
                got_bytes += len(data)

    # Late answers (timer retransmissions) for as long again as a transfer's retry budget.
    drain_end = time.monotonic() + 8
    while time.monotonic() < drain_end:
        for key, _ in sel.select(timeout=0.1):
            while True:
                try:
                    data = key.fileobj.recv(70000)
                except BlockingIOError:
                    break
                got += 1
                got_bytes += len(data)

    print(f"flood: {len(socks)} endpoints, {sent} requests, {sent_bytes} bytes sent, "
          f"{got} datagrams and {got_bytes} bytes received, ratio {got_bytes / max(1, sent_bytes):.1f}")


if __name__ == "__main__":
    main()
