"""The kernel's drop count and receive buffer, on real loopback sockets."""

import socket

from ceilometer_ha import receive_buffer
from ceilometer_ha.collector import kernel
from ceilometer_ha.collector import stats as stats_mod


def test_a_full_receive_buffer_counts_kernel_drops_and_keeps_them():
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        receiver.bind(("127.0.0.1", 0))
        drops = kernel.SocketDrops(receiver)
        assert drops.read() == 0
        target = receiver.getsockname()
        for _ in range(200):  # never read: the buffer fills at once
            sender.sendto(b"x" * 1000, target)
        dropped = drops.read()
        assert dropped is not None and 150 <= dropped <= 200
        stats = stats_mod.Stats()
        stats.kernel_drop_sources.append(drops.read)
        assert stats.snapshot()["kernel_dropped"] == dropped
    finally:
        receiver.close()
        sender.close()
    assert drops.read() == dropped  # the closed socket's last count


def test_the_receive_buffer_granted_is_reported_in_bytes_asked():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        granted = receive_buffer.set_receive_buffer(sock, 262144)
        assert granted == receive_buffer.granted_receive_buffer(sock)
        with open("/proc/sys/net/core/rmem_max", encoding="ascii") as f:
            cap = int(f.read())
        # Forced past the cap when privileged, else capped by it.
        assert min(262144, cap) <= granted
