"""The kernel's drop count and receive buffer, on real loopback sockets."""

import asyncio
import signal
import socket

from ceilometer_ha import receive_buffer
from ceilometer_ha.collector import kernel
from ceilometer_ha.collector import protocol
from ceilometer_ha.collector import stats as stats_mod
from tests.functional import collector as helper
from tests.functional import collector_traffic as traffic


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
    # Linux keeps (and reports) twice the bytes asked for.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        granted = receive_buffer.set_receive_buffer(sock, 262144)
        assert granted == receive_buffer.granted_receive_buffer(sock)
        with open("/proc/sys/net/core/rmem_max", encoding="ascii") as f:
            cap = int(f.read())
        # Forced past the cap when privileged, else capped by it.
        assert granted in {262144, min(262144, cap)}


def test_the_final_stats_line_has_the_drops_of_a_closed_socket(tmp_path):
    # No periodic stats line: only the one at shutdown can show the
    # drops, after the socket is closed and the kernel forgot them.
    url = f"sqlite:///{tmp_path / 'collector.sqlite'}"
    options = {"collector": {"stats_interval": 0, "udp_receive_buffer": 65536}}
    with helper.CollectorProcess(url, tmp_path, options) as collector:
        collector.proc.send_signal(signal.SIGSTOP)
        try:  # a stopped reader: the 64 KiB buffer fills at once
            traffic.send_to("127.0.0.1", collector.port, *[b"x" * 1000] * 1000)
        finally:
            collector.proc.send_signal(signal.SIGCONT)
        assert collector.stop() == 0
    final = [
        line
        for line in collector.log_text().splitlines()
        if "kernel_dropped=" in line
    ][-1]
    dropped = int(final.split("kernel_dropped=")[1].split()[0])
    assert 500 <= dropped <= 1000


class RecordingProtocol:
    """The part of SampleProtocol a SocketDrain feeds."""

    def __init__(self):
        self.datagrams = []

    def datagrams_received(self, datagrams):
        self.datagrams.extend(data for data, _addr in datagrams)

    def error_received(self, exc):
        raise AssertionError(f"unexpected socket error {exc}")


def _drain_after(sent, limit):
    """Datagrams a stopped SocketDrain hands over, its loop never run."""
    loop = asyncio.new_event_loop()
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        receiver.bind(("127.0.0.1", 0))
        receiver.setblocking(False)
        proto = RecordingProtocol()
        drain = protocol.SocketDrain(loop, receiver, proto, max_per_wakeup=3)
        drain.start()
        for data in sent:
            sender.sendto(data, receiver.getsockname())
        read = drain.stop(limit)
        assert read == len(proto.datagrams)
        return proto.datagrams
    finally:
        receiver.close()
        sender.close()
        loop.close()


def test_the_stop_hands_over_the_datagrams_already_waiting():
    sent = [f"d{i}".encode() for i in range(10)]
    assert _drain_after(sent, protocol.MAX_DRAINED) == sent


def test_the_stop_reads_no_more_than_its_limit():
    sent = [f"d{i}".encode() for i in range(10)]
    assert _drain_after(sent, 4) == sent[:4]
