"""``systemd-analyze verify`` of a shipped unit, against real binaries.

The tool checks a unit's syntax and that every ``ExecStart*=`` binary
exists and is executable. The shipped units name the packaged paths
(``/usr/bin/...``), which do not exist on a test machine, so a temporary
copy is verified whose ``/usr/bin/`` is rewritten to a bin directory:
by default that of the running interpreter (the venv holding ceilometer
and ceilometer-ha), i.e. the same unit checked against binaries that
really exist.
"""

import pathlib
import shutil
import subprocess
import sys

import pytest


def verify(
    unit: pathlib.Path, directory: pathlib.Path, bin_dir: str | None = None
) -> subprocess.CompletedProcess:
    """Run ``systemd-analyze verify`` on a rewritten copy of ``unit``."""
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    bin_dir = bin_dir or str(pathlib.Path(sys.executable).parent)
    copy = directory / unit.name
    copy.write_text(unit.read_text().replace("/usr/bin/", f"{bin_dir}/"))
    return subprocess.run(
        ["systemd-analyze", "verify", str(copy)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
