"""Services run inside a test namespace, each in a process group.

ceilometer services fork workers, so a service is started in a session
of its own and stopped or killed as a whole group, with bounded waits.
"""

import os
import signal
import subprocess
import time

from tests.functional import netns


class ManagedProcess:
    """A service run inside a namespace in a process group of its own.

    Output goes to ``log_path``. ``stop`` and ``kill`` signal the whole
    group (ceilometer services fork workers) and wait, bounded.
    """

    def __init__(
        self, ns: netns.Namespace, argv: list[str], log_path: str
    ) -> None:
        self.ns = ns
        self.argv = argv
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        if self.running():
            return
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.ns.exec_argv(self.argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole group at once, as a crash would."""
        self._signal_group(signal.SIGKILL, 10.0)

    def stop(self, grace: float = 5.0) -> None:
        self._signal_group(signal.SIGTERM, grace)
        self._signal_group(signal.SIGKILL, 10.0)

    def _signal_group(self, sig: int, wait: float) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            return
        deadline = time.monotonic() + wait
        while group_alive(self.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)

    def log_tail(self, size: int = 4000) -> str:
        try:
            with open(self.log_path, "rb") as log:
                log.seek(0, os.SEEK_END)
                log.seek(max(log.tell() - size, 0))
                return log.read().decode(errors="replace")
        except OSError:
            return ""


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
