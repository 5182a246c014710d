"""The unit users feel: the whole `dbt build` of a user's project, Python models and tests included.

    .venv/bin/python bench/bench_build.py                       # 1,000,000 units, default threads (2)
    .venv/bin/python bench/bench_build.py --units 10000000
    .venv/bin/python bench/bench_build.py --threads 4
    .venv/bin/python bench/bench_build.py --shape voter --units 344084   # one 5-arm experiment, a binary metric

1. bench/sql/generate_inputs.sql writes the inputs into a fresh DuckDB file (the SQL bench's generator), then
   bench/sql/build_inputs.sql gives them the shape of a typical project: exp_a (2 arms, a binary and a revenue
   metric), exp_b (3 arms, the binary metric), both with targeting economics. `--shape voter` applies
   bench/sql/build_voter_inputs.sql instead: one 5-arm experiment (4 comparisons), one binary metric, no
   targeting economics, the shape of the 344k-voter field experiment issue 11 measured at 17 minutes.
2. bench/build_project installs dbt_hte by local path; `dbt build` runs every model and test as a scheduled job
   would, at the profile's threads (or --threads).
3. Reported: wall time, CPU time and peak RSS of the dbt process (os.wait4; dbt-duckdb runs Python models inside
   it, so this is the figure the kernel's out-of-memory killer sees), the RSS sampled every 0.5 s with the
   models running at each sample (which model holds the memory), every node's execution time, the share of
   hte_cate_scores, and everything downstream of it against its own time.

Results: bench/results/build_bench_<units>[_threads<N>].json and .md (the table for the README).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import yaml

from run_sql_bench import Measured, add_output_arguments, bench_workdir, data_described, generate_inputs, load_described
from run_sql_bench import dbt_command as sql_bench_dbt_command

BENCH = Path(__file__).resolve().parent
PROJECT = BENCH / "build_project"
CATE_SCORES = "model.dbt_hte.hte_cate_scores"
SAMPLE_SECONDS = 0.5
# --shape: the SQL applied to the generated inputs, the vars that go with it, and a one-line description
SHAPES = {
    "project": (
        "build_inputs.sql",
        {},
        "exp_a 2 arms × conversion + revenue, exp_b 3 arms × conversion: 4 comparisons × 5 learners",
    ),
    "voter": (
        "build_voter_inputs.sql",
        {"hte_metrics": {"voted": {"kind": "binary"}}},
        "exp_v 5 arms × voted (binary), no targeting economics: 4 comparisons × 5 learners",
    ),
}


def rss_bytes(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of the process so far (/proc/<pid>/stat fields 14 and 15)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def run_sampled(command: list[str], *, env: dict[str, str], cwd: Path, log: Path) -> tuple[Measured, list]:
    """Run to completion; wall, CPU and peak RSS of the process (os.wait4), and its RSS and CPU time every
    SAMPLE_SECONDS."""
    log.parent.mkdir(parents=True, exist_ok=True)
    samples: list[tuple[float, int, float]] = []
    with log.open("w") as out:
        started = time.perf_counter()
        wall_start = datetime.now(UTC)
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        done = threading.Event()

        def sample():
            while not done.is_set():
                rss, cpu = rss_bytes(proc.pid), cpu_seconds(proc.pid)
                if rss is not None and cpu is not None:
                    samples.append((time.perf_counter() - started, rss, cpu))
                done.wait(SAMPLE_SECONDS)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        done.set()
        sampler.join()
        wall = time.perf_counter() - started
    measured = Measured(
        os.waitstatus_to_exitcode(status),
        wall,
        usage.ru_utime + usage.ru_stime,
        usage.ru_maxrss * 1024,
        log.read_text(),
    )
    return measured, [(wall_start.timestamp() + t, rss, cpu) for t, rss, cpu in samples]


def dbt_command(args: list[str], workdir: Path) -> list[str]:
    return sql_bench_dbt_command(args, workdir, project=PROJECT)


def node_rows(target: Path, samples: list[tuple[float, int, float]]) -> list[dict]:
    """Every node dbt ran: its execution time, whether it is downstream of hte_cate_scores, the largest RSS
    sampled while it ran (shared with whatever ran beside it: dbt runs `threads` nodes at once), and its CPU
    seconds: the dbt process's CPU time in each sampling interval, split evenly among the nodes running then.
    Wall times stretch when other work shares the machine; CPU seconds far less."""
    manifest = json.loads((target / "manifest.json").read_text())
    children = manifest["child_map"]
    downstream, pending = set(), list(children.get(CATE_SCORES, []))
    while pending:
        node_id = pending.pop()
        if node_id not in downstream:
            downstream.add(node_id)
            pending.extend(children.get(node_id, []))
    nodes = manifest["nodes"]
    results = json.loads((target / "run_results.json").read_text())["results"]

    def span(result) -> tuple[float, float]:
        spans = [
            (datetime.fromisoformat(p["started_at"]).timestamp(), datetime.fromisoformat(p["completed_at"]).timestamp())
            for p in result["timing"]
            if p.get("started_at") and p.get("completed_at")
        ]
        return (min(s for s, _ in spans), max(e for _, e in spans)) if spans else (0.0, 0.0)

    spans = {r["unique_id"]: span(r) for r in results}
    cpu = dict.fromkeys(spans, 0.0)
    for (t0, _, c0), (t1, _, c1) in zip(samples, samples[1:]):
        running = [uid for uid, (start, end) in spans.items() if start < t1 and end > t0]
        for uid in running:
            cpu[uid] += (c1 - c0) / len(running)
    rows = []
    for result in results:
        node = nodes.get(result["unique_id"], {})
        spans = [
            (datetime.fromisoformat(p["started_at"]).timestamp(), datetime.fromisoformat(p["completed_at"]).timestamp())
            for p in result["timing"]
            if p.get("started_at") and p.get("completed_at")
        ]
        start, end = (min(s for s, _ in spans), max(e for _, e in spans)) if spans else (0.0, 0.0)
        during = [rss for t, rss, _ in samples if start <= t <= end]
        rows.append(
            {
                "unique_id": result["unique_id"],
                "name": node.get("name", result["unique_id"]),
                "resource_type": node.get("resource_type"),
                "language": node.get("language"),
                "status": result["status"],
                "execution_time": result["execution_time"],
                "downstream_of_cate_scores": result["unique_id"] in downstream,
                "peak_rss_sampled_bytes": max(during) if during else None,
                "cpu_seconds": cpu.get(result["unique_id"], 0.0),
            }
        )
    return rows


def summarise(nodes: list[dict], build: Measured) -> dict:
    models = [n for n in nodes if n["resource_type"] == "model"]
    cate = next((n["execution_time"] for n in nodes if n["unique_id"] == CATE_SCORES), None)
    downstream = sum(n["execution_time"] for n in models if n["downstream_of_cate_scores"])
    total = sum(n["execution_time"] for n in models)
    cate_cpu = next((n["cpu_seconds"] for n in nodes if n["unique_id"] == CATE_SCORES), None)
    downstream_cpu = sum(n["cpu_seconds"] for n in models if n["downstream_of_cate_scores"])
    return {
        "dbt_build_wall_seconds": build.wall_seconds,
        "dbt_build_cpu_seconds": build.cpu_seconds,
        "dbt_peak_rss_bytes": build.peak_rss_bytes,
        "model_execution_seconds": total,
        "test_execution_seconds": sum(n["execution_time"] for n in nodes if n["resource_type"] == "test"),
        "sql_model_seconds": sum(n["execution_time"] for n in models if n["language"] == "sql"),
        "python_model_seconds": sum(n["execution_time"] for n in models if n["language"] == "python"),
        "cate_scores_seconds": cate,
        "cate_scores_share_of_models": cate / total if cate and total else None,
        "downstream_of_cate_scores_seconds": downstream,
        "downstream_to_cate_scores_ratio": downstream / cate if cate else None,
        "cate_scores_cpu_seconds": cate_cpu,
        "downstream_of_cate_scores_cpu_seconds": downstream_cpu,
        "downstream_to_cate_scores_cpu_ratio": downstream_cpu / cate_cpu if cate_cpu else None,
        "nodes_failed": [n["name"] for n in nodes if n["status"] not in ("success", "pass", "warn")],
    }


def markdown(result: dict) -> str:
    s, gib = result["summary"], 1024**3
    lines = [
        f"Whole `dbt build` on {data_described(result, result.get('shape_description', SHAPES['project'][2]))}, "
        f"threads {result['threads'] or 'profile (2)'}, {result['environment']['cpu_count']} cores; "
        f"{load_described(result)}. `{result['command']}`",
        "",
        "| what | figure |",
        "|---|---:|",
        f"| `dbt build` wall time | {s['dbt_build_wall_seconds']:.0f} s |",
        f"| CPU time of the dbt process | {s['dbt_build_cpu_seconds']:.0f} s |",
        f"| peak RSS of the dbt process | {s['dbt_peak_rss_bytes'] / gib:.2f} GiB |",
        f"| models' execution time: SQL / Python / tests | {s['sql_model_seconds']:.0f} / "
        f"{s['python_model_seconds']:.0f} / {s['test_execution_seconds']:.0f} s |",
        f"| hte_cate_scores (share of model time) | {s['cate_scores_seconds'] or 0:.0f} s "
        f"({(s['cate_scores_share_of_models'] or 0):.0%}) |",
        f"| everything downstream of hte_cate_scores (× its time) | {s['downstream_of_cate_scores_seconds']:.0f} s "
        f"({(s['downstream_to_cate_scores_ratio'] or 0):.2f}×) |",
        f"| the same in CPU seconds of the dbt process (robust to other load) | "
        f"{s['cate_scores_cpu_seconds'] or 0:.0f} s vs {s['downstream_of_cate_scores_cpu_seconds']:.0f} s "
        f"({(s['downstream_to_cate_scores_cpu_ratio'] or 0):.2f}×) |",
        f"| build status | {'passed' if result['returncode'] == 0 else 'FAILED: ' + ', '.join(s['nodes_failed'])} |",
        "",
        "| model | language | downstream of hte_cate_scores | execution s | CPU s | peak RSS while it ran, GiB |",
        "|---|---|---|---:|---:|---:|",
    ]
    models = [n for n in result["nodes"] if n["resource_type"] == "model"]
    for node in sorted(models, key=lambda n: -n["execution_time"])[:25]:
        rss = node["peak_rss_sampled_bytes"]
        lines.append(
            f"| {node['name']} | {node['language']} | {'yes' if node['downstream_of_cate_scores'] else ''} "
            f"| {node['execution_time']:.1f} | {node['cpu_seconds']:.1f} "
            f"| {'' if rss is None else f'{rss / gib:.2f}'} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=1_000_000, help="units to generate (default 1,000,000)")
    parser.add_argument("--threads", type=int, default=None, help="dbt --threads (default: the profile's, 2)")
    add_output_arguments(parser, Path("/tmp/dbt_hte_build_bench"))
    parser.add_argument("--vars", default=None, help="extra dbt --vars (YAML), e.g. to try a setting")
    parser.add_argument(
        "--shape",
        choices=sorted(SHAPES),
        default="project",
        help="project: exp_a + exp_b with targeting (default); voter: one 5-arm experiment",
    )
    args = parser.parse_args()
    if args.units < 1000:
        parser.error("--units must be at least 1000")

    workdir, database, env = bench_workdir(args.workdir)

    load_before = os.getloadavg()[0]
    print(f"generating {args.units:,} units into {database}", flush=True)
    inputs = generate_inputs(database, args.units)
    with duckdb.connect(str(database)) as con:
        con.execute((BENCH / "sql" / SHAPES[args.shape][0]).read_text())
        inputs["rows"] = {
            table: con.execute(f"select count(*) from bench_inputs.{table}").fetchone()[0]
            for table in ("assignments", "unit_features", "outcomes", "experiments")
        }

    if not (PROJECT / "dbt_packages" / "dbt_hte").exists():
        deps = subprocess.run(dbt_command(["deps"], workdir), cwd=PROJECT, env=env, capture_output=True, text=True)
        if deps.returncode != 0:
            sys.exit(f"dbt deps failed for bench/build_project:\n{deps.stdout[-4000:]}")
    shape_vars = dict(SHAPES[args.shape][1], **(yaml.safe_load(args.vars) if args.vars else {}))
    extra = (["--threads", str(args.threads)] if args.threads else []) + (
        ["--vars", json.dumps(shape_vars)] if shape_vars else []
    )
    parse = subprocess.run(
        dbt_command(["parse", *extra], workdir), cwd=PROJECT, env=env, capture_output=True, text=True
    )
    if parse.returncode != 0:
        sys.exit(f"dbt parse failed for bench/build_project:\n{parse.stdout[-4000:]}")

    print("dbt build (every model and test)", flush=True)
    build, samples = run_sampled(
        dbt_command(["build", *extra], workdir), env=env, cwd=PROJECT, log=workdir / "logs" / "build.out"
    )
    nodes = node_rows(workdir / "target", samples) if (workdir / "target" / "run_results.json").exists() else []
    result = {
        "units": args.units,
        "shape": args.shape,
        "shape_description": SHAPES[args.shape][2],
        "threads": args.threads,
        "command": " ".join(["bench/bench_build.py", *sys.argv[1:]]).strip(),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "returncode": build.returncode,
        "environment": {
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "duckdb": duckdb.__version__,
            "load_average_1min": {"before": load_before, "after": os.getloadavg()[0]},
        },
        "inputs": inputs,
        "summary": summarise(nodes, build),
        "nodes": nodes,
        "rss_samples": samples[:: max(1, len(samples) // 2000)],
    }
    args.results.mkdir(parents=True, exist_ok=True)
    stem = (
        f"build_bench_{args.units}"
        + (f"_{args.shape}" if args.shape != "project" else "")
        + (f"_threads{args.threads}" if args.threads else "")
    )
    (args.results / f"{stem}.json").write_text(json.dumps(result, indent=2, default=str))
    table = markdown(result)
    (args.results / f"{stem}.md").write_text(table)
    print(table)
    if build.returncode != 0:
        sys.exit(f"dbt build failed (exit {build.returncode}); its output ends:\n{build.output[-3000:]}")


if __name__ == "__main__":
    main()
