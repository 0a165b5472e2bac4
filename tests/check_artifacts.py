#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Run the checkpoints example, then read what it left with tools that are not runlog's:
Python's json and hashlib for the artifact store and the run's artifacts.jsonl (docs/artifacts.md),
and, for `runlog export --to wandb`, a framing reader written here plus protoc-generated classes
of tests/wandb_proto/ for the artifact records.

    check_artifacts.py --run ./checkpoints --workdir /tmp/ck --export ./runlog

Checks: every alias names a live version whose files hash as the manifest says; "best" is the
earliest version with the lowest val/loss; retention kept latest, best and the 3 best scores and
deleted only the store's files; the W&B records carry the live versions with entity, project,
aliases, sizes, base64 MD5s that match the files at their local_path, and W&B's manifest digest;
--sync-root rewrites the paths.
"""
import argparse
import base64
import hashlib
import json
import os
import pathlib
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib


def fail(message):
    print(f"FAIL: {message}")
    sys.exit(1)


def expect(condition, message):
    if not condition:
        fail(message)


def digests(path):
    sha, md5, size = hashlib.sha256(), hashlib.md5(), 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            sha.update(chunk)
            md5.update(chunk)
            size += len(chunk)
    return sha.hexdigest(), base64.b64encode(md5.digest()).decode(), size


# --- the store and the run -------------------------------------------------------------------
def check_store(store, run_dir):
    lines = [json.loads(line) for line in (run_dir / "artifacts.jsonl").read_text().splitlines()]
    logged = [line for line in lines if line["action"] == "log"]
    expect(len(logged) == 12, f"12 checkpoints logged, artifacts.jsonl has {len(logged)}")
    expect(all(line["store"] == "../artifacts" for line in logged), "store path relative to the run")
    name = logged[0]["name"]
    scores = {line["version"]: line["manifest"]["metadata"]["score"] for line in logged}
    expect(sorted(scores) == list(range(12)), f"versions 0..11, got {sorted(scores)}")

    aliases = json.loads((store / name / "aliases.json").read_text())
    best = min(scores, key=lambda v: (scores[v], v))
    expect(aliases.get("best") == best, f"best -> v{best} (lowest val/loss), aliases.json: {aliases}")
    expect(aliases.get("latest") == 11, f"latest -> v11, aliases.json: {aliases}")
    top3 = sorted(scores, key=lambda v: (scores[v], v))[:3]
    expected_live = sorted(set(top3) | {best, 11})

    live = []
    for manifest_file in sorted(store.glob(f"{name}/v*.json")):
        manifest = json.loads(manifest_file.read_text())
        version_dir = store / name / f"v{manifest['version']}"
        if "deleted" in manifest:
            expect(not version_dir.exists(), f"{version_dir} deleted by retention")
            continue
        live.append(manifest["version"])
        expect(manifest["metadata"]["original_filename"] == "last.ckpt", "original_filename")
        expect(manifest["metadata"]["monitor"] == "val/loss" and manifest["metadata"]["mode"] == "min",
               "monitor and mode in metadata")
        for entry in manifest["entries"]:
            sha, md5, size = digests(version_dir / entry["path"])
            expect((sha, md5, size) == (entry["sha256"], entry["md5"], entry["size"]),
                   f"{version_dir / entry['path']}: digests differ from its manifest")
    expect(sorted(live) == expected_live, f"live versions {sorted(live)}, expected {expected_live}")
    for alias, version in aliases.items():
        expect(version in live, f"alias {alias} -> v{version}, which is not live")
    return name, scores, sorted(live)


# --- W&B: LevelDB-log framing (wandb-offline-format §2) and the artifact records ---------------
def read_wandb_records(path):
    data = path.read_bytes()
    expect(data[:7] == b":W&B\xe1\xbe\x00", f"{path}: bad file header")
    at, records, partial = 7, [], None
    while at < len(data):
        left = 32768 - at % 32768
        if left < 7:
            expect(data[at:at + left] == b"\0" * left, f"{path}: block trailer at {at}")
            at += left
            continue
        crc, length, kind = struct.unpack_from("<IHB", data, at)
        payload = data[at + 7:at + 7 + length]
        expect(len(payload) == length, f"{path}: truncated chunk at {at}")
        expect(zlib.crc32(bytes([kind]) + payload) == crc, f"{path}: bad CRC at {at}")
        if kind == 1:
            records.append(payload)
        elif kind == 2:
            partial = payload
        elif kind in (3, 4):
            partial += payload
            if kind == 4:
                records.append(partial)
        else:
            fail(f"{path}: chunk type {kind} at {at}")
        at += 7 + length
    return records


def load_protos():
    proto_dir = pathlib.Path(__file__).resolve().parent / "wandb_proto"
    out = pathlib.Path(tempfile.mkdtemp(prefix="runlog-wandbproto-"))
    subprocess.run(["protoc", f"-I{proto_dir}", f"--python_out={out}",
                    str(proto_dir / "wandb_artifact.proto")], check=True)
    sys.path.insert(0, str(out))
    import wandb_artifact_pb2  # noqa: E402 (generated just now)
    return wandb_artifact_pb2


def check_export(tool, run_dir, work, name, scores, live, sync_root):
    pb = load_protos()
    out = work / ("export-moved" if sync_root else "export")
    command = [tool, "export", "--to", "wandb", "--entity", "demo-team", "--out", str(out)]
    if sync_root:
        command += ["--sync-root", sync_root]
    proc = subprocess.run(command + [str(run_dir)], capture_output=True, text=True)
    print(proc.stdout + proc.stderr)
    expect(proc.returncode == 0, "runlog export --to wandb failed")
    expect(f"{len(live)} artifact versions ({12 - len(live)} more were pruned)" in proc.stdout,
           "export reports the versions it wrote and those pruned")
    wandb_file = next(out.glob("wandb/offline-run-*/run-*.wandb"))
    artifacts = []
    for raw in read_wandb_records(wandb_file):
        record = pb.Record()
        record.ParseFromString(raw)
        if record.HasField("artifact"):
            expect(len(record.artifact.UnknownFields()) == 0, "unknown fields in an artifact record")
            artifacts.append(record.artifact)
    expect([json.loads(a.metadata)["step"] for a in artifacts] ==
           [json.loads(a.metadata)["step"] for a in sorted(artifacts, key=lambda a: json.loads(a.metadata)["step"])],
           "artifact records in the order they were logged")
    expect(len(artifacts) == len(live), f"{len(live)} artifact records, got {len(artifacts)}")
    best_so_far = None
    for a, version in zip(artifacts, live):
        where = f"artifact record for v{version}"
        expect(a.entity == "demo-team" and a.project == "checkpoints-demo", f"{where}: entity/project")
        expect(a.name == name and a.type == "model" and a.finalize, f"{where}: name/type/finalize")
        expect(len(a.client_id) == 128 and len(a.sequence_client_id) == 128, f"{where}: client ids")
        expect(json.loads(a.metadata)["score"] == scores[version], f"{where}: metadata score")
        expect(a.aliases[0] == "latest", f"{where}: latest alias first")
        expect(a.manifest.version == 1 and a.manifest.storage_policy == "wandb-storage-policy-v1",
               f"{where}: manifest policy")
        expect([(c.key, c.value_json) for c in a.manifest.storage_policy_config] ==
               [("storageLayout", '"V2"')], f"{where}: storage layout")
        digest_text = "wandb-artifact-manifest-v1\n"
        for entry in sorted(a.manifest.contents, key=lambda e: e.path):
            local = pathlib.Path(entry.local_path)
            expect(local.is_absolute(), f"{where}: local_path {local} is absolute")
            if sync_root:
                expect(str(local).startswith(sync_root + "/"), f"{where}: {local} under {sync_root}")
                local = out / pathlib.Path(str(local)[len(sync_root) + 1:])
            sha, md5, size = digests(local)
            expect(entry.digest == md5 and entry.size == size, f"{where}: {entry.path} digest/size")
            expect(local.name == sha, f"{where}: file named by its SHA-256")
            digest_text += f"{entry.path}:{entry.digest}\n"
        expect(a.digest == hashlib.md5(digest_text.encode()).hexdigest(), f"{where}: manifest digest")
        score = scores[version]
        is_best = best_so_far is None or score < best_so_far
        expect(("best" in a.aliases) == is_best, f"{where}: best alias {list(a.aliases)}")
        if is_best:
            best_so_far = score


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", required=True, help="the checkpoints example")
    ap.add_argument("--workdir", required=True, help="fresh directory to run it in")
    ap.add_argument("--export", help="the runlog tool: also check `runlog export --to wandb`")
    args = ap.parse_args()
    work = pathlib.Path(args.workdir).resolve()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNLOG_")}
    env["RUNLOG_DIR"] = str(work)
    proc = subprocess.run([os.path.abspath(args.run)], env=env, cwd=work, capture_output=True,
                          text=True, timeout=300)
    print(proc.stdout[-3000:])
    print(proc.stderr[-2000:])
    expect(proc.returncode == 0, f"{args.run} exited with {proc.returncode}")
    expect("loaded model-" in proc.stdout and ":best = " in proc.stdout,
           "the second process loaded :best")
    run_dir = (work / "runlog" / "latest-run").resolve()
    name, scores, live = check_store(work / "runlog" / "artifacts", run_dir)
    if args.export:
        check_export(args.export, run_dir, work, name, scores, live, None)
        check_export(args.export, run_dir, work, name, scores, live, "/mnt/elsewhere")
    print(f"OK: {name}: 12 versions logged, {len(live)} kept ({live}), best v{min(scores, key=lambda v: (scores[v], v))}")


if __name__ == "__main__":
    main()
