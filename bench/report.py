"""Render a harness run (bench/results/<stamp>.json) as Markdown: the figures, the ratios to
the floors and to TimeTagger, and the issue's targets, each marked met or not.

    .venv/bin/python bench/report.py bench/results/<stamp>.json
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

Row = dict[str, Any]  # one result of a run
RSS_LIMIT_MB = 150
FLOOR_FACTOR = 2.0
SCALING_FACTOR = 1.3
PEER = {"S1": "T1", "S2": "T2"}  # our scenario -> TimeTagger's comparable operation
PAIRED = "1M paired"  # bench/harness.py: 1M runs interleaved with the 100k ones


def render(report: dict[str, Any]) -> str:
    rows = report["results"]
    index = {(r["scenario"], r["dataset"], r["clients"]): r for r in rows}
    clients = sorted({r["clients"] for r in rows})

    def get(scenario: str, clients: int, dataset: str = "1M") -> dict[str, Any] | None:
        return index.get((scenario, dataset, clients))

    lines = [f"## Run {report['started']}", ""]
    machine = report["machine"]
    lines.append(
        f"{machine['cpus']} CPUs ({machine['cpu']}), {machine['memory_gb']} GB, "
        f"{machine['platform']}, Python {machine['python']}, PostgreSQL {machine['postgresql']}, "
        f"{machine['wrk']}; gunicorn {report['server']['workers']} workers x "
        f"{report['server']['threads']} threads, {report['duration_s']:g} s per run, median of "
        f"{report.get('repeat', 1)} runs after {report['warmup_s']:g} s warm-up. Data: "
        + ", ".join(
            f"{name}: {count:,} entries" for name, count in report["data"]["time_entries"].items()
        )
        + f" ({report['data']['entries_per_user']:,} per user)."
    )
    lines += ["", *_table(rows), ""]
    lines += ["### Ratios", "", *_ratios(get, clients), ""]
    lines += ["### Targets", "", *_targets(rows, get, clients), ""]
    return "\n".join(lines)


def _table(rows: list[dict[str, Any]]) -> list[str]:
    out = [
        "| scenario | data | clients | req/s | p50 ms | p95 ms | p99 ms | errors "
        "| load gen CPU | server CPU | machine busy | peak RSS/worker MB | req/s of each run |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in rows:
        seconds = r["duration_s"] or 1
        rss = ", ".join(f"{v:.1f}" for v in r["worker_peak_rss_mb"]) or "–"
        out.append(
            f"| {r['scenario']} | {r['dataset']} | {r['clients']} | {r['requests_per_s']:.1f} "
            f"| {r['p50_ms']:.2f} | {r['p95_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']} "
            f"| {100 * r['loadgen_cpu_s'] / seconds:.0f} % "
            f"| {100 * r['server_cpu_s'] / seconds:.0f} % "
            f"| {r['machine_busy_pct']:.0f} % | {rss} "
            f"| {', '.join(f'{v:.0f}' for v in r.get('runs_requests_per_s', []))} |"
        )
    return out


def _ratios(get: Any, clients: list[int]) -> list[str]:
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
    for ours, theirs, n, api, peer in _peer_pairs(get, clients):
        out.append(
            f"| {ours} | TimeTagger {theirs} | {n} | {api['p50_ms'] / peer['p50_ms']:.2f} "
            f"| {api['requests_per_s'] / peer['requests_per_s']:.2f} |"
        )
    for scenario, n, big, small in _scaling_pairs(get, clients):
        out.append(
            f"| {scenario} at 1M | {scenario} at 100k | {n} "
            f"| {big['p50_ms'] / small['p50_ms']:.2f} "
            f"| {big['requests_per_s'] / small['requests_per_s']:.2f} |"
        )
    return out


def _peer_pairs(get: Any, clients: list[int]) -> Iterator[tuple[str, str, int, Row, Row]]:
    """Our scenario and TimeTagger's comparable one, at each client count measured for both."""
    for ours, theirs in PEER.items():
        for n in clients:
            api, peer = get(ours, n), get(theirs, n, "TimeTagger")
            if api and peer:
                yield ours, theirs, n, api, peer


def _scaling_pairs(get: Any, clients: list[int]) -> Iterator[tuple[str, int, Row, Row]]:
    """S1 and S3 at 1M (the runs paired with 100k's when there are) and at 100k."""
    for scenario in ("S1", "S3"):
        for n in clients:
            big, small = get(scenario, n, PAIRED) or get(scenario, n), get(scenario, n, "100k")
            if big and small:
                yield scenario, n, big, small


def _verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def _targets(rows: list[dict[str, Any]], get: Any, clients: list[int]) -> list[str]:
    out = []
    s1, framework, database = get("S1", 1), get("F", 1), get("D1", 1)
    if s1 and framework and database:
        limit = FLOOR_FACTOR * (framework["p50_ms"] + database["p50_ms"])
        out.append(
            f"- S1 p50 ≤ 2 × (framework floor + database floor), 1 client: {s1['p50_ms']:.2f} ms "
            f"≤ 2 × ({framework['p50_ms']:.2f} + {database['p50_ms']:.2f}) = {limit:.2f} ms: "
            + _verdict(s1["p50_ms"] <= limit)
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
    return out


if __name__ == "__main__":
    print(render(json.loads(Path(sys.argv[1]).read_text())))
