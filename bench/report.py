"""Render a harness run (bench/results/<stamp>.json) as Markdown: the figures, the size of
each answer, the ratios to the floors, to TimeTagger and between the backends, and the issue's
targets, each marked met or not.

    .venv/bin/python bench/report.py bench/results/<stamp>.json
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

Row = dict[str, Any]  # one result of a run
Get = Callable[..., Row | None]
RSS_LIMIT_MB = 150
PAGE_P50_MS = 20  # a page of a million rows, first or deep
DEEP_PAGES = ("S8", "S8n", "S8d", "S8k", "S9", "S9n", "S9d", "S9k")
FLOOR_FACTOR = 2.0
PYTHON_FLOOR_P50 = 1.5  # S1 p50 at most this many times the Python floor's, at 1 client
PYTHON_FLOOR_THROUGHPUT = 0.6  # S1 at 16 clients at least this share of the floor's req/s
STACKS = ("W1", "W2")  # S1 served otherwise than in production (bench/harness.py says how)
SCALING_FACTOR = 1.3
PEER = {"S1": "T1", "S1L": "T1L", "S2": "T2"}  # our scenario -> TimeTagger's comparable operation
NO_PEER = {"S3": "TimeTagger has no summary: its client sums the records T1 lists"}
PAIRED = "1M paired"  # bench/harness.py: 1M runs interleaved with the 100k ones
MAIN = "postgresql"
OTHER_BACKENDS = ("sqlite", "mariadb")


def render(report: dict[str, Any]) -> str:
    rows = report["results"]
    for row in rows:  # runs before the backends were measured were all on PostgreSQL
        row.setdefault("backend", "" if row["dataset"] == "TimeTagger" else MAIN)
    index = {(r["scenario"], r["backend"], r["dataset"], r["clients"]): r for r in rows}
    clients = sorted({r["clients"] for r in rows})

    def get(scenario: str, clients: int, dataset: str = "1M", backend: str = MAIN) -> Row | None:
        if dataset == "TimeTagger":
            backend = ""
        return index.get((scenario, backend, dataset, clients))

    lines = [f"## Run {report['started']}", "", _setting(report), ""]
    if report.get("answers"):
        lines += ["### The answers", "", *_answers(report["answers"]), ""]
    lines += ["### Figures", "", *_table(rows), ""]
    lines += ["### Ratios", "", *_ratios(get, clients, rows), ""]
    lines += ["### Targets", "", *_targets(rows, get, clients, report.get("scenarios", {})), ""]
    return "\n".join(lines)


def _setting(report: dict[str, Any]) -> str:
    machine = report["machine"]
    versions = ", ".join(
        f"{label} {machine[key]}"
        for key, label in (
            ("postgresql", "PostgreSQL"),
            ("sqlite", "SQLite"),
            ("mariadb", "MariaDB"),
        )
        if key in machine
    )
    server = report["server"]
    data = report["data"]
    if "datasets" in data:
        datasets = "; ".join(
            f"{key}: {value['dataset']}, {value['entries']:,} entries ({value['action']}"
            + (f" in {value['seed_s']:g} s" if value.get("seed_s") else "")
            + f", {value.get('running', 0)} running)"
            for key, value in data["datasets"].items()
        )
    else:
        datasets = ", ".join(
            f"{name}: {count:,} entries" for name, count in data["time_entries"].items()
        )
    wall = f" The run took {report['wall_s'] / 60:.0f} min." if report.get("wall_s") else ""
    if data.get("note"):
        wall = f" {data['note'][0].upper()}{data['note'][1:]}.{wall}"
    return (
        f"{machine['cpus']} CPUs ({machine['cpu']}), {machine['memory_gb']} GB, "
        f"{machine['platform']}, Python {machine['python']}, {versions}, {machine['wrk']}; "
        f"gunicorn {server['workers']} workers x {server['threads']} threads, "
        f"{report['duration_s']:g} s per run, median of {report.get('repeat', 1)} runs after "
        f"{report['warmup_s']:g} s warm-up. Data: {datasets} ({data['entries_per_user']:,} "
        f"entries per user).{wall}"
    )


def _size(count: int) -> str:
    if count < 1000:
        return f"{count} B"
    return f"{count / 1000:.1f} kB" if count < 10_000 else f"{count / 1000:.0f} kB"


def _answers(answers: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """One line per scenario: e.g. `S1: 57 entries, 34 kB (postgresql; sqlite: ...)`."""
    out = []
    for scenario, by_backend in answers.items():
        parts = []
        for backend, answer in by_backend.items():
            entries = answer.get("entries")
            what = (
                f"{entries} {'entry' if entries == 1 else 'entries'}, "
                if entries is not None
                else ""
            )
            text = f"{what}{_size(answer['bytes'])}"
            if "stop_bytes" in answer:
                text += f" (start), {_size(answer['stop_bytes'])} (stop)"
            parts.append(f"{text} on {backend}" if backend else f"{text} (TimeTagger)")
        out.append(f"- {scenario}: " + "; ".join(parts))
    return out


def _table(rows: list[Row]) -> list[str]:
    out = [
        "| scenario | backend | data | clients | req/s | p50 ms | p95 ms | p99 ms | errors "
        "| load gen CPU | server CPU | machine busy | peak RSS/worker MB | req/s of each run |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in rows:
        seconds = r["duration_s"] or 1
        rss = ", ".join(f"{v:.1f}" for v in r["worker_peak_rss_mb"]) or "–"
        out.append(
            f"| {r['scenario']} | {r['backend'] or '–'} | {r['dataset']} | {r['clients']} "
            f"| {r['requests_per_s']:.1f} "
            f"| {r['p50_ms']:.2f} | {r['p95_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']} "
            f"| {100 * r['loadgen_cpu_s'] / seconds:.0f} % "
            f"| {100 * r['server_cpu_s'] / seconds:.0f} % "
            f"| {r['machine_busy_pct']:.0f} % | {rss} "
            f"| {', '.join(f'{v:.0f}' for v in r.get('runs_requests_per_s', []))} |"
        )
    return out


def _ratios(get: Get, clients: list[int], rows: list[Row]) -> list[str]:
    out = [
        "| ours | against | clients | p50 ours / theirs | req/s ours / theirs |",
        "|---|---|---:|---:|---:|",
    ]
    for ours, floor in (("S1", "D1"), ("S3", "D3"), ("S4", "D4")):
        for n in clients:
            api, framework, database = get(ours, n), get("F", n), get(floor, n)
            if api and framework and database:
                out.append(
                    f"| {ours} | F + {floor} (floors) | {n} "
                    f"| {api['p50_ms'] / (framework['p50_ms'] + database['p50_ms']):.2f} "
                    f"| {api['requests_per_s'] / database['requests_per_s']:.2f} (vs {floor}) |"
                )
    for ours, floor, n, api, theirs in _floor_pairs(get, clients):
        out.append(
            f"| {ours} | {floor} ({'Python floor' if floor == 'P' else 'database floor'}) | {n} "
            f"| {api['p50_ms'] / theirs['p50_ms']:.2f} "
            f"| {api['requests_per_s'] / theirs['requests_per_s']:.2f} |"
        )
    for ours, theirs, n, api, peer in _peer_pairs(get, clients):
        out.append(
            f"| {ours} | TimeTagger {theirs} | {n} | {api['p50_ms'] / peer['p50_ms']:.2f} "
            f"| {api['requests_per_s'] / peer['requests_per_s']:.2f} |"
        )
    for scenario, backend, n, other, main in _backend_pairs(get, clients):
        out.append(
            f"| {scenario} on {backend} | {scenario} on PostgreSQL | {n} "
            f"| {other['p50_ms'] / main['p50_ms']:.2f} "
            f"| {other['requests_per_s'] / main['requests_per_s']:.2f} |"
        )
    for stack in STACKS:
        for n in clients:
            production = get("S1", n)
            other = next((r for r in rows if (r["scenario"], r["clients"]) == (stack, n)), None)
            if production and other:
                out.append(
                    f"| {stack}: S1 on {other['dataset'].split(' ', 1)[-1]} "
                    f"| S1 on the production worker | {n} "
                    f"| {other['p50_ms'] / production['p50_ms']:.2f} "
                    f"| {other['requests_per_s'] / production['requests_per_s']:.2f} |"
                )
    for scenario, n, big, small in _scaling_pairs(get, clients):
        out.append(
            f"| {scenario} at 1M | {scenario} at 100k | {n} "
            f"| {big['p50_ms'] / small['p50_ms']:.2f} "
            f"| {big['requests_per_s'] / small['requests_per_s']:.2f} |"
        )
    if len(out) == 2:
        out = ["No pairs to compare in this run."]
    if get("S3", clients[0]) and get("T1", clients[0], "TimeTagger"):
        out += ["", f"S3 has no TimeTagger pair: {NO_PEER['S3']}."]
    return out


def _floor_pairs(get: Get, clients: list[int]) -> Iterator[tuple[str, str, int, Row, Row]]:
    """S1 and its Python floor P, S2 and its database floor D2."""
    for ours, floor in (("S1", "P"), ("S2", "D2")):
        for n in clients:
            api, theirs = get(ours, n), get(floor, n)
            if api and theirs:
                yield ours, floor, n, api, theirs


def _peer_pairs(get: Get, clients: list[int]) -> Iterator[tuple[str, str, int, Row, Row]]:
    """Our scenario and TimeTagger's comparable one, at each client count measured for both."""
    for ours, theirs in PEER.items():
        for n in clients:
            api, peer = get(ours, n), get(theirs, n, "TimeTagger")
            if api and peer:
                yield ours, theirs, n, api, peer


def _backend_pairs(get: Get, clients: list[int]) -> Iterator[tuple[str, str, int, Row, Row]]:
    """S1-S3 on SQLite and MariaDB against the same on PostgreSQL."""
    for scenario in ("S1", "S2", "S3"):
        for backend in OTHER_BACKENDS:
            for n in clients:
                main = get(scenario, n)
                other = get(scenario, n, "1M", backend) or get(scenario, n, "100k", backend)
                if main and other:
                    yield scenario, backend, n, other, main


def _scaling_pairs(get: Get, clients: list[int]) -> Iterator[tuple[str, int, Row, Row]]:
    """S1 and S3 at 1M (the runs paired with 100k's when there are) and at 100k."""
    for scenario in ("S1", "S3"):
        for n in clients:
            big, small = get(scenario, n, PAIRED) or get(scenario, n), get(scenario, n, "100k")
            if big and small:
                yield scenario, n, big, small


def _verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def _targets(rows: list[Row], get: Get, clients: list[int], titles: dict[str, str]) -> list[str]:
    out = []
    admin_list = get("S7", 1)
    if admin_list:
        peak = max(admin_list["worker_peak_rss_mb"], default=0.0)
        out.append(
            f"- S7 ({titles.get('S7', 'admin month list')}): peak RSS per worker ≤ "
            f"{RSS_LIMIT_MB} MB: {peak:.1f} MB (p50 {admin_list['p50_ms']:.0f} ms): "
            + _verdict(peak <= RSS_LIMIT_MB)
        )
    for name in DEEP_PAGES:
        page = get(name, 1)
        if page:
            out.append(
                f"- {name} ({titles.get(name, name)}): p50 ≤ {PAGE_P50_MS} ms, 1 client: "
                f"{page['p50_ms']:.2f} ms: " + _verdict(page["p50_ms"] <= PAGE_P50_MS)
            )
    s1, framework, database = get("S1", 1), get("F", 1), get("D1", 1)
    if s1 and framework and database:
        limit = FLOOR_FACTOR * (framework["p50_ms"] + database["p50_ms"])
        out.append(
            f"- S1 p50 ≤ 2 × (framework floor + database floor), 1 client: {s1['p50_ms']:.2f} ms "
            f"≤ 2 × ({framework['p50_ms']:.2f} + {database['p50_ms']:.2f}) = {limit:.2f} ms: "
            + _verdict(s1["p50_ms"] <= limit)
        )
    python_1, python_16 = get("P", 1), get("P", 16)
    if s1 and python_1:
        ratio = s1["p50_ms"] / python_1["p50_ms"]
        out.append(
            f"- S1 p50 ≤ {PYTHON_FLOOR_P50}× the Python floor (P), 1 client: {s1['p50_ms']:.2f} / "
            f"{python_1['p50_ms']:.2f} ms = {ratio:.2f}×: " + _verdict(ratio <= PYTHON_FLOOR_P50)
        )
    s1_16 = get("S1", 16)
    if s1_16 and python_16:
        ratio = s1_16["requests_per_s"] / python_16["requests_per_s"]
        out.append(
            f"- S1 throughput ≥ {PYTHON_FLOOR_THROUGHPUT}× the Python floor's (P), 16 clients: "
            f"{s1_16['requests_per_s']:.1f} / {python_16['requests_per_s']:.1f} req/s = "
            f"{ratio:.2f}×: " + _verdict(ratio >= PYTHON_FLOOR_THROUGHPUT)
        )
    for n in clients:
        s2, floor = get("S2", n), get("D2", n)
        if s2 and floor:
            limit = FLOOR_FACTOR * floor["p50_ms"]
            out.append(
                f"- S2 p50 ≤ 2 × its database floor (D2), {n} client(s): {s2['p50_ms']:.2f} ms "
                f"≤ 2 × {floor['p50_ms']:.2f} = {limit:.2f} ms: " + _verdict(s2["p50_ms"] <= limit)
            )
    for scenario, n, big, small in _scaling_pairs(get, clients):
        ratio = big["p50_ms"] / small["p50_ms"]
        out.append(
            f"- {scenario} at 1M within 1.3× of 100k, {n} client(s): p50 "
            f"{big['p50_ms']:.2f} / {small['p50_ms']:.2f} ms = {ratio:.2f}× (req/s "
            f"{big['requests_per_s']:.1f} vs {small['requests_per_s']:.1f}): "
            + _verdict(ratio <= SCALING_FACTOR)
        )
    for ours, theirs, n, api, peer in _peer_pairs(get, clients):
        out.append(
            f"- {ours} throughput ≥ TimeTagger {theirs}, {n} client(s): "
            f"{api['requests_per_s']:.1f} vs {peer['requests_per_s']:.1f} req/s: "
            + _verdict(api["requests_per_s"] >= peer["requests_per_s"])
        )
    api_rss = [mb for r in rows if r["scenario"].startswith("S") for mb in r["worker_peak_rss_mb"]]
    if api_rss:
        out.append(
            f"- under {RSS_LIMIT_MB} MB RSS per worker: highest peak {max(api_rss):.1f} MB: "
            + _verdict(max(api_rss) < RSS_LIMIT_MB)
        )
    errors = sum(r["errors"] for r in rows)
    if errors:
        out.append(f"- **{errors} errors** in the measurements: see the table")
    return out


if __name__ == "__main__":
    print(render(json.loads(Path(sys.argv[1]).read_text())))
