"""The ``ceilometer-collector-ha`` program ignores SIGHUP before its imports.

SIGHUP's default action ends a process: ignored only once the
collector's modules are imported, a ``kill -HUP`` in that time would
end a starting collector.
"""

import importlib.metadata
import subprocess
import sys
import textwrap

# Run in a fresh interpreter: records what SIGHUP does at the moment
# each named module is first imported, from the program's entry point.
PROBE = textwrap.dedent(
    """
    import importlib.abc
    import signal
    import sys

    WATCHED = ("oslo_config", "sqlalchemy", "ceilometer_ha.cmd.collector")

    class Probe(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name in WATCHED:
                ignored = signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
                print(name, "ignored" if ignored else "default")
                raise SystemExit(0)
            return None

    from ceilometer_ha.cmd import collector_entry

    print("entry imports", *sorted(w for w in WATCHED if w in sys.modules))
    sys.meta_path.insert(0, Probe())
    sys.argv = ["ceilometer-collector-ha", "--config-file", "none.conf"]
    collector_entry.main()
    print("not reached")
    """
)


def test_sighup_is_ignored_before_the_collector_is_imported():
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = done.stdout.splitlines()
    assert lines[0] == "entry imports", lines
    # The first of the watched modules the program imports.
    assert len(lines) == 2, lines
    assert lines[1].endswith(" ignored"), lines


def test_the_console_script_is_the_entry_module():
    (script,) = importlib.metadata.entry_points(
        group="console_scripts", name="ceilometer-collector-ha"
    )
    assert script.value == "ceilometer_ha.cmd.collector_entry:main"
