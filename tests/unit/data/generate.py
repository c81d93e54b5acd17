"""Regenerate the captured datagram fixtures of this directory.

Each ``.msgpack`` file holds exactly the bytes ceilometer's UDPPublisher
sends for one sample (``msgpack.dumps(meter_message_from_counter(...),
use_bin_type=True)``), signed with the deployment notes' secret. Run
``python tests/unit/data/generate.py`` from the repository root.
"""

import pathlib

from ceilometer import sample as ceilometer_sample
from ceilometer.publisher import utils
import msgpack

SECRET = "nmWpu7Pu8DDWhQ3oPaBpVQjn"
TIMESTAMP = "2026-11-22T03:00:00.250000+00:00"
HERE = pathlib.Path(__file__).parent


def _sample(name, volume, metadata, resource_id, sample_id):
    return ceilometer_sample.Sample(
        name=name,
        type=ceilometer_sample.TYPE_GAUGE,
        unit="B",
        volume=volume,
        user_id=None,
        project_id=None,
        resource_id=resource_id,
        timestamp=TIMESTAMP,
        resource_metadata=metadata,
        source="openstack",
        id=sample_id,
    )


def main():
    plain = _sample(
        "ha.storage.reachable",
        1,
        {"host": "compute-1", "cluster": "rack-a", "address": "192.0.2.10"},
        "compute-1-192.0.2.10",
        "6f1c55a2-8c2e-11f1-9b2e-525400a1b2c3",
    )
    nested = _sample(
        "ha.storage.loss",
        0.25,
        {
            "host": "计算节点-2",
            "cluster": "机架-b",
            "addresses": ["192.0.2.10", "2001:db8::20"],
            "probe": {"count": 4, "lost": [1], "note": "ünïcode"},
        },
        "计算节点-2-storage",
        "7a2d66b3-8c2e-11f1-9b2e-525400a1b2c3",
    )
    for name, smp in (("signed_plain", plain), ("signed_nested", nested)):
        msg = utils.meter_message_from_counter(smp, SECRET)
        (HERE / f"{name}.msgpack").write_bytes(
            msgpack.dumps(msg, use_bin_type=True)
        )
    forged = utils.meter_message_from_counter(plain, SECRET)
    forged["counter_volume"] = 0
    (HERE / "forged.msgpack").write_bytes(
        msgpack.dumps(forged, use_bin_type=True)
    )
    unsigned = utils.meter_message_from_counter(plain, "")
    (HERE / "unsigned.msgpack").write_bytes(
        msgpack.dumps(unsigned, use_bin_type=True)
    )
    whole = (HERE / "signed_plain.msgpack").read_bytes()
    (HERE / "truncated.msgpack").write_bytes(whole[: len(whole) // 2])


if __name__ == "__main__":
    main()
