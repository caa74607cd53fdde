#!/usr/bin/env python3
"""Delay (and optionally drop) packets handed to an NFQUEUE, for kernels without sch_netem.

The fault suite prefers `tc qdisc add ... netem delay 200ms loss 5%`. Where the kernel has no
netem (CONFIG_NET_SCH_NETEM unset) it installs, inside the host's own network namespace,
`iptables -A OUTPUT -o IF -m statistic --mode random --probability 0.05 -j DROP` (the loss) and
`iptables -A OUTPUT -o IF -j NFQUEUE --queue-num Q` (the delay), and runs this program in that
namespace: it holds every queued packet for DELAY milliseconds, in arrival order, then accepts it.
Python standard library only: the nfnetlink_queue protocol is spoken over a raw netlink socket.

usage: nfq_delay.py QUEUE_NUM DELAY_MS [LOSS_PERCENT]
Prints "ready" on stdout once bound; runs until SIGTERM/SIGINT.
"""

import collections
import os
import random
import select
import signal
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET = 0
NFQNL_MSG_VERDICT = 1
NFQNL_MSG_CONFIG = 2
NFQA_PACKET_HDR = 1
NFQA_VERDICT_HDR = 2
NFQA_CFG_CMD = 1
NFQA_CFG_PARAMS = 2
NFQA_CFG_QUEUE_MAXLEN = 3
NFQA_CFG_MASK = 4
NFQA_CFG_FLAGS = 5
NFQA_CFG_F_FAIL_OPEN = 1
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NLM_F_REQUEST = 1
NLM_F_ACK = 4
NLMSG_ERROR = 2
NF_DROP = 0
NF_ACCEPT = 1


def attr(kind, payload):
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * ((4 - length % 4) % 4)


def message(msg_type, queue, attributes, flags=NLM_F_REQUEST, seq=0):
    body = struct.pack("=BBH", socket.AF_UNSPEC, 0, socket.htons(queue)) + b"".join(attributes)
    return struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | msg_type, flags, seq, 0) + body


def attributes(data):
    offset = 0
    found = {}
    while offset + 4 <= len(data):
        length, kind = struct.unpack_from("=HH", data, offset)
        if length < 4:
            break
        found[kind & 0x7FFF] = data[offset + 4 : offset + length]
        offset += (length + 3) & ~3
    return found


def configure(sock, queue):
    requests = [
        [attr(NFQA_CFG_CMD, struct.pack("!BxH", NFQNL_CFG_CMD_BIND, socket.AF_INET))],
        [attr(NFQA_CFG_PARAMS, struct.pack("!IB", 0, NFQNL_COPY_META))],
        [attr(NFQA_CFG_QUEUE_MAXLEN, struct.pack("!I", 4096))],
        [
            attr(NFQA_CFG_FLAGS, struct.pack("!I", NFQA_CFG_F_FAIL_OPEN)),
            attr(NFQA_CFG_MASK, struct.pack("!I", NFQA_CFG_F_FAIL_OPEN)),
        ],
    ]
    for seq, attrs in enumerate(requests, start=1):
        sock.send(message(NFQNL_MSG_CONFIG, queue, attrs, NLM_F_REQUEST | NLM_F_ACK, seq))
        reply = sock.recv(65536)
        length, kind = struct.unpack_from("=IH", reply, 0)
        if kind == NLMSG_ERROR:
            (error,) = struct.unpack_from("=i", reply, 16)
            if error != 0:
                raise OSError(-error, "nfqueue config step %d: %s" % (seq, os.strerror(-error)))


def main():
    queue = int(sys.argv[1])
    delay = float(sys.argv[2]) / 1000.0
    loss = float(sys.argv[3]) / 100.0 if len(sys.argv) > 3 else 0.0
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind((0, 0))
    configure(sock, queue)
    print("ready", flush=True)
    held = collections.deque()  # (due, packet id), FIFO: a constant delay keeps the order
    seen = 0
    while not stop:
        timeout = max(0.0, held[0][0] - time.monotonic()) if held else 0.5
        try:
            readable, _, _ = select.select([sock], [], [], timeout)
        except InterruptedError:
            continue
        if readable:
            try:
                data = sock.recv(1 << 16)
            except (BlockingIOError, InterruptedError):
                data = b""
            offset = 0
            while offset + 16 <= len(data):
                length, kind, _, _, _ = struct.unpack_from("=IHHII", data, offset)
                if length < 16:
                    break
                if kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
                    header = attributes(data[offset + 20 : offset + length]).get(NFQA_PACKET_HDR)
                    if header:
                        (packet,) = struct.unpack_from("!I", header, 0)
                        seen += 1
                        held.append((time.monotonic() + delay, packet))
                offset += (length + 3) & ~3
        now = time.monotonic()
        while held and held[0][0] <= now:
            _, packet = held.popleft()
            verdict = NF_DROP if loss and random.random() < loss else NF_ACCEPT
            sock.send(message(NFQNL_MSG_VERDICT, queue, [attr(NFQA_VERDICT_HDR, struct.pack("!II", verdict, packet))]))
    # Let everything still held through, so stopping the fault never drops a packet.
    for _, packet in held:
        sock.send(message(NFQNL_MSG_VERDICT, queue, [attr(NFQA_VERDICT_HDR, struct.pack("!II", NF_ACCEPT, packet))]))
    sys.stderr.write("nfq_delay: %d packets delayed\n" % seen)


if __name__ == "__main__":
    main()
