"""The groups and option names of a configuration file, and its values.

For ``ceilometer-ha check-config``: unknown groups and options (with the
closest known name), groups the HA services do not read, removed
options, and every value oslo.config would refuse.
"""

import collections.abc
import difflib

from oslo_config import cfg

from ceilometer_ha import config_errors
from ceilometer_ha.cmd import known_options

# Groups of other OpenStack services often left in copied files.
UNUSED_GROUPS = frozenset(
    {
        "keystone_authtoken",
        "oslo_messaging_amqp",
        "oslo_policy",
        "oslo_middleware",
        "cors",
        "api",
        "matchmaker_redis",
        "database_ro",
    }
)
# Read by ceilometer-polling (its notification transport, even when
# the ha_pipeline driver publishes), never by the collector.
AGENT_ONLY_GROUPS = frozenset(
    {
        "oslo_messaging_kafka",
        "oslo_messaging_notifications",
        "oslo_messaging_rabbit",
    }
)
# Options removed from OpenStack that old files still carry.
REMOVED_OPTIONS = {
    ("DEFAULT", "verbose"): "removed from oslo.log; it is ignored",
    ("DEFAULT", "rpc_backend"): "removed from oslo.messaging; it is ignored",
    ("DEFAULT", "dispatcher"): None,
}


def is_compute_file(sections: collections.abc.Iterable[str]) -> bool:
    """A compute node's file: it has a ``[compute]`` group, even a
    misspelt one (``[comptue]``, ``[Compute]``), so that it is checked
    as the agent reads it rather than as a controller's."""
    return any(
        s.lower() == "compute"
        or difflib.get_close_matches(s.lower(), ["compute"], cutoff=0.8)
        for s in sections
    )


class Findings:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def error(self, path: str, text: str) -> None:
        self.errors.append(f"ERROR {path}: {text}")

    def warning(self, path: str, text: str) -> None:
        self.warnings.append(f"WARNING {path}: {text}")


def _suggest(name: str, candidates) -> str:
    # [default] is no [DEFAULT] to oslo.config (it lower-cases every
    # other group name): a wrong case, which difflib weighs little.
    same = sorted(c for c in candidates if c.lower() == name.lower())
    if same:
        return f"; did you mean {same[0]!r}?"
    close = difflib.get_close_matches(
        name, sorted(candidates), n=1, cutoff=0.6
    )
    return f"; did you mean {close[0]!r}?" if close else ""


def check_names(path, known, findings) -> set[str]:
    """Report the file's unknown and unread groups and options; return
    the groups whose values are not this file's reader's business."""
    sections: dict = {}
    cfg.ConfigParser(path, sections).parse()
    compute = is_compute_file(sections)
    unread = set()
    for section, values in sections.items():
        group = config_errors.group_name(section)  # [Database]: database
        if group in AGENT_ONLY_GROUPS and not compute:
            findings.warning(
                path,
                f"[{section}] is read by ceilometer-polling on compute "
                "nodes, not by the collector",
            )
            unread.add(group)
            continue
        if group in UNUSED_GROUPS:
            findings.warning(
                path,
                f"[{section}] is not read by "
                "ceilometer-polling or the collector",
            )
            continue
        if group not in known:
            findings.error(
                path, f"unknown group [{section}]" + _suggest(section, known)
            )
            continue
        for option in values:
            if option in known[group]:
                continue
            if (group, option) in REMOVED_OPTIONS:
                why = REMOVED_OPTIONS[group, option] or "deprecated"
                findings.warning(path, f"[{section}] {option}: {why}")
                continue
            findings.error(
                path,
                f"[{section}] unknown option {option!r}"
                + _suggest(option, known[group]),
            )
    return unread


def check_values(
    known: known_options.KnownOptions, findings, path, unread: set[str]
) -> None:
    conf = known.conf
    for group, names in sorted(known.registered.items()):
        if group in unread:
            continue
        section = conf if group == "DEFAULT" else conf[group]
        for name in sorted(names):
            try:
                getattr(section, name)
            except (cfg.RequiredOptError, cfg.NoSuchOptError):
                continue  # needed by services other than ours
            except (cfg.Error, ValueError) as exc:
                findings.error(
                    path, f"[{group}] {name}: {config_errors.describe(exc)}"
                )
