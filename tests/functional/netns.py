"""Network namespaces, veth pairs, bridges and nft faults for test hosts.

The building blocks of the fault test bed. Every name a run creates
starts with a run prefix ``cha<pid>x<hex>-`` so that parallel runs never
collide and the leftovers of a run that died can be told apart from a
live run's namespaces (:func:`remove_leftovers` removes only those whose
process is gone). Interfaces are created directly inside their
namespaces, so the root namespace never sees them.

Every command is checked (a failure raises :class:`NetnsError` with its
stderr) and bounded by a timeout. Traffic is only ever sent from inside
a namespace this module created, to the documentation ranges, after the
route has been checked (:meth:`Namespace.require_route`).
"""

import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
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


# Sends ``count`` echo requests from inside a namespace over a raw socket
# (no ping binary needed) and prints how many were answered.
_ECHO_SCRIPT = r"""
import os, socket, struct, sys, time
def checksum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    return ~(s + (s >> 16)) & 0xffff
addr, count, wait = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
ident, answered = os.getpid() & 0xffff, 0
for seq in range(count):
    body = struct.pack('!BBHHH', 8, 0, 0, ident, seq) + b'chatestbed000000'
    packet = body[:2] + struct.pack('!H', checksum(body)) + body[4:]
    try:
        sock.sendto(packet, (addr, 0))
    except OSError:
        continue
    end = time.monotonic() + wait
    while time.monotonic() < end:
        sock.settimeout(max(end - time.monotonic(), 0.001))
        try:
            data = sock.recv(2048)
        except socket.timeout:
            break
        head = data[(data[0] & 15) * 4:][:8]
        kind, _, _, rid, rseq = struct.unpack('!BBHHH', head)
        if kind == 0 and rid == ident and rseq == seq:
            answered += 1
            break
print(answered)
"""


def echo_replies(
    ns: Namespace, address: str, count: int = 4, wait: float = 0.5
) -> int:
    """Echo requests from ``ns`` to ``address``: how many were answered."""
    ns.require_route(address)
    out = ns.run(
        [sys.executable, "-c", _ECHO_SCRIPT, address, str(count), str(wait)],
        timeout=count * wait + 10,
    )
    return int(out.strip())


# Rule bodies of the faults, matched on packets arriving on one device:
# the loss happens "on the wire", so senders see silence, not errors.
FAULT_RULES = {
    "icmp": "meta l4proto {{ icmp, ipv6-icmp }} counter drop",
    "alternate": "numgen inc mod 2 0 counter drop",
    "random": "numgen random mod 100 < {percent} counter drop",
}


class NftFaults:
    """The faults injected into one namespace, as one nft table.

    ``apply`` replaces whatever was there; ``clear`` is idempotent;
    ``dropped`` reads the rules' counters, so a test can prove that a
    fault really dropped packets.
    """

    def __init__(self, ns: Namespace, table: str = "chafaults") -> None:
        self.ns = ns
        self.table = table

    def apply(self, device: str, kind: str, percent: int = 30) -> None:
        if not 0 <= percent <= 100:
            raise ValueError(f"percent {percent} outside 0..100")
        rule = FAULT_RULES[kind].format(percent=percent)
        self.clear()
        script = (
            f"table inet {self.table} {{\n"
            f"  chain input {{\n"
            f"    type filter hook input priority -10; policy accept;\n"
            f'    iifname "{device}" {rule}\n'
            f"  }}\n"
            f"}}\n"
        )
        self.ns.run(["nft", "-f", "-"], stdin=script)

    def active(self) -> bool:
        out = self.ns.run(["nft", "list", "tables"])
        return f"table inet {self.table}" in out.splitlines()

    def dropped(self) -> int:
        """Packets dropped by the current fault (0 when none is set)."""
        if not self.active():
            return 0
        out = self.ns.run(["nft", "-j", "list", "table", "inet", self.table])
        total = 0
        for item in json.loads(out)["nftables"]:
            for expr in item.get("rule", {}).get("expr", []):
                if "counter" in expr:
                    total += int(expr["counter"]["packets"])
        return total

    def clear(self) -> None:
        if self.ns.exists() and self.active():
            self.ns.run(["nft", "delete", "table", "inet", self.table])


class ManagedProcess:
    """A service run inside a namespace in a process group of its own.

    Output goes to ``log_path``. ``stop`` and ``kill`` signal the whole
    group (ceilometer services fork workers) and wait, bounded.
    """

    def __init__(self, ns: Namespace, argv: list[str], log_path: str) -> None:
        self.ns = ns
        self.argv = argv
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        if self.running():
            return
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.ns.exec_argv(self.argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole group at once, as a crash would."""
        self._signal_group(signal.SIGKILL, 10.0)

    def stop(self, grace: float = 5.0) -> None:
        self._signal_group(signal.SIGTERM, grace)
        self._signal_group(signal.SIGKILL, 10.0)

    def _signal_group(self, sig: int, wait: float) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            return
        deadline = time.monotonic() + wait
        while group_alive(self.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)

    def log_tail(self, size: int = 4000) -> str:
        try:
            with open(self.log_path, "rb") as log:
                log.seek(0, os.SEEK_END)
                log.seek(max(log.tell() - size, 0))
                return log.read().decode(errors="replace")
        except OSError:
            return ""


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
