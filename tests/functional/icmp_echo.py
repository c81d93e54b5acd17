"""Count answered ICMP echo requests sent from inside a test namespace.

The test bed's own ping, so that tests can check the wiring and the
faults without a ``ping`` binary in the namespaces: a small script run
with this interpreter inside the namespace sends the requests over a
raw socket. The route is checked first (only the documentation ranges,
only through an interface the test bed made).
"""

import sys

from tests.functional import netns

# Sends ``count`` echo requests from inside a namespace over a raw socket
# (no ping binary needed) and prints how many were answered.
_ECHO_SCRIPT = r"""
import os, socket, struct, sys, time
def checksum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    return ~(s + (s >> 16)) & 0xffff
addr, count, wait = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
ident, answered = os.getpid() & 0xffff, 0
for seq in range(count):
    body = struct.pack('!BBHHH', 8, 0, 0, ident, seq) + b'chatestbed000000'
    packet = body[:2] + struct.pack('!H', checksum(body)) + body[4:]
    try:
        sock.sendto(packet, (addr, 0))
    except OSError:
        continue
    end = time.monotonic() + wait
    while time.monotonic() < end:
        sock.settimeout(max(end - time.monotonic(), 0.001))
        try:
            data = sock.recv(2048)
        except socket.timeout:
            break
        head = data[(data[0] & 15) * 4:][:8]
        kind, _, _, rid, rseq = struct.unpack('!BBHHH', head)
        if kind == 0 and rid == ident and rseq == seq:
            answered += 1
            break
print(answered)
"""


def echo_replies(
    ns: netns.Namespace, address: str, count: int = 4, wait: float = 0.5
) -> int:
    """Echo requests from ``ns`` to ``address``: how many were answered."""
    ns.require_route(address)
    out = ns.run(
        [sys.executable, "-c", _ECHO_SCRIPT, address, str(count), str(wait)],
        timeout=count * wait + 10,
    )
    return int(out.strip())
