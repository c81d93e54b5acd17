"""What the kernel does with the receiving socket before we read it.

A datagram that arrives while the socket's receive buffer is full is
dropped by the kernel, never seen by the collector and so never counted
by it. Linux counts those drops per socket in ``/proc/net/udp`` and
``/proc/net/udp6`` (the last column, found by the socket's inode);
``SocketDrops`` reads that count for the stats line and /metrics. (The
buffer itself is set with ``ceilometer_ha.receive_buffer``.)
"""

import os
import socket

PROC_TABLES = ("/proc/net/udp", "/proc/net/udp6")
# Columns of a /proc/net/udp line: sl local rem st queues tr retrnsmt uid
# timeout inode ref pointer drops.
_INODE, _DROPS = 9, 12


def drops_in_table(text: str, inode: int) -> int | None:
    """The drop count of the socket ``inode`` in a /proc/net/udp text."""
    wanted = str(inode)
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) > _DROPS and fields[_INODE] == wanted:
            return int(fields[_DROPS])
    return None


class SocketDrops:
    """The kernel's count of datagrams it dropped for one socket.

    Once the socket is closed the kernel forgets it; the last count
    read is kept, so the final stats line still shows it.
    """

    def __init__(
        self, sock: socket.socket, tables: tuple[str, ...] = PROC_TABLES
    ) -> None:
        self._inode = os.fstat(sock.fileno()).st_ino
        self._tables = tables
        self._last: int | None = None

    def read(self) -> int | None:
        """The count; None where the kernel never said."""
        for path in self._tables:
            try:
                with open(path, encoding="ascii") as table:
                    drops = drops_in_table(table.read(), self._inode)
            except (OSError, ValueError):
                continue
            if drops is not None:
                self._last = drops
                break
        return self._last
