"""Sample records for the storage tests: one default, the fields changed.

``record(message_id, **fields)`` is compute-1's storage reachability
sample at ``T0``, as ``wire.SampleRecord`` carries it to the store;
``fields`` replace any default, and ``recorded_at`` follows
``timestamp`` unless given. A test names only the fields it is about.
"""

import datetime
import itertools
import typing

from ceilometer_ha import wire

T0 = datetime.datetime(2026, 11, 22, 3, 0, 0, 250000)
_ids = itertools.count()


def record(message_id: str = "m-1", **fields: typing.Any) -> wire.SampleRecord:
    """A ``wire.SampleRecord`` with the defaults above, ``fields`` replaced."""
    stamp = fields.pop("timestamp", T0)
    default = wire.SampleRecord(
        message_id=message_id,
        host="compute-1",
        cluster="rack-a",
        meter="ha.storage.reachable",
        resource_id="compute-1-storage",
        volume=1.0,
        unit="B",
        timestamp=stamp,
        recorded_at=stamp,
        source="openstack",
        resource_metadata={"host": "compute-1"},
    )
    return default._replace(**fields)


def storage_cycle(
    host: str, address: str, loss: float, at: datetime.datetime
) -> list[wire.SampleRecord]:
    """One address's loss and reachability samples of ``host``'s cycle
    stamped ``at`` (and recorded then), reachable as the agent judges
    it with its default ``ping_loss_ratio``."""
    return [
        record(
            f"cycle-{next(_ids)}",
            host=host,
            cluster="rack-1",
            meter=meter,
            resource_id=f"{host}-{address}",
            volume=volume,
            timestamp=at,
            resource_metadata={"host": host},
        )
        for meter, volume in (
            ("ha.storage.loss", loss),
            ("ha.storage.reachable", float(loss <= 0.5)),
        )
    ]


def heartbeat(host: str, at: datetime.datetime) -> wire.SampleRecord:
    """``host``'s heartbeat stamped ``at`` (and recorded then)."""
    return record(
        f"heartbeat-{next(_ids)}",
        host=host,
        cluster="rack-1",
        meter="ha.heartbeat",
        resource_id=host,
        timestamp=at,
        resource_metadata={"host": host},
    )
