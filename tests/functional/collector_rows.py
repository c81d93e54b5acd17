"""Count what a test collector wrote, and wait for it, bounded.

``wait_until`` polls with a deadline (never a fixed sleep);
``count_rows`` reads a table of the test database; ``RowCounting`` gives
both collector harnesses their ``count_rows`` and ``wait_for_rows``.
"""

import time

import sqlalchemy as sa

from ceilometer_ha.storage import engine as engine_mod
from ceilometer_ha.storage import models


def wait_until(predicate, timeout: float, what: str, poll: float = 0.02):
    """Poll ``predicate`` until truthy (returned) or TimeoutError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(poll)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")


def count_rows(database_url: str, table: sa.Table = models.sample) -> int:
    """Rows of ``table`` (``ha_sample`` by default) in the database."""
    engine = engine_mod.create_engine(database_url)
    try:
        with engine.connect() as conn:
            query = sa.select(sa.func.count()).select_from(table)
            return int(conn.execute(query).scalar() or 0)
    finally:
        engine.dispose()


class RowCounting:
    """Row counts and waits for a collector writing to ``database_url``."""

    database_url: str

    def count_rows(self, table: sa.Table = models.sample) -> int:
        return count_rows(self.database_url, table)

    def wait_for_rows(self, count: int, timeout: float = 30.0) -> int:
        """Wait until ``ha_sample`` holds at least ``count`` rows."""
        wait_until(
            lambda: self.count_rows() >= count, timeout, f"{count} rows"
        )
        return self.count_rows()
