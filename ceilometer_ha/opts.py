"""Every option of ceilometer-ha, and the functions that register them.

A leaf module: it imports only oslo.config, so the agent plugins, the
collector, the health library and oslo-config-generator can all use it
without pulling each other in. Options are registered on the
``ConfigOpts`` the caller passes, never on the global ``cfg.CONF``.

Option names and groups taken from the deployment notes keep the meaning
they have there (``[compute] storage_server_address``, ``ping_count``,
``ping_loss_ratio``; ``[collector] udp_address``, ``udp_port``;
``[database] connection``, ``metering_time_to_live``;
``[DEFAULT] meter_dispatchers``; ``[publisher] telemetry_secret``).
"""

import ipaddress

from oslo_config import cfg
from oslo_config import types

# The placeholder ceilometer ships as its default secret. A collector that
# accepted it would accept samples signed by any unconfigured agent.
PLACEHOLDER_SECRET = "change this for valid signing"  # noqa: S105

# The characters the collector refuses in the names that key its tables
# (a regular expression's class): C0 and C1 controls (U+0085 is a line
# break too, U+009B a terminal escape) and the Unicode line and
# paragraph separators.
CONTROL_CHARACTERS = r"\x00-\x1f\x7f-\x9f\u2028\u2029"
# A cluster name the collector stores: at most 255 characters, none of
# them a control character (a line break, from an indented line after
# ``cluster =``, say).
CLUSTER_NAME_PATTERN = rf"\A[^{CONTROL_CHARACTERS}]{{0,255}}\Z"

_BROADCAST = ipaddress.IPv4Address("255.255.255.255")


class ProbeAddress(types.HostAddress):
    """A host name, or an IP address that one host can ping.

    Refused: addresses no echo request can be sent to, or none answered
    from as from a storage server (all of them read as a storage lost,
    or as never checked): the unspecified, multicast and broadcast
    addresses, IPv6 link-local ones (they need an interface scope,
    which this option does not take) and IPv4-mapped IPv6 ones, which
    an IPv6 socket sends into the void.
    """

    def __call__(self, value: object) -> str:
        text = super().__call__(value)
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            return text  # a host name, resolved by the prober
        problem = _unpingable(address)
        if problem:
            raise ValueError(f"{text} is {problem}")
        return text


def _unpingable(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return (
                "an IPv4-mapped IPv6 address, never answered here: write "
                f"{address.ipv4_mapped}"
            )
        if address.is_link_local:
            return (
                "an IPv6 link-local address, which needs an interface "
                "scope (not supported)"
            )
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_multicast:
        return "a multicast address"
    if address == _BROADCAST:
        return "the broadcast address"
    return ""


# Address families are told apart by the probe; names are resolved there.
_ADDRESS_LIST = types.List(item_type=ProbeAddress())

COMPUTE_OPTS: list[cfg.Opt] = [
    cfg.Opt(
        "storage_server_address",
        type=_ADDRESS_LIST,
        default=[],
        help="Storage addresses (IPv4, IPv6 or host names) pinged every "
        "polling cycle to check this host's storage network. A "
        "host that reaches none of them has lost its storage.",
    ),
    cfg.Opt(
        "management_address",
        type=_ADDRESS_LIST,
        default=[],
        help="Management network addresses checked the same way as the "
        "storage addresses. Empty disables the ha.management.* "
        "meters.",
    ),
    cfg.Opt(
        "tenant_address",
        type=_ADDRESS_LIST,
        default=[],
        help="Tenant (instance data) network addresses checked the same "
        "way as the storage addresses. Empty disables the "
        "ha.tenant.* meters.",
    ),
    cfg.IntOpt(
        "ping_count",
        default=4,
        min=1,
        max=100,
        help="Echo requests sent to each address per polling cycle.",
    ),
    cfg.FloatOpt(
        "ping_loss_ratio",
        default=0.5,
        min=0.0,
        max=1.0,
        help="Share of lost echo requests that is still acceptable: "
        "an address whose loss is at most this ratio is "
        "reachable.",
    ),
    cfg.FloatOpt(
        "ping_interval",
        default=0.1,
        min=0.01,
        max=10.0,
        help="Seconds between two echo requests to the same "
        "address. All addresses are pinged concurrently, so a "
        "cycle lasts at most (ping_count - 1) * ping_interval + "
        "ping_timeout whatever the number of addresses.",
    ),
    cfg.FloatOpt(
        "ping_timeout",
        default=0.5,
        min=0.05,
        max=30.0,
        help="Seconds to wait for the reply to the last echo "
        "request before it counts as lost.",
    ),
    cfg.StrOpt(
        "cluster",
        default="default",
        regex=CLUSTER_NAME_PATTERN,
        help="Name of the cluster (failure domain) this host belongs "
        "to. Every sample carries it, so that a storage outage "
        "of a whole cluster is told apart from host failures. At most "
        "255 characters, no control character.",
    ),
    cfg.StrOpt(
        "cluster_source",
        default="static",
        choices=[
            ("static", "Use the cluster option as it is."),
            (
                "aggregate",
                "Read the cluster from the metadata "
                "of the Nova host aggregate holding "
                "this host; fall back to the last "
                "known value, then to the cluster "
                "option.",
            ),
        ],
        help="Where the cluster name of this host comes from.",
    ),
    cfg.StrOpt(
        "cluster_metadata_key",
        default="cluster",
        help="Host aggregate metadata key holding the cluster name, "
        "when cluster_source is aggregate.",
    ),
    cfg.IntOpt(
        "cluster_refresh_interval",
        default=300,
        min=10,
        help="Seconds between two look-ups of the host aggregate "
        "cluster name. Look-ups never delay a health sample.",
    ),
    cfg.FloatOpt(
        "hypervisor_timeout",
        default=2.0,
        min=0.1,
        max=60.0,
        help="Seconds the hypervisor may take to answer before it "
        "is reported down for this cycle. The next polling cycle "
        "starts only once this one ended, so keep it well under the "
        "verdicts' stale window ([health] stale_cycles intervals).",
    ),
]

COLLECTOR_OPTS: list[cfg.Opt] = [
    cfg.StrOpt(
        "udp_address",
        default="0.0.0.0",  # noqa: S104 (a collector serves all hosts)
        help='Address to which the UDP socket is bound. "::" listens '
        "on IPv6 and IPv4. An empty string disables the UDP "
        "listener, which leaves the collector nothing to do: it "
        "refuses to start.",
    ),
    cfg.PortOpt(
        "udp_port",
        default=4953,
        help="Port to which the UDP socket is bound. Several "
        "collectors may share it (SO_REUSEPORT).",
    ),
    cfg.IntOpt(
        "workers",
        default=1,
        min=1,
        max=64,
        help="Receiving processes sharing the UDP port.",
    ),
    cfg.IntOpt(
        "max_datagram_size",
        default=16384,
        min=512,
        max=65535,
        help="Datagrams larger than this many bytes are rejected unread.",
    ),
    cfg.IntOpt(
        "freshness_window",
        default=300,
        min=1,
        help="Seconds a sample timestamp may lie in the past or the "
        "future of the collector clock. Older samples are "
        "rejected as stale (which also stops replays once their "
        "message_id has expired), newer ones as future. Must "
        "be shorter than half of [database] metering_time_to_live.",
    ),
    cfg.BoolOpt(
        "allow_unsigned",
        default=False,
        help="Accept samples when [publisher] telemetry_secret is "
        "empty or the ceilometer placeholder. Without this the "
        "collector refuses to start with such a secret.",
    ),
    cfg.IntOpt(
        "batch_size",
        default=2000,
        min=1,
        help="Samples written to the database in one transaction.",
    ),
    cfg.FloatOpt(
        "batch_timeout",
        default=0.2,
        min=0.001,
        help="Seconds a received sample may wait for its batch to "
        "fill before it is written anyway.",
    ),
    cfg.IntOpt(
        "max_queued_samples",
        default=200000,
        min=1000,
        help="Samples held in memory while the database is slow or "
        "away. Samples beyond this are dropped, counted and "
        "logged. A sample whose resource_metadata, held as JSON text, "
        "takes more than 2 KiB of memory counts as one more for each "
        "further 2 KiB, so that the memory held stays bounded (a "
        "few KiB a sample) whatever senders put in it.",
    ),
    cfg.FloatOpt(
        "db_retry_max_interval",
        default=10.0,
        min=0.1,
        help="Longest pause, in seconds, between two attempts to "
        "write to a database that is away (the pause doubles "
        "from 0.1 s up to this).",
    ),
    cfg.IntOpt(
        "stats_interval",
        default=60,
        min=0,
        help="Seconds between two log lines with the received, "
        "stored, rejected, queued and dropped counts. 0 "
        "disables them.",
    ),
    cfg.StrOpt(
        "metrics_address",
        default="127.0.0.1",
        help="Address of the Prometheus /metrics endpoint.",
    ),
    cfg.PortOpt(
        "metrics_port",
        default=0,
        help="Port of the Prometheus /metrics endpoint; 0 disables it. "
        "With several workers, each serves its own counters, worker N "
        "on this port + N.",
    ),
    cfg.IntOpt(
        "expiry_interval",
        default=60,
        min=1,
        help="Seconds between two runs of the TTL expiry.",
    ),
    cfg.IntOpt(
        "expiry_batch_size",
        default=5000,
        min=100,
        help="Rows deleted per statement by the TTL expiry, so that "
        "no delete holds its locks for long.",
    ),
    cfg.IntOpt(
        "udp_receive_buffer",
        default=8388608,
        min=65536,
        help="Bytes asked of the kernel for the UDP receive buffer "
        "(SO_RCVBUF), so that bursts from many hosts are not "
        "dropped before they are read. The kernel caps it at "
        "net.core.rmem_max unless the collector may force it "
        "(CAP_NET_ADMIN); a smaller buffer is logged at start, and "
        "datagrams the kernel drops for lack of room are counted as "
        "kernel_dropped.",
    ),
    cfg.StrOpt(
        "port_file",
        help="File to which the bound UDP port is written once the "
        "collector listens; useful with udp_port = 0.",
    ),
    cfg.FloatOpt(
        "shutdown_timeout",
        default=10.0,
        min=0.0,
        help="Seconds allowed, after SIGTERM or SIGINT, to write the "
        "samples still queued before exiting. The database writer "
        "process then gets what is left of them (at least 1 s) to exit, "
        "or is killed.",
    ),
]

# A longer TTL is a mistake: its cutoff would fall before the first
# year a datetime holds, and every expiry run would fail.
MAX_TIME_TO_LIVE = 100 * 365 * 86400

DATABASE_OPTS: list[cfg.Opt] = [
    cfg.StrOpt(
        "connection",
        secret=True,
        default="sqlite:////var/lib/ceilometer-ha/ceilometer_ha.sqlite",
        deprecated_opts=[
            cfg.DeprecatedOpt("sql_connection", group="DEFAULT"),
            cfg.DeprecatedOpt("sql_connection", group="DATABASE"),
            cfg.DeprecatedOpt("connection", group="sql"),
        ],
        help="The SQLAlchemy connection string of the database the "
        "collector writes and the HA engine reads. mysql:// "
        "URLs use PyMySQL; no C client library is needed.",
    ),
    cfg.IntOpt(
        "metering_time_to_live",
        default=-1,
        max=MAX_TIME_TO_LIVE,
        deprecated_name="time_to_live",
        help="Number of seconds that samples are kept in the database "
        "for (<= 0 means forever), counted from the moment the "
        "collector recorded them; at most a century.",
    ),
]

DISPATCHER_OPTS: list[cfg.Opt] = [
    cfg.MultiStrOpt(
        "meter_dispatchers",
        default=["database"],
        deprecated_name="dispatcher",
        help="Dispatchers to process metering data, loaded from "
        "the ceilometer_ha.dispatcher.meter entry points.",
    ),
]

PUBLISHER_OPTS: list[cfg.Opt] = [
    cfg.StrOpt(
        "telemetry_secret",
        secret=True,
        default=PLACEHOLDER_SECRET,
        deprecated_opts=[
            cfg.DeprecatedOpt("metering_secret", group="DEFAULT"),
            cfg.DeprecatedOpt("metering_secret", group="publisher_rpc"),
            cfg.DeprecatedOpt("metering_secret", group="publisher"),
        ],
        help="Secret value for signing messages; the agents and the "
        "collector must share it.",
    ),
]

# Read by ceilometer_ha.health; documented in doc/health.rst.
HEALTH_OPTS: list[cfg.Opt] = [
    cfg.FloatOpt(
        "polling_interval",
        default=1.0,
        min=0.1,
        max=3600.0,
        help="Seconds between two polling cycles of the agents; it "
        "must match the interval of the pipeline_ha.yaml source "
        "(1 s as shipped). Every count of cycles below is turned "
        "into seconds with it.",
    ),
    cfg.IntOpt(
        "stale_cycles",
        default=5,
        min=2,
        max=3600,
        help="A host whose last heartbeat, hypervisor or storage sample "
        "was recorded by the collector more than this many polling "
        "intervals ago is stale.",
    ),
    cfg.IntOpt(
        "fail_cycles",
        default=3,
        min=1,
        max=1000,
        help="Consecutive failing storage cycles after which a host is "
        "failed; a host failing for fewer cycles is degraded.",
    ),
    cfg.IntOpt(
        "recover_cycles",
        default=3,
        min=1,
        max=1000,
        help="Consecutive good storage cycles after which a failed "
        "host is no longer failed.",
    ),
    cfg.IntOpt(
        "min_storage_reachable",
        default=1,
        min=1,
        max=100,
        help="Storage addresses a host must reach; a host reaching "
        "fewer has lost its storage. A host with fewer addresses "
        "than this must reach all of them.",
    ),
    cfg.FloatOpt(
        "failing_loss",
        default=1.0,
        min=0.01,
        max=1.0,
        help="Packet loss ratio from which a storage address counts "
        "as cut in a cycle. A cycle is failing only when fewer "
        "than min_storage_reachable addresses stay below it; with "
        "1.0 only a total loss counts, so random packet loss "
        "degrades a host but does not fail it. Above 0 (at 0 "
        "every address would be cut, every host failed); keep it "
        "above [compute] ping_loss_ratio.",
    ),
    cfg.FloatOpt(
        "outage_share",
        default=0.5,
        min=0.0,
        max=1.0,
        help="Share of the judged hosts of a cluster which, when they "
        "lose storage within outage_window_cycles of each other, "
        "puts the cluster in storage outage: none of them is then "
        "failed for storage.",
    ),
    cfg.IntOpt(
        "outage_min_hosts",
        default=2,
        # 1 would let a host alone in its cluster lose storage as an
        # "outage", and never fail.
        min=2,
        max=100000,
        help="Hosts that must lose storage together before a storage "
        "outage is declared. A cluster smaller than this never "
        "has one: a host alone in its cluster fails normally.",
    ),
    cfg.IntOpt(
        "outage_window_cycles",
        default=30,
        min=1,
        max=100000,
        help="Polling intervals within which storage losses of several "
        "hosts count as one event.",
    ),
    cfg.FloatOpt(
        "stale_cliff_share",
        default=0.5,
        min=0.0,
        max=1.0,
        help="Share of the hosts heard within "
        "stale_cliff_hold_cycles which, when their samples stop "
        "within stale_cliff_window_cycles of each other, means "
        "that the observer cannot judge (it is more likely cut "
        "off than they all died).",
    ),
    cfg.IntOpt(
        "stale_cliff_min_hosts",
        default=3,
        min=2,
        max=100000,
        help="Hosts that must go stale together before the stale cliff "
        "guard applies. When every host is stale the observer "
        "cannot judge whatever their number.",
    ),
    cfg.IntOpt(
        "stale_cliff_window_cycles",
        default=5,
        min=1,
        max=100000,
        help="Polling intervals within which samples stopping on "
        "several hosts count as one event.",
    ),
    cfg.IntOpt(
        "stale_cliff_hold_cycles",
        default=300,
        min=1,
        max=100000,
        help="Polling intervals after which hosts whose samples "
        "stopped together no longer make a stale cliff: while other "
        "hosts still report, the observer is not cut off, and those "
        "hosts are judged stale (fence them, then evacuate).",
    ),
    cfg.IntOpt(
        "history_cycles",
        default=20,
        min=1,
        max=100000,
        help="Polling intervals of stored samples read for a host whose "
        "hysteresis state cannot be told from its latest samples "
        "(recovering from, or again failing after, a failure).",
    ),
    cfg.IntOpt(
        "forget_address_cycles",
        default=60,
        min=1,
        max=100000,
        help="Polling intervals for which a storage address whose samples "
        "stopped, while its host still reports, counts as possibly "
        "reachable: its silence alone (samples lost on the way, an "
        "address the agent cannot probe) never fails the host. After "
        "that it is forgotten, as an address taken out of the "
        "configuration is. Has an effect when above stale_cycles.",
    ),
]


def register_compute_opts(conf: cfg.ConfigOpts) -> None:
    """Register the agent-side options on ``conf``.

    The agent's ``conf`` already holds ceilometer's own options
    (``[publisher] telemetry_secret``, ``[DEFAULT] host``,
    ``reserved_metadata_keys``); only ours are added. Registering twice
    is harmless.
    """
    conf.register_opts(COMPUTE_OPTS, group="compute")


def register_collector_opts(conf: cfg.ConfigOpts) -> None:
    """Register the collector options on ``conf``."""
    conf.register_opts(COLLECTOR_OPTS, group="collector")
    conf.register_opts(DATABASE_OPTS, group="database")
    conf.register_opts(DISPATCHER_OPTS)
    conf.register_opts(PUBLISHER_OPTS, group="publisher")


def register_database_opts(conf: cfg.ConfigOpts) -> None:
    """Register only ``[database]``, for readers such as the status CLI."""
    conf.register_opts(DATABASE_OPTS, group="database")


def register_health_opts(conf: cfg.ConfigOpts) -> None:
    """Register the verdict rule options on ``conf``."""
    conf.register_opts(HEALTH_OPTS, group="health")


def list_compute_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [("compute", COMPUTE_OPTS)]


def list_collector_opts() -> list[tuple[str | None, list[cfg.Opt]]]:
    return [
        ("DEFAULT", DISPATCHER_OPTS),
        ("collector", COLLECTOR_OPTS),
        ("database", DATABASE_OPTS),
        ("publisher", PUBLISHER_OPTS),
    ]


def list_health_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [("health", HEALTH_OPTS)]
