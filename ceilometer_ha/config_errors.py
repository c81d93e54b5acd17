"""oslo.config's errors in words an operator can act on, and the
names it would ignore without a word.

oslo.config says a bad value as ``Value for option ping_loss_ratio from
LocationInfo(location=<Locations.user: (4, True)>, detail='/etc/...')
is not valid: Should be less than or equal to 1.0``; the lines that
report it name the group, the option and the file already, so only the
reason is kept. And a group or option name that a file misspells
(``[helth]``, ``udp_adress``) is set nowhere: :func:`misread_names`
finds those of the groups a program registers.
"""

import collections.abc
import difflib
import re

from oslo_config import cfg

from ceilometer_ha import opts

# Groups that are the project's alone: any unknown option there is a
# mistake. Others ([database], and [collector], where a file copied
# from an old ceilometer.conf keeps the old collector's options) also
# hold other services' options: only one close to a known name is.
OWN_GROUPS = frozenset({"health"})

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


def group_name(section: str) -> str:
    """The group a file's ``[section]`` sets: oslo.config reads every
    group name but ``DEFAULT`` in lower case (``[Database]`` is
    ``[database]``; ``[default]`` is no ``[DEFAULT]``)."""
    return section if section == "DEFAULT" else section.lower()


def misread_names(
    conf: cfg.ConfigOpts, paths: collections.abc.Iterable[str]
) -> list[str]:
    """Misspelt groups and options of the groups ``conf`` registers
    (the project's options' deprecated names count as known)."""
    groups = {
        name: set(conf[name])
        for name in conf
        if isinstance(conf[name], cfg.ConfigOpts.GroupAttr)
    }
    for group, names in _deprecated_names().items():
        if group in groups:
            groups[group] |= names
    problems = []
    for path in paths:
        sections: dict = {}
        cfg.ConfigParser(path, sections).parse()
        for section, values in sections.items():
            group = group_name(section)
            if group in groups:
                problems += _misread_options(
                    path, section, values, groups[group], group
                )
                continue
            meant = meant_group(section, groups)
            if meant:
                problems.append(
                    f"{path}: [{section}] is no group; probably a "
                    f"misspelt [{meant}], whose options it would not set"
                )
    return problems


def _deprecated_names() -> dict[str, set[str]]:
    """Per group, the deprecated names of the project's options, which
    oslo.config still reads (``[database] sql_connection``)."""
    found: dict[str, set[str]] = {}
    for lister in (
        opts.list_collector_opts,
        opts.list_health_opts,
        opts.list_compute_opts,
    ):
        for group, options in lister():
            for opt in options:
                for old in opt.deprecated_opts:
                    where = group_name(old.group or group or "DEFAULT")
                    found.setdefault(where, set()).add(old.name or opt.name)
    return found


def meant_group(
    section: str, groups: collections.abc.Iterable[str]
) -> str | None:
    """The group of ``groups`` that ``[section]``, no group of them,
    probably misspells (``[helth]``, ``[DEAFULT]``, ``[default]``), in
    any case; None for another service's group (``[database_ro]``)."""
    lowered = {g.lower(): g for g in groups}
    close = difflib.get_close_matches(
        section.lower(), lowered, n=1, cutoff=0.75
    )
    if close and abs(len(close[0]) - len(section)) <= 2:
        return lowered[close[0]]
    return None


def _misread_options(path, section, values, known, group) -> list[str]:
    problems = []
    for option in values:
        if option in known:
            continue
        close = difflib.get_close_matches(option, known, n=1, cutoff=0.8)
        if close:
            problems.append(
                f"{path}: [{section}] {option}: unknown option; did you "
                f"mean {close[0]}?"
            )
        elif group in OWN_GROUPS:
            problems.append(f"{path}: [{section}] {option}: unknown option")
    return problems
