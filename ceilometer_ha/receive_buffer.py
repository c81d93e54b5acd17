"""Socket receive buffers: ask for a size, past the sysctl cap if allowed.

The kernel caps SO_RCVBUF at ``net.core.rmem_max``; a process with
CAP_NET_ADMIN may go past it with SO_RCVBUFFORCE, which Python's socket
module does not export. Used by the collector's UDP socket and the
prober's ICMP socket, both of which receive bursts.
"""

import socket

# Linux's value; the socket module lacks the name.
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)


def set_receive_buffer(sock: socket.socket, requested: int) -> int:
    """Ask for ``requested`` bytes, forced when permitted, else capped.

    Returns the bytes granted (see ``granted_receive_buffer``); raises
    OSError only if even the capped request fails.
    """
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, requested)
    except OSError:  # not permitted: capped at net.core.rmem_max
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, requested)
    return granted_receive_buffer(sock)


def granted_receive_buffer(sock: socket.socket) -> int:
    """The receive buffer in the units it was asked in (Linux reports
    double, for its own bookkeeping)."""
    return sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) // 2
