"""What tests send to a loopback collector: datagrams and samples.

Raw datagrams (``send_to``), ceilometer's own ``UDPPublisher``
(``ceilometer_publisher``), both refusing any non-loopback address, and
Samples shaped like the compute side's (``make_sample``).
"""

import datetime
import ipaddress
import socket
import urllib.parse

from ceilometer import sample as ceilometer_sample
from ceilometer.publisher import udp as ceilometer_udp
from ceilometer.publisher import utils as ceilometer_utils
from oslo_config import cfg

from tests.functional import collector_config


def send_to(address: str, port: int, *datagrams: bytes) -> None:
    """Send datagrams to a loopback collector (never anywhere else)."""
    if not ipaddress.ip_address(address).is_loopback:
        raise ValueError(f"{address} is not a loopback address")
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        for data in datagrams:
            sock.sendto(data, (address, port))


def ceilometer_publisher(
    address: str, port: int, secret: str = collector_config.SEED_SECRET
):
    """ceilometer's own ``UDPPublisher`` aimed at a loopback collector."""
    if not ipaddress.ip_address(address).is_loopback:
        raise ValueError(f"{address} is not a loopback address")
    conf = cfg.ConfigOpts()
    conf.register_opts(ceilometer_utils.OPTS, group="publisher")
    conf([], project="ceilometer", default_config_files=[])
    conf.set_override("telemetry_secret", secret, group="publisher")
    host = f"[{address}]" if ":" in address else address
    url = urllib.parse.urlparse(f"udp://{host}:{port}")
    return ceilometer_udp.UDPPublisher(conf, url)


def make_sample(
    host: str = "compute-1",
    name: str = "ha.storage.reachable",
    volume: float = 1,
    resource_id: str | None = None,
    cluster: str = "rack-a",
    timestamp: datetime.datetime | None = None,
) -> ceilometer_sample.Sample:
    """A ceilometer Sample shaped like the compute side's, stamped now."""
    stamp = timestamp or datetime.datetime.now(datetime.timezone.utc)
    return ceilometer_sample.Sample(
        name=name,
        type=ceilometer_sample.TYPE_GAUGE,
        unit="B",
        volume=volume,
        user_id=None,
        project_id=None,
        resource_id=resource_id or f"{host}-storage",
        timestamp=stamp.isoformat(),
        resource_metadata={"host": host, "cluster": cluster},
        source="openstack",
    )
