#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Run a program that writes a runlog run, then read its run directory with independent tools:
Python's json module line by line, pandas.read_json(lines=True), and jq. Checks the documented
format (docs/format.md), not runlog's own reader.

    check_run_dir.py --run ./quickstart --workdir /tmp/out
    check_run_dir.py --dir tests/golden/basic      (an existing run directory, e.g. the golden one)
"""
import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys


def fail(message):
    print(f"FAIL: {message}")
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", help="program to run")
    ap.add_argument("--workdir", help="fresh directory used as RUNLOG_DIR (with --run)")
    ap.add_argument("--dir", help="check this run directory instead of running a program")
    ap.add_argument("--export", help="the runlog tool: also check `runlog export --to wandb`")
    args = ap.parse_args()
    if args.dir:
        check(pathlib.Path(args.dir), check_name=False)
        return
    if not (args.run and args.workdir):
        ap.error("give --run and --workdir, or --dir")

    work = pathlib.Path(args.workdir)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = dict(os.environ, RUNLOG_DIR=str(work))
    for name in ("RUNLOG_MODE", "RUNLOG_RUN_ID", "RANK", "SLURM_PROCID", "LOCAL_RANK"):
        env.pop(name, None)
    proc = subprocess.run([args.run], env=env, cwd=work, capture_output=True, text=True, timeout=120)
    print(proc.stdout[-2000:])
    print(proc.stderr[-2000:])
    if proc.returncode != 0:
        fail(f"{args.run} exited with {proc.returncode}")

    latest = work / "runlog" / "latest-run"
    if not latest.is_symlink():
        fail("runlog/latest-run is not a symlink")
    check(latest.resolve(), check_name=True)
    if args.export:
        check_export(args.export, latest, work)


def check_export(tool, latest, work):
    proc = subprocess.run([tool, "export", "--to", "wandb", str(latest)], capture_output=True, text=True)
    print(proc.stdout + proc.stderr)
    if proc.returncode != 0 or not proc.stdout.startswith("exported "):
        fail(f"runlog export failed with {proc.returncode}")
    run_id = json.loads((latest / "run.json").read_text())["id"]
    wandb_file = work / "wandb" / "latest-run" / f"run-{run_id}.wandb"
    if not wandb_file.is_file() or wandb_file.read_bytes()[:7] != b":W&B\xe1\xbe\x00":
        fail(f"{wandb_file} is missing or has no W&B header")
    again = subprocess.run([tool, "export", "--to", "wandb", str(latest)], capture_output=True, text=True)
    if again.returncode != 1 or "already exists" not in again.stderr:
        fail("a second export was not refused")
    usage = subprocess.run([tool, "export", "--to", "csv", str(latest)], capture_output=True, text=True)
    if usage.returncode != 2 or "the targets are wandb and tensorboard" not in usage.stderr:
        fail("an unknown target was not refused with its reason")
    print(f"export: {wandb_file.stat().st_size} bytes in {wandb_file.name}")


def check(run_dir, check_name):
    run = json.loads((run_dir / "run.json").read_text())
    if run["format"] != "runlog/1" or run["status"] != "finished" or run["exit_code"] != 0:
        fail(f"run.json: unexpected format/status: {run}")
    if check_name and not run_dir.name.endswith("-" + run["id"]):
        fail(f"directory {run_dir.name} does not end with the run id {run['id']}")

    rows = []
    with open(run_dir / "history.jsonl", encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            try:
                rows.append(json.loads(line))
            except ValueError as e:
                fail(f"history.jsonl line {number} is not JSON: {e}")
    if len(rows) != run["stats"]["rows_committed"] or not rows:
        fail(f"{len(rows)} history rows, run.json says {run['stats']['rows_committed']}")
    steps = [r["_step"] for r in rows]
    if steps != sorted(set(steps)):
        fail("_step is not strictly increasing")
    for r in rows:
        if not isinstance(r["_step"], int) or not isinstance(r["_runtime"], float):
            fail(f"bad _step/_runtime types in {r}")

    media = 0
    for r in rows:
        for value in r.values():
            if isinstance(value, dict):
                paths = ([value["path"]] if "path" in value else []) + value.get("filenames", [])
                for p in paths:
                    if not (run_dir / p).is_file() or ".." in p.split("/"):
                        fail(f"media file {p} is missing or escapes the run directory")
                    media += 1
                if value.get("_type") == "image-file" and not (run_dir / value["path"]).read_bytes().startswith(b"\x89PNG"):
                    fail(f"{value['path']} is not a PNG")
    summary = json.loads((run_dir / "summary.json").read_text())
    config = json.loads((run_dir / "config.json").read_text())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    if summary["_step"] != steps[-1]:
        fail("summary _step is not the last row's step")
    if not isinstance(config, dict) or not isinstance(metrics, list):
        fail("config.json must be an object and metrics.json an array")
    print(f"json: {len(rows)} rows, {len(summary)} summary keys, {len(metrics)} metric definitions, "
          f"{media} media files")

    try:
        import pandas
    except ImportError:
        fail("pandas is not installed (Debian: apt-get install python3-pandas)")
    frame = pandas.read_json(run_dir / "history.jsonl", lines=True)
    if len(frame) != len(rows) or "_step" not in frame.columns:
        fail(f"pandas read {len(frame)} rows, columns {list(frame.columns)}")
    print(f"pandas: {frame.shape[0]} rows x {frame.shape[1]} columns")

    jq = shutil.which("jq")
    if jq is None:
        fail("jq is not installed (Debian: apt-get install jq)")
    for name in ("run.json", "config.json", "metrics.json", "summary.json"):
        subprocess.run([jq, "-e", ".", str(run_dir / name)], check=True, capture_output=True)
    count = subprocess.run([jq, "-s", "length", str(run_dir / "history.jsonl")],
                           check=True, capture_output=True, text=True).stdout.strip()
    if int(count) != len(rows):
        fail(f"jq counted {count} rows")
    print(f"jq: {count} rows")
    print("PASS")


if __name__ == "__main__":
    main()
