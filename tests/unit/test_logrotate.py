"""The shipped logrotate file, run by the real logrotate.

A copy whose ``/var/log/ceilometer`` is rewritten to a temporary
directory is forced through two rotations while a ``logging`` file
handler (oslo.log's, opened once, in append mode) goes on writing.
"""

import logging
import pathlib
import re
import shutil
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
LOGROTATE = REPO / "etc" / "logrotate.d" / "ceilometer-ha"
COMPUTE_CONF = REPO / "etc" / "ceilometer" / "compute" / "ceilometer_ha.conf"
OCF_AGENT = REPO / "etc" / "pacemaker" / "ceilometer-collector-ha"
LOG_DIR = "/var/log/ceilometer"


def _rotate(conf: pathlib.Path, state: pathlib.Path) -> None:
    done = subprocess.run(
        ["logrotate", "--force", "--state", str(state), str(conf)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "error" not in done.stderr.lower(), done.stderr


def test_names_the_log_files_the_services_are_given():
    text = LOGROTATE.read_text()
    compute = re.search(r"^log_file = (.+)$", COMPUTE_CONF.read_text(), re.M)
    collector = re.search(
        r'OCF_RESKEY_log_file:=([^}"]+)', OCF_AGENT.read_text()
    )
    assert compute and collector
    for path in (compute.group(1), collector.group(1)):
        assert re.search(rf"^{re.escape(path)}$", text, re.M), path


def test_rotation_keeps_every_line_of_a_running_service(tmp_path):
    if shutil.which("logrotate") is None:
        pytest.skip("logrotate is not installed")
    conf = tmp_path / "ceilometer-ha"
    conf.write_text(LOGROTATE.read_text().replace(LOG_DIR, str(tmp_path)))
    state = tmp_path / "state"
    path = tmp_path / "ceilometer-polling-ha.log"
    handler = logging.FileHandler(path)  # as oslo.log opens log_file
    logger = logging.Logger("service")
    logger.addHandler(handler)
    try:
        logger.warning("line 1")
        _rotate(conf, state)
        logger.warning("line 2")
        _rotate(conf, state)
        logger.warning("line 3")
    finally:
        handler.close()
    # Truncated in place, written on from its start: no hole of NULs.
    assert path.read_bytes() == b"line 3\n"
    assert (tmp_path / "ceilometer-polling-ha.log.1").read_bytes() == (
        b"line 2\n"
    )
    # The older one compressed, one rotation late (delaycompress).
    older = tmp_path / "ceilometer-polling-ha.log.2.gz"
    done = subprocess.run(
        ["gzip", "-dc", str(older)], capture_output=True, timeout=60
    )
    assert done.stdout == b"line 1\n"
