"""Sample records for the storage tests: one default, the fields changed.

``record(message_id, **fields)`` is compute-1's storage reachability
sample at ``T0``, as ``wire.SampleRecord`` carries it to the store;
``fields`` replace any default, and ``recorded_at`` follows
``timestamp`` unless given. A test names only the fields it is about.
"""

import datetime
import typing

from ceilometer_ha import wire

T0 = datetime.datetime(2026, 11, 22, 3, 0, 0, 250000)


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
