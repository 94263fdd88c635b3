"""End-to-end speed and memory of SegmentExportOperator against the emulator, next to the floor.

Run: ``.venv/bin/python benchmarks/export_bench.py`` (defaults: 100,000 and 1,000,000 rows, SQLite
and PostgreSQL, every scenario, median of 3). See ``benchmarks/README.md`` for the options.

- The emulator runs as a separate ``criteo-sandbox`` process on loopback (bodies not recorded, rate
  limit raised so that back-to-back runs are never throttled); its CPU seconds are read per run.
- Each export runs in a fresh Python process that instantiates the real operator and calls
  ``execute(context={})``: only ``execute`` is timed (no scheduler, no Airflow start-up), and the
  process's peak RSS (``VmHWM``, cross-checked with ``ru_maxrss``) is that of the export alone.
- The floor (``floor.py``) does only the irreducible work on the same table and the same emulator.

Scenarios, per source and size:

- ``floor``: the floor, on the table.
- ``read-floor``: the floor without sending (``floor.py --read-only``): what any mirror rerun must at
  least do, read and hash every row, to know who joined and who left.
- ``full``: first mirror export of the table to a new audience (every member added).
- ``churn``: mirror rerun after 1% of the profiles changed address (alternating the table and its
  churned variant, so every rerun removes and adds about 1%).
- ``dry``: dry run of such a rerun (reads, hashes, diffs against the snapshot; sends nothing).
- ``limited``: the first export again, with the emulator and the client at Criteo's real rate limit
  (250 calls a minute): next to the *API floor*, its amendments / 250 per minute.

Nothing is asserted: the figures are printed, as a Markdown table at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import profiles  # noqa: E402

PYTHON = sys.executable
SANDBOX = str(Path(PYTHON).with_name("criteo-sandbox"))
POSTGRES_CONN = {
    "conn_type": "postgres",
    "host": "127.0.0.1",
    "port": 5432,
    "login": "postgres",
    "schema": "test",
}
CLIENT_ID, CLIENT_SECRET, ADVERTISER = "sandbox-client-id", "sandbox-client-secret", "12345"
SCENARIOS = ("floor", "read-floor", "full", "churn", "dry", "limited")
#: Criteo's rate limit of one app, calls per minute: the ``limited`` scenario's.
CRITEO_RATE_LIMIT = 250
# Far above what one export sends: runs follow each other within a minute, and must not be throttled.
BENCH_RATE_LIMIT = 1_000_000


# ---------------------------------------------------------------------------------------- worker


def _status_kib(field_name: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    return 0


def worker(spec: dict[str, Any]) -> None:
    """In a fresh process: run one export and print its figures as one JSON line."""
    os.environ["AIRFLOW_CONN_WAREHOUSE"] = json.dumps(spec["warehouse"])
    os.environ["AIRFLOW_CONN_CRITEO_BENCH"] = json.dumps(
        {
            "conn_type": "criteo",
            "host": spec["url"],
            "login": CLIENT_ID,
            "password": CLIENT_SECRET,
            "extra": {"advertiser_id": ADVERTISER, "data_transfer_consent": True},
        }
    )
    from airflow_provider_criteo.operators.segment_export import SegmentExportOperator

    operator = SegmentExportOperator(
        task_id="export",
        segment=spec["audience"],
        sql_conn_id="warehouse",
        table=spec["table"],
        criteo_conn_id="criteo_bench",
        sync_mode="mirror",
        dry_run=spec["dry_run"],
        max_profiles=None,
        snapshot_location=spec["snapshots"],
        hook_params={"calls_per_minute": spec.get("calls_per_minute", BENCH_RATE_LIMIT)},
    )
    rss_before = _status_kib("VmRSS")
    started, cpu = time.perf_counter(), time.process_time()
    summary = operator.execute(context={})
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    figures = {"seconds": seconds, "cpu": cpu, "summary": summary, "rss_before_kib": rss_before}
    figures["hwm_kib"] = _status_kib("VmHWM")
    print("RESULT " + json.dumps(figures), flush=True)


# ---------------------------------------------------------------------------------------- harness


@dataclass
class Run:
    """One measured run."""

    seconds: float
    rows: int
    peak_rss_mib: float | None
    requests: int
    sandbox_cpu: float
    #: CPU seconds of the measured work, all threads (less sensitive than wall time to a busy machine).
    cpu: float
    extra: dict[str, Any] = field(default_factory=dict)


class Sandbox:
    """A ``criteo-sandbox`` process on a free loopback port."""

    def __init__(self, log_dir: Path) -> None:
        self.log = open(log_dir / "sandbox.log", "w")  # noqa: SIM115
        self.process = subprocess.Popen(
            [SANDBOX, "--port", "0", "--log-level", "warning", "--rate-limit", str(BENCH_RATE_LIMIT)],
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        found = re.search(r"listening on (\S+)", line)
        if not found:
            raise RuntimeError(f"criteo-sandbox did not start: {line!r}")
        self.url = found.group(1)
        import requests

        self.http = requests.Session()
        if self.http.get(f"{self.url}/_sandbox/settings").json()["record_bodies"]:
            raise RuntimeError("the benchmark needs the sandbox with record_bodies off")

    def cpu_seconds(self) -> float:
        """User + system CPU seconds of the sandbox process so far."""
        with open(f"/proc/{self.process.pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def reset(self) -> None:
        """Forget every segment (so that memory does not pile up from run to run)."""
        self.http.post(f"{self.url}/_sandbox/reset").raise_for_status()

    def limit(self, calls_per_minute: int) -> None:
        """Refuse calls past ``calls_per_minute`` in any minute, as Criteo does (HTTP 429)."""
        self.http.put(
            f"{self.url}/_sandbox/settings", json={"rate_limit_per_minute": calls_per_minute}
        ).raise_for_status()

    def clear_journal(self) -> None:
        self.http.delete(f"{self.url}/_sandbox/requests").raise_for_status()

    def journal_size(self) -> int:
        return len(self.http.get(f"{self.url}/_sandbox/requests").json())

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)
        self.log.close()


def _run_process(
    command: list[str], sandbox: Sandbox, log: Path, env: dict[str, str] | None = None
) -> tuple[str, float, float]:
    """Run a measured process; return its stdout, its peak RSS in MiB (ru_maxrss) and sandbox CPU."""
    sandbox.clear_journal()
    cpu = sandbox.cpu_seconds()
    with open(log, "a") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)
        assert process.stdout is not None
        output = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"{command[:3]} failed ({process.returncode}); see {log}")
    return output, usage.ru_maxrss / 1024, sandbox.cpu_seconds() - cpu


def run_export(sandbox: Sandbox, spec: dict[str, Any], log: Path) -> Run:
    command = [PYTHON, str(HERE / "export_bench.py"), "--worker", json.dumps(spec)]
    env = None
    if spec.get("package_path"):  # measure another checkout of the provider (before/after a change)
        env = {**os.environ, "PYTHONPATH": spec["package_path"]}
    output, maxrss, cpu = _run_process(command, sandbox, log, env)
    line = next(line for line in output.splitlines() if line.startswith("RESULT "))
    figures = json.loads(line[len("RESULT ") :])
    summary = figures["summary"]
    return Run(
        seconds=figures["seconds"],
        rows=summary["rows_read"],
        peak_rss_mib=figures["hwm_kib"] / 1024,
        requests=sandbox.journal_size(),
        sandbox_cpu=cpu,
        cpu=figures["cpu"],
        extra={
            "ru_maxrss_mib": maxrss,
            "rss_before_mib": figures["rss_before_kib"] / 1024,
            "added": summary["added"],
            "removed": summary["removed"],
            "valid": summary["valid"],
            "distinct": summary["valid"] - summary["duplicates"],
            "invalid": summary["invalid"],
            "amendments": summary["requests"] - (1 if summary["audience_wiped"] else 0),
        },
    )


def run_floor(
    sandbox: Sandbox, source: str, table: str, sqlite_path: str, log: Path, *, read_only: bool = False
) -> Run:
    target = ["--sqlite", sqlite_path] if source == "sqlite" else ["--postgres", profiles.POSTGRES_DSN]
    command = [PYTHON, str(HERE / "floor.py"), "--url", sandbox.url, "--table", table, *target]
    if read_only:
        command.append("--read-only")
    output, maxrss, cpu = _run_process(command, sandbox, log)
    figures = json.loads(output.strip().splitlines()[-1])
    return Run(
        seconds=figures["seconds"],
        rows=figures["rows"],
        peak_rss_mib=maxrss,
        requests=sandbox.journal_size(),
        sandbox_cpu=cpu,
        cpu=figures["cpu"],
        extra={"sent": figures["sent"]},
    )


def measure(
    sandbox: Sandbox,
    source: str,
    size: int,
    scenarios: list[str],
    repeat: int,
    work: Path,
    sqlite_path: str,
    package_path: str | None = None,
) -> dict[str, list[Run]]:
    """Every scenario on one table, ``repeat`` times each."""
    warehouse = {"conn_type": "sqlite", "host": sqlite_path} if source == "sqlite" else POSTGRES_CONN
    tables = [profiles.table_name(size), profiles.table_name(size, churn=True)]
    log = work / f"{source}-{size}.log"
    results: dict[str, list[Run]] = {}
    audience = f"bench-{source}-{size}"
    snapshots = work / f"snapshots-{source}-{size}"

    def spec(table: str, dry_run: bool = False, calls_per_minute: int = BENCH_RATE_LIMIT) -> dict[str, Any]:
        return {
            "url": sandbox.url,
            "warehouse": warehouse,
            "table": table,
            "audience": audience,
            "snapshots": str(snapshots),
            "dry_run": dry_run,
            "package_path": package_path,
            "calls_per_minute": calls_per_minute,
        }

    def report(scenario: str, run: Run) -> None:
        print(
            f"  {source:8} {size:>9,} {scenario:10} {run.seconds:7.2f} s  "
            f"peak RSS {run.peak_rss_mib or 0:6.0f} MiB  {run.requests:3} requests  "
            f"sandbox CPU {run.sandbox_cpu:5.2f} s  worker CPU {run.cpu:5.2f} s"
            f"  {run.extra}",
            flush=True,
        )
        results.setdefault(scenario, []).append(run)

    def full_export() -> Run:
        sandbox.reset()
        shutil.rmtree(snapshots, ignore_errors=True)
        return run_export(sandbox, spec(tables[0]), log)

    # The floors and the first export alternate, so that all see the same machine (others' load).
    for _ in range(repeat):
        if "floor" in scenarios:
            sandbox.reset()
            report("floor", run_floor(sandbox, source, tables[0], sqlite_path, log))
        if "read-floor" in scenarios:
            sandbox.reset()
            report("read-floor", run_floor(sandbox, source, tables[0], sqlite_path, log, read_only=True))
        if "full" in scenarios:
            report("full", full_export())
    if "full" not in scenarios and ("churn" in scenarios or "dry" in scenarios):
        run = full_export()
        print(f"  {source:8} {size:>9,} (first export, for the reruns: {run.seconds:.2f} s)", flush=True)
    current = 0  # the audience now holds tables[current]
    if "churn" in scenarios:
        for _ in range(repeat):
            current = 1 - current
            report("churn", run_export(sandbox, spec(tables[current]), log))
    if "dry" in scenarios:
        for _ in range(repeat):
            report("dry", run_export(sandbox, spec(tables[1 - current], dry_run=True), log))
    if "limited" in scenarios:
        for _ in range(repeat):
            sandbox.reset()
            shutil.rmtree(snapshots, ignore_errors=True)
            sandbox.limit(CRITEO_RATE_LIMIT)
            try:
                run = run_export(sandbox, spec(tables[0], calls_per_minute=CRITEO_RATE_LIMIT), log)
            finally:
                sandbox.limit(BENCH_RATE_LIMIT)
            run.extra["api_floor_s"] = run.extra["amendments"] * 60 / CRITEO_RATE_LIMIT
            report("limited", run)
    sandbox.reset()
    shutil.rmtree(snapshots, ignore_errors=True)
    return results


def table_rows(all_results: dict[tuple[str, int], dict[str, list[Run]]]) -> list[str]:
    """The results as Markdown table rows, medians of the repeats."""
    lines = [
        "| source | rows | scenario | wall s (median) | rows/s | vs floor | peak RSS MiB | requests "
        "| emulator CPU s (share of wall) | worker CPU s |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for (source, size), results in all_results.items():
        floor = statistics.median(r.seconds for r in results["floor"]) if "floor" in results else None
        for scenario in SCENARIOS:
            runs = results.get(scenario)
            if not runs:
                continue
            seconds = statistics.median(r.seconds for r in runs)
            rows = runs[0].rows
            rss = max(r.peak_rss_mib or 0 for r in runs)
            cpu = statistics.median(r.sandbox_cpu for r in runs)
            against = runs[0].extra["api_floor_s"] if scenario == "limited" else floor
            ratio = f"{seconds / against:.2f}x" if against and scenario != "floor" else ""
            own = statistics.median(r.cpu for r in runs)
            lines.append(
                f"| {source} | {size:,} | {scenario} | {seconds:.2f} | {rows / seconds:,.0f} | {ratio} "
                f"| {rss:.0f} | {runs[0].requests} | {cpu:.2f} ({cpu / seconds:.0%}) | {own:.2f} |"
            )
    return lines


def rerun_lines(all_results: dict[tuple[str, int], dict[str, list[Run]]]) -> list[str]:
    """A mirror rerun's median time, and the read floor's, as shares of the full export's (issue 6)."""
    lines = []
    for (source, size), results in all_results.items():
        if not results.get("full"):
            continue
        full = statistics.median(r.seconds for r in results["full"])
        shares = [
            f"{label} {statistics.median(r.seconds for r in results[scenario]) / full:.2f}"
            for scenario, label in (("churn", "mirror rerun after 1% churn"), ("read-floor", "read floor"))
            if results.get(scenario)
        ]
        if shares:
            lines.append(f"{source} {size:,}: of the full export's time, {', '.join(shares)}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated row counts")
    parser.add_argument("--sources", default="sqlite,postgres", help="sqlite, postgres or both")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help=f"among {', '.join(SCENARIOS)}")
    parser.add_argument("--repeat", type=int, default=3, help="runs per scenario (the median is reported)")
    parser.add_argument("--data-dir", default=os.path.join(tempfile.gettempdir(), "criteo-bench"))
    parser.add_argument(
        "--package-path",
        help="run the exports with the provider of another checkout (its root folder), e.g. the previous "
        "commit in a git worktree; the emulator and the floor stay this checkout's",
    )
    args = parser.parse_args()
    if args.worker:
        worker(json.loads(args.worker))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    sources = args.sources.split(",")
    scenarios = args.scenarios.split(",")
    data = Path(args.data_dir)
    data.mkdir(parents=True, exist_ok=True)
    sqlite_path = str(data / "warehouse.db")
    os.environ.setdefault("AIRFLOW_HOME", str(data / "airflow-home"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    for size in sizes:
        profiles.ensure(
            size,
            sqlite_path=sqlite_path if "sqlite" in sources else None,
            postgres_dsn=profiles.POSTGRES_DSN if "postgres" in sources else None,
        )
    work = Path(tempfile.mkdtemp(prefix="run-", dir=data))
    sandbox = Sandbox(work)
    print(f"sandbox {sandbox.url} (pid {sandbox.process.pid}); logs in {work}", flush=True)
    all_results = {}
    try:
        for source in sources:
            for size in sizes:
                all_results[(source, size)] = measure(
                    sandbox, source, size, scenarios, args.repeat, work, sqlite_path, args.package_path
                )
    finally:
        sandbox.stop()
    print()
    print(
        f"{platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d')}, median of {args.repeat}"
    )
    print("\n".join(table_rows(all_results)))
    print("\n".join(rerun_lines(all_results)))


if __name__ == "__main__":
    main()
