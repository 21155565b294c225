"""Throughput and peak memory of ``harness predict --input``, for docs/benchmarks.md.

    python -m benchmarks.scale --label "rnn, 1M" --results scale.jsonl -- \
        runs/rnn/model --input /tmp/tweets-1m.jsonl --precision auto --out /tmp/p --force

runs the command after ``--`` as ``harness predict ...`` in a child process, samples the
resident memory of the whole process tree (the command, and with ``--ray`` the local
Ray's raylet, workers and actors) every quarter second, and appends one JSON line: the
wall time of the whole command (model loading and Ray's start included), the tweets and
tweets/s of its ``summary.json`` (prediction only), the peak of the summed RSS (shared
pages counted in every process that maps them, so an upper bound), and the CPU.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import click
import psutil

from harness.benchmarking import machine_description


def tree_rss(process: psutil.Process) -> int:
    """Bytes resident in ``process`` and all its descendants now."""
    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total


@click.command(context_settings={"ignore_unknown_options": True})
@click.option("--label", required=True, help="What the row measures (system, input, mode).")
@click.option("--results", type=click.Path(path_type=Path), required=True)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def main(label: str, results: Path, args: tuple[str, ...]) -> None:
    """Run ``harness predict ARGS`` and record its throughput and peak memory."""
    out = Path(args[args.index("--out") + 1])
    if (out / "job.json").is_file():  # a measurement starts from nothing, never resumes
        shutil.rmtree(out)
    command = [str(Path(sys.executable).parent / "harness"), "predict", *args, "--no-progress"]
    started = time.perf_counter()
    child = subprocess.Popen(command)
    watched = psutil.Process(child.pid)
    peak = 0
    while child.poll() is None:
        try:
            peak = max(peak, tree_rss(watched))
        except psutil.NoSuchProcess:
            break
        time.sleep(0.25)
    wall = time.perf_counter() - started
    if child.returncode != 0:
        raise click.ClickException(f"harness predict failed (exit {child.returncode})")
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    row = {
        "label": label,
        "tweets": summary["tweets"],
        "prediction_seconds": summary["seconds"],
        "tweets_per_second": summary["tweets_per_second"],
        "wall_seconds": round(wall, 1),
        "peak_rss_mib": round(peak / 2**20),
        "mode": summary["mode"],
        "inference_path": summary["inference_path"],
        "cpu": machine_description(),
        "date": time.strftime("%Y-%m-%d"),
    }
    with open(results, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(row) + "\n")
    click.echo(json.dumps(row))


if __name__ == "__main__":
    main()
