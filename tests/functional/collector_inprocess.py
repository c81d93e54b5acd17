"""The collector service on an asyncio loop in a thread of the test.

The same service and configuration as ``ceilometer-collector-ha``
(``tests.functional.collector_config``), for the many fast tests:
``stats`` is the live counter object, ``stop`` returns the samples left
unwritten.
"""

import asyncio
import pathlib
import threading

from ceilometer_ha.cmd import collector as collector_cmd
from ceilometer_ha.collector import config_check
from ceilometer_ha.collector import service
from tests.functional import collector_config
from tests.functional import collector_rows


class InProcessCollector(collector_rows.RowCounting):
    """The collector service on a loop thread inside the test process."""

    def __init__(
        self,
        database_url: str,
        workdir: pathlib.Path,
        options: dict[str, dict[str, object]] | None = None,
        run_dbsync: bool = True,
    ) -> None:
        self.database_url = database_url
        config, overlay, _port = collector_config.write_files(
            pathlib.Path(workdir),
            database_url,
            collector_config.SEED_CONFIG.read_text(),
            options,
        )
        if run_dbsync:
            collector_config.dbsync(config)
        self.conf = collector_cmd.prepare_conf(
            ["--config-file", str(config), "--config-file", str(overlay)]
        )
        config_check.check_config(self.conf)
        self.service = service.CollectorService(self.conf)
        self.stats = self.service.stats
        self.address = collector_config.listen_address(options)
        self.port = 0
        self.left: int | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.left = asyncio.run(self.service.serve())
        except BaseException as exc:  # reported by start()/stop()
            self.error = exc
            self.service.ready.set()

    def start(self, timeout: float = 30.0) -> "InProcessCollector":
        self._thread.start()
        if not self.service.ready.wait(timeout):
            raise TimeoutError("collector did not start")
        if self.error:
            raise self.error
        self.port = int(self.service.port or 0)
        return self

    def stop(self, timeout: float = 30.0) -> int:
        """Stop and flush; return the samples left unwritten. A collector
        still running after ``timeout`` seconds is a failure, not 0."""
        self.service.request_stop()
        self._thread.join(timeout)
        if self.error:
            raise self.error
        if self._thread.is_alive():
            raise AssertionError(f"the collector did not stop in {timeout} s")
        return int(self.left or 0)

    def __enter__(self) -> "InProcessCollector":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        if self._thread.is_alive():
            self.stop()
