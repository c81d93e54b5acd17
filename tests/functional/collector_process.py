"""``ceilometer-collector-ha`` run as a real subprocess for tests.

Started from the deployment notes' controller file plus an overlay
(``tests.functional.collector_config``); ``command_prefix`` runs it
elsewhere, e.g. inside a network namespace. ``start`` returns once it
listens, ``stop`` sends SIGTERM and returns the exit code.
"""

import pathlib
import signal
import subprocess
import typing

from tests.functional import collector_config
from tests.functional import collector_rows


class CollectorProcess(collector_rows.RowCounting):
    """``ceilometer-collector-ha`` as a subprocess; see the module doc."""

    def __init__(
        self,
        database_url: str,
        workdir: pathlib.Path,
        options: dict[str, dict[str, object]] | None = None,
        template: str | None = None,
        run_dbsync: bool = True,
        command_prefix: list[str] | None = None,
    ) -> None:
        self.database_url = database_url
        self.command_prefix = list(command_prefix or [])
        self.workdir = pathlib.Path(workdir)
        template = template or collector_config.SEED_CONFIG.read_text()
        self.config_path, self.overlay_path, self.port_file = (
            collector_config.write_files(
                self.workdir, database_url, template, options
            )
        )
        self.log_path = self.workdir / "collector.log"
        self.address = collector_config.listen_address(options)
        self.port = 0
        self.run_dbsync = run_dbsync
        self.proc: subprocess.Popen | None = None
        self.returncode: int | None = None

    @property
    def argv(self) -> list[str]:
        return self.command_prefix + [
            str(collector_config.BIN / "ceilometer-collector-ha"),
            "--config-file",
            str(self.config_path),
            "--config-file",
            str(self.overlay_path),
        ]

    def start(
        self,
        timeout: float = 30.0,
        while_starting: typing.Callable[[], object] | None = None,
    ) -> "CollectorProcess":
        """Launch and wait until it listens; ``port`` is then set.

        ``while_starting`` is called once the process is launched, while
        it starts (``listening()`` tells when that is over).
        """
        if self.run_dbsync:
            collector_config.dbsync(self.config_path)
        self.port_file.unlink(missing_ok=True)
        with open(self.log_path, "ab") as log_file:
            self.proc = subprocess.Popen(
                self.argv, stdout=log_file, stderr=subprocess.STDOUT
            )
        proc = self.proc
        if while_starting is not None:
            while_starting()

        def _listening():
            if proc.poll() is not None:
                raise RuntimeError(
                    f"collector exited with {proc.returncode}:\n"
                    + self.log_text()
                )
            return self.port_file.read_text() if self.listening() else None

        self.port = int(
            collector_rows.wait_until(
                _listening, timeout, "the collector port"
            )
        )
        return self

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, wait for the flush and exit; return the exit code."""
        if self.proc is None:
            raise RuntimeError("not started")
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.returncode = self.proc.returncode
        return self.returncode

    def listening(self) -> bool:
        """True once the process has written the port it listens on."""
        text = self.port_file.exists() and self.port_file.read_text()
        return bool(text and text.endswith("\n"))

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def __enter__(self) -> "CollectorProcess":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        if self.proc is not None and self.returncode is None:
            self.stop()
