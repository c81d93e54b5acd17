"""Network namespaces, veth pairs and bridges for test hosts.

The building blocks of the fault test bed. Every name a run creates
starts with a run prefix ``cha<pid>x<hex>-`` so that parallel runs never
collide and the leftovers of a run that died can be told apart from a
live run's namespaces (:func:`remove_leftovers` removes only those whose
process is gone). Interfaces are created directly inside their
namespaces, so the root namespace never sees them.

Every command is checked (a failure raises :class:`NetnsError` with its
stderr) and bounded by a timeout. Traffic is only ever sent from inside
a namespace this module created, to the documentation ranges, after the
route has been checked (:meth:`Namespace.require_route`). The faults
injected into a namespace are in ``tests.functional.nft``, the echo
tool in ``tests.functional.icmp_echo`` and the services run inside in
``tests.functional.managed_process``.
"""

import ipaddress
import os
import re
import secrets
import shutil
import signal
import subprocess
import time

COMMAND_TIMEOUT = 20.0
# The only networks a test bed may address.
ALLOWED_NETWORKS = (
    ipaddress.ip_network("198.51.100.0/24"),
    ipaddress.ip_network("203.0.113.0/24"),
)
PREFIX_PATTERN = re.compile(r"^cha(\d+)x[0-9a-f]{4}-")


class NetnsError(RuntimeError):
    """A namespace command failed or a bounded wait ran out."""


def run(argv: list[str], timeout: float = COMMAND_TIMEOUT, stdin=None):
    """Run ``argv``, raise :class:`NetnsError` unless it exits 0."""
    try:
        done = subprocess.run(
            argv,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise NetnsError(f"{argv} timed out after {timeout} s") from exc
    if done.returncode != 0:
        raise NetnsError(
            f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()}"
        )
    return done.stdout


def missing_prerequisites() -> str | None:
    """Why a test bed cannot be built here, or None when it can."""
    if os.geteuid() != 0:
        return "network namespace tests need root"
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            return f"network namespace tests need the {tool!r} command"
    probe = f"cha{os.getpid()}x0000-probe"
    try:
        run(["ip", "netns", "add", probe])
        run(["ip", "netns", "exec", probe, "nft", "list", "ruleset"])
    except NetnsError as exc:
        return f"cannot create a network namespace with nft: {exc}"
    finally:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def new_prefix() -> str:
    """A run prefix: the owner's pid, so leftovers can be recognised."""
    return f"cha{os.getpid()}x{secrets.token_hex(2)}-"


def check_address(address: str) -> str:
    """Refuse any address outside the documentation ranges."""
    ip = ipaddress.ip_address(address)
    if not any(ip in net for net in ALLOWED_NETWORKS):
        raise NetnsError(f"{address} is outside the test bed ranges")
    return address


def list_namespaces() -> list[str]:
    out = run(["ip", "netns", "list"])
    return [line.split()[0] for line in out.splitlines() if line.strip()]


class Namespace:
    """One network namespace; ``delete`` is idempotent."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Namespace({self.name!r})"

    def create(self) -> "Namespace":
        if self.name not in list_namespaces():
            run(["ip", "netns", "add", self.name])
        self.ip("link", "set", "lo", "up")
        return self

    def exists(self) -> bool:
        return self.name in list_namespaces()

    def ip(self, *args: str) -> str:
        return run(["ip", "-n", self.name, *args])

    def exec_argv(self, argv: list[str]) -> list[str]:
        """``argv`` wrapped to run inside this namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    def run(self, argv: list[str], **kwargs) -> str:
        return run(self.exec_argv(argv), **kwargs)

    def sysctl(self, key: str, value: str) -> None:
        """Set a per-namespace sysctl (through /proc: no procps needed)."""
        path = "/proc/sys/" + key.replace(".", "/")
        self.run(["sh", "-c", 'printf "%s\\n" "$1" > "$2"', "sh", value, path])
        written = self.run(["cat", path]).split()
        if written != value.split():
            raise NetnsError(f"{key} is {written}, not {value!r}")

    def set_link(self, device: str, up: bool) -> None:
        self.ip("link", "set", "dev", device, "up" if up else "down")

    def link_is_up(self, device: str) -> bool:
        return "UP" in self.ip("-br", "link", "show", "dev", device).split()

    def pids(self) -> list[int]:
        if not self.exists():
            return []
        out = run(["ip", "netns", "pids", self.name])
        return [int(p) for p in out.split()]

    def require_route(self, address: str) -> str:
        """Fail unless ``address`` is routed inside this namespace.

        Returns the outgoing device. Called before any traffic is sent,
        so that nothing ever leaves through a route we did not make.
        """
        check_address(address)
        if not self.exists():
            raise NetnsError(f"namespace {self.name} does not exist")
        route = self.ip("route", "get", address)
        match = re.search(r"\bdev (\S+)", route)
        if not match or match.group(1) == "lo":
            raise NetnsError(f"no route to {address} in {self.name}")
        return match.group(1)

    def delete(self) -> None:
        """Kill what still runs inside, then remove the namespace."""
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.exists():
            run(["ip", "netns", "del", self.name])


def add_bridge(ns: Namespace, bridge: str, address: str | None) -> None:
    """A Linux bridge in ``ns``, optionally with an address of its own."""
    ns.ip("link", "add", bridge, "type", "bridge")
    if address:
        ns.ip("addr", "add", address, "dev", bridge)
    ns.set_link(bridge, True)


def add_port(
    ns: Namespace,
    device: str,
    address: str,
    switch: Namespace,
    port: str,
    bridge: str,
) -> None:
    """A veth from ``ns`` (``device``, ``address``) into a switch bridge."""
    ns.ip(
        "link", "add", device, "type", "veth",
        "peer", "name", port, "netns", switch.name,
    )  # fmt: skip
    switch.ip("link", "set", port, "master", bridge)
    switch.set_link(port, True)
    ns.ip("addr", "add", address, "dev", device)
    ns.set_link(device, True)


def remove_leftovers(pattern: re.Pattern = PREFIX_PATTERN) -> list[str]:
    """Remove namespaces of earlier runs whose owner process is gone."""
    removed = []
    for name in list_namespaces():
        match = pattern.match(name)
        if not match or _alive(int(match.group(1))):
            continue
        Namespace(name).delete()
        removed.append(name)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wait_for(predicate, timeout: float, what: str, step: float = 0.1):
    """Poll ``predicate`` until truthy; bounded by ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise NetnsError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(step)
