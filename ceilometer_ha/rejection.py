"""Why a datagram is rejected: the reasons and the error that carries one.

A leaf shared by the codec (``wire``), the checks of a message's fields
(``sample_fields``) and the receiving side, which counts rejections by
reason (``collector.protocol``, ``collector.stats``: every reason has a
counter from the start, at zero). A rejection is a ``DatagramError``
whose ``reason`` is one of ``REASONS`` and whose ``detail`` says, for a
log line, what was wrong.
"""

OVERSIZED = "oversized"
UNDECODABLE = "undecodable"
UNSIGNED = "unsigned"
BAD_SIGNATURE = "bad_signature"
INVALID = "invalid"
STALE = "stale"
FUTURE = "future"
REASONS = (
    OVERSIZED,
    UNDECODABLE,
    UNSIGNED,
    BAD_SIGNATURE,
    INVALID,
    STALE,
    FUTURE,
)


class DatagramError(Exception):
    """A datagram that must be dropped; ``reason`` is one of REASONS."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
