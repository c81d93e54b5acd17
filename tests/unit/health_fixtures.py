"""A fake clock and an ``ha_latest``/``ha_sample`` filler for verdict tests.

:class:`SampleTable` writes what the collector would have written after
a given sequence of polling cycles: every loss sample into ``ha_sample``
and the latest sample of each resource, with its ``streak`` and
``since``, into ``ha_latest``.
"""

import datetime
import json
import uuid

from ceilometer_ha.storage import engine as db_engine
from ceilometer_ha.storage import models

START = datetime.datetime(2026, 3, 1, 8, 0, 0)


class FakeClock:
    """Naive UTC time that moves only when told to."""

    def __init__(self, now: datetime.datetime = START) -> None:
        self.current = now

    def now(self) -> datetime.datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += datetime.timedelta(seconds=seconds)


def _streak(values: list[float]) -> int:
    count = 1
    while count < len(values) and values[-count - 1] == values[-1]:
        count += 1
    return count


class SampleTable:
    """Writes the stored state of hosts after some polling cycles."""

    def __init__(self, url: str, clock: FakeClock, interval: float = 1.0):
        self.engine = db_engine.create_engine(url)
        models.metadata.create_all(self.engine)
        self.clock = clock
        self.interval = interval

    def _at(self, back: int) -> datetime.datetime:
        return self.clock.now() - datetime.timedelta(
            seconds=back * self.interval
        )

    def _latest(
        self,
        conn,
        host,
        cluster,
        meter,
        resource_id,
        values,
        metadata=None,
        age=0.0,
        skew=0.0,
    ):
        streak = _streak(values)
        recorded = self._at(0) - datetime.timedelta(seconds=age)
        at = recorded + datetime.timedelta(seconds=skew)  # the host's clock
        conn.execute(
            models.latest.delete().where(
                models.latest.c.host == host,
                models.latest.c.meter == meter,
                models.latest.c.resource_id == resource_id,
            )
        )
        conn.execute(
            models.latest.insert().values(
                host=host,
                meter=meter,
                resource_id=resource_id,
                cluster=cluster,
                message_id=uuid.uuid4().hex,
                volume=values[-1],
                unit="",
                timestamp=at,
                recorded_at=recorded,
                streak=streak,
                since=at
                - datetime.timedelta(seconds=(streak - 1) * self.interval),
                resource_metadata=json.dumps(
                    dict(metadata or {}, host=host, cluster=cluster)
                ),
            )
        )

    def host(
        self,
        host: str,
        losses: dict[str, list[float]] | None = None,
        cluster: str = "rack-1",
        hypervisor: list[float] | None = None,
        hypervisor_reason: str | None = None,
        heartbeat_age: float = 0.0,
        ping_loss_ratio: float = 0.5,
        clock_skew: float = 0.0,
        reachability: bool = True,
    ) -> None:
        """Store ``host`` after its cycles, the newest last in each list.

        ``losses`` maps storage addresses to their loss per cycle;
        reachability follows from ``ping_loss_ratio`` as on the agent.
        ``heartbeat_age`` seconds since the last cycle make it stale.
        ``clock_skew`` seconds are added to the host's own times
        (``timestamp``, ``since``), not to the collector's.
        ``reachability`` False leaves out the ``ha.storage.reachable``
        rows, as a pipeline without that meter would.
        """
        skew = clock_skew
        # The history ends when the host's last samples were recorded.
        age = datetime.timedelta(seconds=heartbeat_age)
        with self.engine.begin() as conn:
            self._latest(
                conn,
                host,
                cluster,
                "ha.heartbeat",
                host,
                [1.0],
                age=heartbeat_age,
                skew=skew,
            )
            if hypervisor is not None:
                self._latest(
                    conn,
                    host,
                    cluster,
                    "ha.hypervisor.up",
                    host,
                    hypervisor,
                    {"reason": hypervisor_reason},
                    age=heartbeat_age,
                    skew=skew,
                )
            for address, values in (losses or {}).items():
                rid = f"{host}-{address}"
                reach = [1.0 if v <= ping_loss_ratio else 0.0 for v in values]
                meta = {"address": address, "network": "storage"}
                self._latest(
                    conn,
                    host,
                    cluster,
                    "ha.storage.loss",
                    rid,
                    values,
                    meta,
                    age=heartbeat_age,
                    skew=skew,
                )
                if reachability:
                    self._latest(
                        conn,
                        host,
                        cluster,
                        "ha.storage.reachable",
                        rid,
                        reach,
                        meta,
                        age=heartbeat_age,
                        skew=skew,
                    )
                conn.execute(
                    models.sample.insert(),
                    [
                        {
                            "message_id": uuid.uuid4().hex,
                            "host": host,
                            "cluster": cluster,
                            "meter": "ha.storage.loss",
                            "resource_id": rid,
                            "volume": v,
                            "unit": "",
                            "timestamp": self._at(len(values) - 1 - i)
                            - age
                            + datetime.timedelta(seconds=skew),
                            "recorded_at": self._at(len(values) - 1 - i) - age,
                            "source": "test",
                            "resource_metadata": "{}",
                        }
                        for i, v in enumerate(values)
                    ],
                )

    def clear(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(models.latest.delete())
            conn.execute(models.sample.delete())
