"""Packet-loss faults for test namespaces, as nftables rules.

One nft table per namespace holds the current fault; its counters prove
that the fault really dropped packets.
"""

import json

from tests.functional import netns

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

    def __init__(self, ns: netns.Namespace, table: str = "chafaults") -> None:
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
