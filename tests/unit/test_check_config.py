"""``ceilometer-ha check-config`` on the deployment notes' files."""

import os
import pathlib
import subprocess
import sys

from ceilometer import messaging
from oslo_config import cfg
import pytest
import yaml

from ceilometer_ha.cmd import known_options
from ceilometer_ha.cmd import manage
from ceilometer_ha.pollsters import delivery
from ceilometer_ha.probes import icmp

ROOT = pathlib.Path(__file__).resolve().parents[2]
CONTROLLER_SEED = ROOT / "tests/functional/data/controller_ceilometer_ha.conf"
SHIPPED_COMPUTE = ROOT / "etc/ceilometer/compute/ceilometer_ha.conf"
SHIPPED_CONTROLLER = ROOT / "etc/ceilometer/controller/ceilometer_ha.conf"
SHIPPED_PIPELINE = ROOT / "etc/ceilometer/pipeline_ha.yaml"

# The compute-node file of the deployment notes, comments left out.
COMPUTE_SEED = """\
[DEAFULT]
polling_namespaces = compute
reserved_metadata_keys = cluster
pipeline_cfg_file = pipeline_ha.yaml
debug = false
verbose = true
use_stderr = false
# rpc_backend = rabbit

[compute]
storage_server_address = 192.168.0.10, 192.168.0.20
ping_count = 4
ping_loss_ratio = 0.5

[keystone_authtoken]
auth_uri = http://192.168.0.2:5000/v2.0

[publisher]
telemetry_secret = nmWpu7Pu8DDWhQ3oPaBpVQjn

[service_credentials]
region_name = RegionOne
interface = internalURL
auth_url = http://192.168.0.2:5000/v2.0/
project_name = services
username = ceilometer
password = a1b2c3d4e5
"""
# What a compute file needs besides, for its samples to reach the
# collectors (the notes' file leaves all three at ceilometer's defaults,
# pipeline_cfg_file in a misspelt [DEFAULT]).
DELIVERY = (
    "[publisher_notifier]\ntelemetry_driver = ha_pipeline\n"
    f"[polling]\ncfg_file = {SHIPPED_PIPELINE}\n"
    f"[DEFAULT]\npipeline_cfg_file = {SHIPPED_PIPELINE}\n"
)
NOT_DELIVERED = (
    "[publisher_notifier] telemetry_driver is 'messagingv2': samples go "
    "to the message bus, not straight to the collectors; set it to "
    "ha_pipeline"
)


def check(capsys, *args):
    code = manage.main(["check-config", *map(str, args)])
    return code, capsys.readouterr().out.splitlines()


@pytest.fixture
def compute_seed(tmp_path):
    """The notes' compute file, beside the pipeline file it names."""
    path = tmp_path / "ceilometer_ha.conf"
    path.write_text(COMPUTE_SEED)
    (tmp_path / "pipeline_ha.yaml").write_text(SHIPPED_PIPELINE.read_text())
    return path


@pytest.fixture
def installed_compute(tmp_path):
    """The shipped compute files as installed: side by side, as in
    /etc/ceilometer, for the relative pipeline file name to resolve."""
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "pipeline_ha.yaml").write_text(SHIPPED_PIPELINE.read_text())
    path = etc / "ceilometer_ha.conf"
    path.write_text(SHIPPED_COMPUTE.read_text())
    return path


def test_compute_seed_misspelt_default_is_an_error(compute_seed, capsys):
    code, lines = check(capsys, compute_seed)
    errors = [x for x in lines if x.startswith("ERROR")]
    assert code == 1
    assert "unknown group [DEAFULT]" in errors[0]
    assert "did you mean 'DEFAULT'" in errors[0]
    assert any(
        "[keystone_authtoken]" in x and x.startswith("WARNING") for x in lines
    )


def test_compute_seed_spelt_right_delivers_nothing(compute_seed, capsys):
    """The notes' file with [DEFAULT] fixed: the agent would send its
    samples to the message bus and read ceilometer's polling.yaml
    (absent here, so its polling worker would exit at every start)."""
    fixed = compute_seed.read_text().replace("[DEAFULT]", "[DEFAULT]")
    compute_seed.write_text(fixed)
    code, lines = check(capsys, compute_seed)
    errors = [x for x in lines if x.startswith("ERROR")]
    assert code == 1
    assert len(errors) == 2, lines
    assert errors[0] == f"ERROR {compute_seed}: {NOT_DELIVERED}"
    assert errors[1].startswith(
        f"ERROR {compute_seed}: [polling] cfg_file polling.yaml "
        "(ceilometer's default)"
    ), errors
    assert errors[1].endswith("; point it at pipeline_ha.yaml"), errors


@pytest.mark.parametrize(
    "line, replacement, said",
    [
        ("telemetry_driver = ha_pipeline", "", NOT_DELIVERED),
        (
            "telemetry_driver = ha_pipeline",
            "telemetry_driver = messagingv2",
            NOT_DELIVERED,
        ),
        (
            "cfg_file = pipeline_ha.yaml",
            "",
            "[polling] cfg_file polling.yaml (ceilometer's default)",
        ),
        (
            "cfg_file = pipeline_ha.yaml",
            "cfg_file = cpu.yaml",
            "[polling] cfg_file cpu.yaml polls no ha.* meter; point it at "
            "pipeline_ha.yaml",
        ),
        (
            "pipeline_cfg_file = pipeline_ha.yaml",
            "",
            "[DEFAULT] pipeline_cfg_file pipeline.yaml (ceilometer's "
            f"default) sends {', '.join(delivery.HA_METERS)} to no collector",
        ),
    ],
    ids=[
        "default-driver",
        "messaging-driver",
        "default-polling",
        "no-ha",
        "default-pipeline",
    ],
)
def test_a_compute_file_that_delivers_nothing_is_an_error(
    installed_compute, capsys, line, replacement, said
):
    """The agent would start and no sample of it reach the collectors."""
    (installed_compute.parent / "cpu.yaml").write_text(
        "sources: [{name: s, interval: 60, meters: [cpu]}]\n"
    )
    text = installed_compute.read_text()
    assert f"\n{line}\n" in text
    installed_compute.write_text(
        text.replace(f"\n{line}\n", f"\n{replacement}\n", 1)
    )
    code, lines = check(capsys, installed_compute)
    errors = [x for x in lines if x.startswith("ERROR")]
    assert code == 1
    assert len(errors) == 1, lines
    assert errors[0].startswith(f"ERROR {installed_compute}: {said}"), lines
    fixes = ("; set it to ha_pipeline", "; point it at pipeline_ha.yaml")
    assert errors[0].endswith(fixes), lines


def test_meters_sent_to_no_collector_are_an_error(installed_compute, capsys):
    """A pipeline file that loads and publishes, but sends one storage
    meter elsewhere: the verdicts would never see storage cut."""
    pipeline = installed_compute.parent / "pipeline_ha.yaml"
    definition = yaml.safe_load(pipeline.read_text())
    [source] = definition["sources"]
    source["meters"] = [m for m in source["meters"] if m != "ha.storage.*"] + [
        "ha.storage.loss",
        "ha.storage.rtt",
    ]
    definition["sources"].append(
        {
            "name": "reach",
            "interval": source["interval"],
            "meters": ["ha.storage.reachable"],
            "sinks": ["elsewhere"],
        }
    )
    definition["sinks"].append(
        {"name": "elsewhere", "publishers": ["test://"]}
    )
    pipeline.write_text(yaml.safe_dump(definition))
    code, lines = check(capsys, installed_compute)
    errors = [x for x in lines if x.startswith("ERROR")]
    assert code == 1
    assert errors == [
        f"ERROR {installed_compute}: [DEFAULT] pipeline_cfg_file "
        "pipeline_ha.yaml sends ha.storage.reachable to no collector (no "
        "sink with a udp:// publisher naming a host): the controllers "
        "never see them; point it at pipeline_ha.yaml"
    ]


def test_controller_seed_is_clean_but_for_two_warnings(capsys):
    code, lines = check(capsys, CONTROLLER_SEED)
    assert code == 0
    assert lines[-1] == "0 errors, 2 warnings"
    assert "[DEFAULT] verbose" in lines[0]
    assert "printed in the deployment notes" in lines[1]


def test_shipped_compute_file_is_clean_but_for_its_placeholder_secret(
    installed_compute, capsys
):
    code, lines = check(capsys, installed_compute)
    assert code == 0, lines
    assert lines[-1].startswith("0 errors,"), lines
    # Said exactly when this user cannot ping (the test runner may not).
    cannot = icmp.IcmpProber().socket_problem() is not None
    assert len([x for x in lines if "cannot ping" in x]) == cannot, lines
    assert any(
        "telemetry_secret is empty or a placeholder" in line
        and line.startswith("WARNING")
        for line in lines
    ), lines


def test_a_user_that_cannot_ping_is_warned(installed_compute):
    """In a network namespace of its own, whose ping_group_range admits
    no group, and without CAP_NET_RAW, no ICMP socket opens."""
    if os.geteuid() != 0:
        pytest.skip("needs root to drop a capability and unshare")
    done = subprocess.run(
        [
            "unshare",
            "--net",
            "setpriv",
            "--bounding-set=-net_raw",
            "--inh-caps=-net_raw",
            "--",
            sys.executable,
            "-m",
            "ceilometer_ha.cmd.manage",
            "check-config",
            str(installed_compute),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [warning] = [x for x in done.stdout.splitlines() if "cannot ping" in x]
    assert warning.startswith(f"WARNING {installed_compute}: this user ")
    assert "net.ipv4.ping_group_range" in warning
    assert "never check this host's storage" in warning


def test_a_compute_file_without_a_secret_is_warned_as_a_placeholder(
    installed_compute, capsys
):
    # The agent then signs with ceilometer's placeholder, which the
    # collector refuses as it refuses the shipped file's.
    _, placeholder = check(capsys, installed_compute)
    text = installed_compute.read_text()
    line = "\ntelemetry_secret = change-me-to-a-long-random-secret\n"
    assert line in text
    installed_compute.write_text(text.replace(line, "\n", 1))
    code, lines = check(capsys, installed_compute)
    assert code == 0, lines
    assert lines == placeholder
    assert any(
        "telemetry_secret is empty or a placeholder" in line
        and line.startswith("WARNING")
        for line in lines
    ), lines


def test_shipped_controller_file_needs_only_a_real_secret(tmp_path, capsys):
    # Its placeholder secret is what the collector refuses to start with.
    code, lines = check(capsys, SHIPPED_CONTROLLER)
    errors = [x for x in lines if x.startswith("ERROR")]
    assert code == 1
    assert errors == [
        f"ERROR {SHIPPED_CONTROLLER}: the collector would refuse to start: "
        "[publisher] telemetry_secret is empty or a placeholder, so anyone "
        "could forge samples: set the secret the agents use, or "
        "[collector] allow_unsigned = true to accept that risk"
    ]
    assert not any("placeholder" in x for x in lines if x not in errors)
    text = SHIPPED_CONTROLLER.read_text()
    assert "\ntelemetry_secret = " in text
    own = tmp_path / "ceilometer_ha.conf"
    own.write_text(
        text.replace("\ntelemetry_secret = ", "\ntelemetry_secret = x9", 1)
    )
    code, lines = check(capsys, own)
    assert code == 0, lines
    assert lines[-1].startswith("0 errors,"), lines


@pytest.mark.parametrize(
    ("collector", "said"),
    [
        ("udp_address =", "[collector] udp_address is empty"),
        ("freshness_window = 1000", "freshness_window (1000 s) must be"),
        ("workers = 4\nmetrics_port = 65535", "metrics_port 65535"),
    ],
    ids=["no-address", "window-vs-ttl", "metrics-ports"],
)
def test_what_the_collector_refuses_is_an_error(
    tmp_path, capsys, collector, said
):
    path = tmp_path / "ceilometer_ha.conf"
    path.write_text(
        f"[collector]\n{collector}\n[database]\n"
        "connection = mysql://ha@127.0.0.1/ha\nmetering_time_to_live = 1800\n"
        "[publisher]\ntelemetry_secret = s3cret-alpha\n"
    )
    code, lines = check(capsys, path)
    assert code == 1
    assert any(
        x.startswith("ERROR") and "collector would refuse" in x and said in x
        for x in lines
    ), lines


def test_the_collector_check_reads_its_drop_in_directory(
    tmp_path, monkeypatch, capsys
):
    # The secret in a drop-in file of the collector, as it reads them
    # (~/.ceilometer/ceilometer-collector-ha.conf.d/ here, under /etc
    # on a controller): no refusal for the file that leaves it out.
    home = tmp_path / "home"
    drop_in = home / ".ceilometer" / "ceilometer-collector-ha.conf.d"
    drop_in.mkdir(parents=True)
    (drop_in / "secret.conf").write_text(
        "[publisher]\ntelemetry_secret = s3cret-alpha\n"
    )
    monkeypatch.setenv("HOME", str(home))
    path = tmp_path / "ceilometer_ha.conf"
    path.write_text("[database]\nconnection = mysql://ha@127.0.0.1/ha\n")
    code, lines = check(capsys, path)
    assert code == 0, lines
    (drop_in / "secret.conf").write_text("[collector]\nworkers = many\n")
    code, lines = check(capsys, path)
    assert code == 1
    assert "collector would refuse to start" in lines[0]
    assert "workers" in lines[0]


def check_text(capsys, path, text):
    """check-config on ``path``, written with ``text``."""
    path.write_text(text)
    return check(capsys, path)


def test_a_database_url_that_does_not_parse_is_an_error(tmp_path, capsys):
    path = tmp_path / "ceilometer_ha.conf"
    code, lines = check_text(
        capsys,
        path,
        "[database]\nconnection = not a url\n"
        "[publisher]\ntelemetry_secret = s3cret-alpha\n",
    )
    assert code == 1
    assert lines[0] == (
        f"ERROR {path}: the collector would refuse to start: [database] "
        "connection: Could not parse SQLAlchemy URL from given URL string"
    )


def test_a_placeholder_secret_is_said_beside_another_error(tmp_path, capsys):
    path = tmp_path / "ceilometer_ha.conf"
    path.write_text(
        "[collector]\nudp_port = 70000\n[publisher]\ntelemetry_secret =\n"
    )
    code, lines = check(capsys, path)
    assert code == 1
    assert "udp_port" in lines[0]
    assert any(
        x.startswith("WARNING") and "empty or a placeholder" in x
        for x in lines
    ), lines


def test_an_unset_secret_is_no_error_when_unsigned_samples_are_allowed(
    tmp_path, capsys
):
    path = tmp_path / "ceilometer_ha.conf"
    path.write_text(
        "[collector]\nallow_unsigned = true\n"
        "[database]\nconnection = mysql://ha@127.0.0.1/ha\n"
        "[publisher]\ntelemetry_secret =\n"
    )
    code = manage.main(["check-config", str(path)])
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert code == 0, lines
    assert err == ""  # the collector's own log of it is not shown
    assert any(
        x.startswith("WARNING") and "empty or a placeholder" in x
        for x in lines
    )


@pytest.mark.parametrize(
    "content",
    [b"[DEFAULT]\ngarbage line\n", b"[DEFAULT]\n# caf\xe9\ndebug = true\n"],
    ids=["not-ini", "latin-1"],
)
def test_an_unreadable_file_is_one_error(tmp_path, capsys, content):
    path = tmp_path / "ceilometer_ha.conf"
    path.write_bytes(content)
    code, lines = check(capsys, path)
    assert code == 1
    assert lines[-1] == "1 errors, 0 warnings"
    assert lines[0].startswith(f"ERROR {path}: ")


def test_same_secret_on_both_sides_is_fine(compute_seed, capsys):
    fixed = compute_seed.read_text().replace("[DEAFULT]", "[DEFAULT]")
    compute_seed.write_text(fixed + DELIVERY)
    code, lines = check(
        capsys, compute_seed, "--collector-config", CONTROLLER_SEED
    )
    assert code == 0, lines


def test_different_secrets_are_an_error(tmp_path, capsys):
    compute = tmp_path / "compute.conf"
    compute.write_text("[publisher]\ntelemetry_secret = s3cret-alpha\n")
    collector = tmp_path / "collector.conf"
    collector.write_text("[publisher]\ntelemetry_secret = s3cret-beta\n")
    code, lines = check(capsys, compute, "--collector-config", collector)
    assert code == 1
    assert any("telemetry_secret differs" in x for x in lines)
    assert not any("s3cret" in x for x in lines)  # secrets stay secret


@pytest.mark.parametrize(
    "text, expected",
    [
        ("[compute]\nping_loss_ratio = 1.5\n", "[compute] ping_loss_ratio"),
        ("[compute]\nping_count = 0\n", "[compute] ping_count"),
        ("[collector]\nudp_port = 70000\n", "[collector] udp_port"),
        ("[health]\nfail_cycles = 0\n", "[health] fail_cycles"),
        ("[compute]\nping_cuont = 4\n", "did you mean 'ping_count'"),
        (
            "[compute]\nstorage_server_address = 300.1.1.1\n",
            "[compute] storage_server_address",
        ),
        ("[compute]\ncluster_source = magic\n", "[compute] cluster_source"),
        ("[healht]\nfail_cycles = 3\n", "did you mean 'health'"),
        ("[compute]\nping_count = 4\n", "no address to ping"),
        ("[oslo_concurency]\nlock_path = /tmp\n", "'oslo_concurrency'"),
        ("[DEFAULT]\ntransport_ulr = rabbit://\n", "'transport_url'"),
        # oslo.config reads [default] as a group of its own.
        ("[default]\ndebug = true\n", "[default]; did you mean 'DEFAULT'"),
    ],
)
def test_mistakes_name_the_option(tmp_path, capsys, text, expected):
    path = tmp_path / "bad.conf"
    path.write_text(text)
    code, lines = check(capsys, path)
    assert code == 1
    assert any(expected in x and x.startswith("ERROR") for x in lines), lines


def test_a_compute_file_without_storage_address_is_warned(tmp_path, capsys):
    """It runs, pinging the management address, but its storage is
    never judged: a warning, not an error."""
    path = tmp_path / "ok.conf"
    path.write_text(
        "[compute]\nmanagement_address = 198.51.100.7\n" + DELIVERY
    )
    code, lines = check(capsys, path)
    assert code == 0, lines
    assert not any("no address" in x for x in lines)
    assert (
        f"WARNING {path}: [compute] storage_server_address is empty: no "
        "ha.storage.* sample is sent, and the verdicts never find this "
        "host's storage cut (only management_address or tenant_address "
        "is pinged)" in lines
    )


def test_a_ping_run_longer_than_the_interval_is_warned(
    installed_compute, capsys
):
    text = installed_compute.read_text()
    assert "\nping_interval = 0.1\n" in text
    installed_compute.write_text(
        text.replace("\nping_interval = 0.1\n", "\nping_interval = 1.0\n")
    )
    code, lines = check(capsys, installed_compute)
    assert code == 0, lines
    assert any(
        x.startswith(f"WARNING {installed_compute}: [compute] ping_count, ")
        and "up to 3.5 s, not less than the polling interval of 1 s" in x
        for x in lines
    ), lines


def test_unreadable_file_is_an_error(tmp_path, capsys):
    code, lines = check(capsys, tmp_path / "missing.conf")
    assert code == 1
    assert lines[0].startswith("ERROR")


def test_options_of_ceilometer_libraries_are_known(tmp_path, capsys):
    """A ceilometer.conf may hold what ceilometer's own generator lists:
    oslo.messaging, oslo.concurrency, oslo.cache options are no error."""
    path = tmp_path / "ok.conf"
    path.write_text(
        "[DEFAULT]\ntransport_url = rabbit://ceilometer:x@198.51.100.9//\n"
        "[compute]\nstorage_server_address = 198.51.100.7\n"
        "[oslo_concurrency]\nlock_path = /var/lib/ceilometer/tmp\n"
        "[cache]\nenabled = false\n" + DELIVERY
    )
    code, lines = check(capsys, path)
    assert code == 0, lines
    assert not any(x.startswith("ERROR") for x in lines), lines


def test_options_that_cannot_be_listed_are_one_error(
    tmp_path, capsys, monkeypatch, request
):
    """A library of ceilometer's generator missing: nothing is checked,
    and the unit's ExecStartPre says why, in one line."""
    monkeypatch.setattr(
        known_options,
        "CEILOMETER_NAMESPACES",
        (*known_options.CEILOMETER_NAMESPACES, "no.such.library"),
    )
    # Listed once per process: list them again, with the library missing.
    known_options.namespace_opts.cache_clear()
    request.addfinalizer(known_options.namespace_opts.cache_clear)
    code, lines = check(capsys, SHIPPED_COMPUTE)
    assert code == 1
    assert lines == [
        "ERROR cannot list the known options: no.such.library: not installed"
    ]


def test_a_pipeline_file_that_does_not_load_is_one_error(
    installed_compute, capsys
):
    """The agent's polling worker would exit at every start, forever."""
    pipeline = installed_compute.parent / "pipeline_ha.yaml"
    pipeline.write_text(pipeline.read_text().replace("sinks:", "sinks: [", 1))
    code, lines = check(capsys, installed_compute)
    assert code == 1
    errors = [x for x in lines if x.startswith("ERROR")]
    assert len(errors) == 1, lines
    assert (
        "[polling] cfg_file and [DEFAULT] pipeline_cfg_file "
        "pipeline_ha.yaml: cannot be loaded: " in errors[0]
    )


def test_a_missing_pipeline_file_is_an_error(installed_compute, capsys):
    (installed_compute.parent / "pipeline_ha.yaml").unlink()
    code, lines = check(capsys, installed_compute)
    assert code == 1
    assert any("No such file" in x and x.startswith("ERROR") for x in lines)


BAD_RABBIT = "\n[oslo_messaging_rabbit]\nrabbit_qos_prefetch_count = many\n"


def test_messaging_values_are_checked_in_a_compute_file(
    installed_compute, capsys
):
    """ceilometer-polling builds its notification transport at start,
    even with the ha_pipeline driver: a bad value there stops it."""
    with installed_compute.open("a") as f:
        f.write(BAD_RABBIT)
    code, lines = check(capsys, installed_compute)
    assert code == 1
    errors = [x for x in lines if x.startswith("ERROR")]
    assert len(errors) == 1, lines
    assert "[oslo_messaging_rabbit] rabbit_qos_prefetch_count:" in errors[0]
    assert not any("oslo_messaging_rabbit" in x for x in lines[1:]), lines


def test_the_value_refused_stops_the_agents_transport(tmp_path):
    """What the error above stands for: ceilometer's own transport,
    which the polling agent builds at start, refuses the same value."""
    path = tmp_path / "rabbit.conf"
    path.write_text(BAD_RABBIT)
    conf = cfg.ConfigOpts()
    conf(
        ["--config-file", str(path)],
        project="ceilometer",
        default_config_files=[],
        default_config_dirs=[],
    )
    with pytest.raises(cfg.ConfigFileValueError, match="prefetch_count"):
        messaging.get_transport(conf, cache=False)


def test_misspelt_messaging_options_are_named_in_a_compute_file(
    installed_compute, capsys
):
    with installed_compute.open("a") as f:
        f.write("\n[oslo_messaging_rabbit]\nrabit_ha_queues = true\n")
    code, lines = check(capsys, installed_compute)
    assert code == 1
    assert (
        "[oslo_messaging_rabbit] unknown option 'rabit_ha_queues'; "
        "did you mean 'rabbit_ha_queues'?" in lines[0]
    ), lines


def test_messaging_groups_are_a_warning_in_a_controller_file(tmp_path, capsys):
    """The collector never reads them: no error, one warning."""
    path = tmp_path / "ceilometer_ha.conf"
    path.write_text(CONTROLLER_SEED.read_text() + BAD_RABBIT)
    code, lines = check(capsys, path)
    assert code == 0, lines
    assert not any(x.startswith("ERROR") for x in lines), lines
    assert (
        f"WARNING {path}: [oslo_messaging_rabbit] is read by "
        "ceilometer-polling on compute nodes, not by the collector" in lines
    )


@pytest.mark.parametrize(
    "url, said",
    [
        (
            "upd://192.0.2.2:4953",
            "publisher upd://192.0.2.2:4953 cannot be loaded (No "
            "'ceilometer.sample.publisher' driver found, looking for 'upd'); "
            "ceilometer leaves it out",
        ),
        ("udp:/192.0.2.2", "publisher udp:/192.0.2.2 names no host"),
    ],
)
def test_a_publisher_that_would_publish_nothing_is_an_error(
    installed_compute, capsys, url, said
):
    """The file loads, so the agent starts, and publishes nothing: the
    host would go stale. Nothing of ceilometer's own log on stderr."""
    pipeline = installed_compute.parent / "pipeline_ha.yaml"
    pipeline.write_text(
        pipeline.read_text().replace("udp://192.0.2.2:4953", url, 1)
    )
    code = manage.main(["check-config", str(installed_compute)])
    out, err = capsys.readouterr()
    errors = [x for x in out.splitlines() if x.startswith("ERROR")]
    assert code == 1
    assert errors == [
        f"ERROR {installed_compute}: [DEFAULT] pipeline_cfg_file "
        f"pipeline_ha.yaml: sink ha_sink: {said}"
    ]
    assert err == ""


@pytest.mark.parametrize(
    "url, by_name",
    [
        ("udp://localhost:4953", True),
        ("udp://[2001:db8::2]:4953", False),
        ("udp://192.0.2.9:4953", False),
    ],
    ids=["name", "ipv6", "ipv4"],
)
def test_a_collector_named_by_host_name_is_warned(
    installed_compute, capsys, url, by_name
):
    """ceilometer's UDP publisher looks a name up for every datagram."""
    pipeline = installed_compute.parent / "pipeline_ha.yaml"
    pipeline.write_text(
        pipeline.read_text().replace("udp://192.0.2.2:4953", url, 1)
    )
    code, lines = check(capsys, installed_compute)
    assert code == 0, lines
    named = [x for x in lines if "by host name" in x]
    expected = (
        f"WARNING {installed_compute}: [DEFAULT] pipeline_cfg_file "
        f"pipeline_ha.yaml: {url} names the collector by host name, which "
        "ceilometer's UDP publisher looks up for every datagram: while it "
        "does not resolve, every sample is lost; use the collector's IP "
        "address"
    )
    assert named == ([expected] if by_name else []), lines


def test_a_compute_file_with_a_misspelt_compute_group_is_checked_as_one(
    tmp_path, capsys
):
    """Not as a controller's file, whose collector checks would say
    nothing useful of it: the agent would find no address to ping."""
    path = tmp_path / "compute.conf"
    code, lines = check_text(
        capsys,
        path,
        "[DEFAULT]\nhost = c1\n[comptue]\nstorage_server_address = "
        "198.51.100.7\n",
    )
    assert code == 1
    assert (
        f"ERROR {path}: unknown group [comptue]; did you mean "
        "'compute'?" in lines
    )
    assert any("no address to ping is configured" in x for x in lines)
    assert not any("the collector would refuse" in x for x in lines), lines


def test_groups_are_read_in_any_case_but_default(tmp_path, capsys):
    """oslo.config lower-cases every group name but DEFAULT: [Database]
    is [database], and the deprecated [DATABASE] sql_connection too."""
    path = tmp_path / "controller.conf"
    code, lines = check_text(
        capsys,
        path,
        "[Database]\nconnection = sqlite://\n[HEALTH]\nfail_cycles = 2\n"
        "[publisher]\ntelemetry_secret = s3cret-alpha\n",
    )
    assert code == 0, lines
    path.write_text(
        "[DATABASE]\nsql_connection = sqlite://\n"
        "[publisher]\ntelemetry_secret = s3cret-alpha\n"
    )
    code, lines = check(capsys, path)
    assert code == 0, lines
