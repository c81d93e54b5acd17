"""HMAC signatures of metering messages, byte-for-byte as ceilometer's.

``ceilometer.publisher.utils.compute_signature`` feeds an HMAC-SHA256 with
``str(name)`` and ``str(value)`` of every flattened key/value pair, keys
sorted at each nesting level, nested dicts joined with ``:``, lists passed
through ``decode_unicode`` (so their strings appear as ``b'...'``), and
``message_signature`` itself skipped. Feeding an HMAC piece by piece is the
same as feeding it the concatenation once, so this module builds one
string and feeds it once to a copy of an HMAC keyed at start-up: several
times faster than ceilometer's loop, and the tests prove the results
identical against ceilometer's own functions.
"""

import hashlib
import hmac
from typing import Any

SIGNATURE_KEY = "message_signature"
_SCALARS = (str, int, float, type(None))


def _decode_unicode(value: Any) -> Any:
    """ceilometer's ``decode_unicode``: str -> bytes inside lists."""
    if isinstance(value, dict):
        return {
            _decode_unicode(k): _decode_unicode(v)
            for k, v in sorted(value.items())
        }
    if isinstance(value, (tuple, list)):
        return [_decode_unicode(element) for element in value]
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return value


def _append_pairs(parts: list[str], message: dict, prefix: str) -> None:
    # Sorting the keys orders exactly as sorting the items (keys of one
    # map never compare equal) and is cheaper. Exact str and None come
    # first: they are almost every value on the wire, and str(value) of
    # an exact str is the value itself.
    append = parts.append
    for name in sorted(message):
        value = message[name]
        key = prefix + name if type(name) is str else f"{prefix}{name}"
        if key == SIGNATURE_KEY:
            continue
        kind = type(value)
        if kind is str:
            append(key)
            append(value)
        elif value is None:
            append(key)
            append("None")
        elif kind is dict:
            _append_pairs(parts, value, key + ":")
        elif isinstance(value, _SCALARS):
            append(key)
            append(str(value))
        elif isinstance(value, dict):
            _append_pairs(parts, value, f"{key}:")
        elif isinstance(value, (tuple, list)):
            append(key)
            append(str(_decode_unicode(value)))
        else:
            append(key)
            append(str(value))


def signed_payload(message: dict) -> bytes:
    """The bytes ceilometer feeds its HMAC for ``message``.

    Raises ``TypeError`` for keys that cannot be sorted together, as
    ceilometer does; ``UnicodeError`` for undecodable bytes in lists.
    """
    parts: list[str] = []
    _append_pairs(parts, message, "")
    return "".join(parts).encode("utf-8")


class Signer:
    """Signs and verifies messages with one shared secret.

    An empty secret signs nothing (``''``) and verifies everything, like
    ceilometer; the collector refuses such a secret at start-up unless
    unsigned samples are explicitly allowed.
    """

    def __init__(self, secret: str | bytes) -> None:
        if isinstance(secret, str):
            secret = secret.encode("utf-8")
        self._key = secret
        # The keyed HMAC state, copied per message: cheaper than keying
        # a new one each time.
        self._keyed = hmac.new(secret, digestmod=hashlib.sha256)

    @property
    def enabled(self) -> bool:
        return bool(self._key)

    def sign(self, message: dict) -> str:
        """Return the hex signature ceilometer would compute."""
        if not self._key:
            return ""
        mac = self._keyed.copy()
        mac.update(signed_payload(message))
        return mac.hexdigest()

    def verify(self, message: dict) -> bool:
        """True when ``message_signature`` matches the rest of ``message``."""
        if not self._key:
            return True
        claimed = message.get(SIGNATURE_KEY, "")
        if not isinstance(claimed, str) or not claimed.isascii():
            return False
        return hmac.compare_digest(self.sign(message), claimed)


def compute_signature(message: dict, secret: str | bytes) -> str:
    """Drop-in equivalent of ceilometer's ``compute_signature``."""
    return Signer(secret).sign(message)


def verify_signature(message: dict, secret: str | bytes) -> bool:
    """Drop-in equivalent of ceilometer's ``verify_signature``."""
    return Signer(secret).verify(message)
