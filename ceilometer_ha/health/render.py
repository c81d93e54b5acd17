"""The verdict report as a table for people.

Colour (ANSI) only when asked, which ``ceilometer-ha status`` does when
its standard output is a terminal; scripts should read the JSON shape
(``Report.to_dict``) instead of parsing this text.
"""

from ceilometer_ha.health import model

_COLOURS = {
    model.OK: "32",
    model.DEGRADED: "33",
    model.FAILED: "31;1",
    model.STALE: "35",
}


def _paint(text: str, verdict: str, colour: bool) -> str:
    if not colour or verdict not in _COLOURS:
        return text
    return f"\x1b[{_COLOURS[verdict]}m{text}\x1b[0m"


def _when(value) -> str:
    text = model.isoformat(value)
    return text[:19].replace("T", " ") if text else "-"


def _evidence_line(evidence: model.Evidence) -> str:
    if evidence.check == "storage":
        state = "reachable" if evidence.reachable else "unreachable"
        return (
            f"      storage {evidence.address}: loss {evidence.value:.0%}, "
            f"{state}, {evidence.streak} cycles since "
            f"{_when(evidence.since)}"
        )
    note = f" ({evidence.note})" if evidence.note else ""
    state = "up" if evidence.value >= 0.5 else "down"
    return (
        f"      {evidence.check} {evidence.resource_id}: {state}{note}, "
        f"{evidence.streak} cycles since {_when(evidence.since)}"
    )


def render_table(
    report: model.Report, colour: bool = False, evidence: bool = False
) -> str:
    """The report as aligned text lines, newest facts only.

    The evidence of hosts not ``ok``; of every host with ``evidence``.
    """
    counts = report.counts()
    summary = ", ".join(f"{counts[v]} {v}" for v in model.VERDICTS)
    lines = [
        f"Health at {_when(report.generated_at)} UTC: "
        f"{len(report.hosts)} hosts: {summary}"
    ]
    if not report.can_judge:
        lines.append(
            _paint(
                f"CANNOT JUDGE ({report.reason}): {report.detail}; "
                "do not act on these verdicts",
                model.FAILED,
                colour,
            )
        )
    rows = [("CLUSTER", "HOST", "VERDICT", "SINCE", "REASON")]
    rows += [
        (v.cluster, v.host, v.verdict, _when(v.since), v.reason or "-")
        for v in report.hosts
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for index, row in enumerate(rows):
        cells = [
            cell.ljust(width)
            for cell, width in zip(row[:4], widths, strict=True)
        ]
        if index:
            cells[2] = _paint(cells[2], row[2], colour)
        lines.append("  ".join(cells + [row[4]]).rstrip())
        verdict = report.hosts[index - 1] if index else None
        if verdict and (evidence or verdict.verdict != model.OK):
            if verdict.detail:
                lines.append(f"      {verdict.detail}")
            lines += [_evidence_line(e) for e in verdict.evidence]
    lines.append("")
    for cluster in report.clusters:
        counted = ", ".join(
            f"{cluster.verdicts[v]} {v}" for v in model.VERDICTS
        )
        line = f"Cluster {cluster.cluster}: {cluster.hosts} hosts ({counted})"
        if cluster.storage_outage:
            line += _paint(
                "; STORAGE OUTAGE: " + ", ".join(cluster.outage_hosts),
                model.DEGRADED,
                colour,
            )
        lines.append(line)
    return "\n".join(lines) + "\n"
