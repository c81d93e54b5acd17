"""Run the benchmarks and collect their JSON reports.

``python benchmarks/run_all.py [NAME ...]`` runs ``benchmarks/NAME.py``
for each name given (all benchmarks when none is), each in its own
process so that one benchmark's memory and threads never colour another's
figures. Every benchmark prints one JSON document; this script stores it
under ``benchmarks/results/NAME.json`` and prints all of them as one JSON
object keyed by name, then, on standard error, one line per target a
report judged (``meets_target``, or ``verdicts`` for several targets):
met, missed or not shown by this run. A benchmark that fails is
reported with its exit code and the tail of its error output, and makes
this script exit 1; a missed target does not (a figure, not a test).
"""

import json
import pathlib
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
RESULTS = HERE / "results"


def available() -> list[str]:
    return sorted(
        p.stem
        for p in HERE.glob("*.py")
        if p.stem not in ("run_all", "__init__") and not p.stem.startswith("_")
    )


def run_one(name: str) -> dict:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, str(HERE / f"{name}.py")],
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = round(time.monotonic() - started, 1)
    if proc.returncode != 0:
        return {
            "error": f"exit code {proc.returncode}",
            "stderr_tail": proc.stderr[-2000:],
            "wall_seconds": elapsed,
        }
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        return {
            "error": f"output is not JSON: {exc}",
            "stdout_tail": proc.stdout[-2000:],
            "wall_seconds": elapsed,
        }
    report.setdefault("wall_seconds", elapsed)
    return report


def _word(met: object) -> str:
    if met is True:
        return "met"
    if met is False:
        return "MISSED"
    return "not shown by this run"


def summary(reports: dict) -> list[str]:
    """One line per target the reports judged."""
    lines = []
    for name, report in reports.items():
        if "error" in report:
            lines.append(f"{name}: {report['error']}")
            continue
        if "meets_target" in report:
            lines.append(f"{name}: {_word(report['meets_target'])}")
        for target, verdict in report.get("verdicts", {}).items():
            lines.append(
                f"{name} {target}: {_word(verdict['met'])} "
                f"({verdict['measured']} against {verdict['target']})"
            )
    return lines


def main(argv: list[str]) -> int:
    names = argv or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        sys.stderr.write(
            f"unknown benchmark(s): {', '.join(unknown)}; "
            f"available: {', '.join(available())}\n"
        )
        return 2
    RESULTS.mkdir(exist_ok=True)
    reports = {}
    for name in names:
        sys.stderr.write(f"running {name} ...\n")
        reports[name] = run_one(name)
        (RESULTS / f"{name}.json").write_text(
            json.dumps(reports[name], indent=2) + "\n"
        )
    print(json.dumps(reports, indent=2))
    for line in summary(reports):
        sys.stderr.write(f"target: {line}\n")
    return 1 if any("error" in r for r in reports.values()) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
