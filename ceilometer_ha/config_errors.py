"""oslo.config's errors in words an operator can act on.

oslo.config says a bad value as ``Value for option ping_loss_ratio from
LocationInfo(location=<Locations.user: (4, True)>, detail='/etc/...')
is not valid: Should be less than or equal to 1.0``; the lines that
report it name the group, the option and the file already, so only the
reason is kept.
"""

import re

_BAD_VALUE = re.compile(
    r"\AValue for option \S+ (?:from .*? )?is not valid: (?P<why>.*)\Z",
    re.DOTALL,
)


def describe(exc: BaseException) -> str:
    """What is wrong, for a line that names the option already."""
    text = str(exc)
    match = _BAD_VALUE.match(text)
    if match is None:
        return text
    return f"bad value: {match['why']}"
