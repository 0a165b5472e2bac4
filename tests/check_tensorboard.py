#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Read runlog's TensorBoard event files with an independent decoder and compare every value with
the native run directory that was written alongside.

The decoder is not runlog's: the framing and CRC-32C are written here, and the Events are parsed
by protoc-generated Python classes of tests/tensorboard_proto/ (TensorBoard's messages, field for
field); an unknown field anywhere (a field sent with the wrong wire type, say) fails the check.
Expected values come from history.jsonl, config.json, metrics.json, run.json and the media files.

    check_tensorboard.py --run ./quickstart --workdir /tmp/tb [--export ./runlog]

runs the program with RUNLOG_SINKS=jsonl,tensorboard and checks the live event file; with
--export it also checks `runlog export --to tensorboard` of the same run.
"""
import argparse
import json
import math
import os
import pathlib
import re
import shutil
import struct
import subprocess
import sys
import tempfile


def fail(message):
    print(f"FAIL: {message}")
    sys.exit(1)


# --- CRC-32C (Castagnoli, reflected 0x82F63B78) and TFRecord framing -------------------------
CRC_TABLE = []
for n in range(256):
    c = n
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    CRC_TABLE.append(c)


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = CRC_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def masked(c):
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283


def read_records(path):
    data = path.read_bytes()
    at, out = 0, []
    while at < len(data):
        if at + 12 > len(data):
            fail(f"{path}: truncated record header at byte {at}")
        (length,) = struct.unpack_from("<Q", data, at)
        (length_crc,) = struct.unpack_from("<I", data, at + 8)
        if length_crc != masked(crc32c(data[at:at + 8])):
            fail(f"{path}: bad length CRC at byte {at}")
        payload = data[at + 12:at + 12 + length]
        if len(payload) != length or at + 16 + length > len(data):
            fail(f"{path}: truncated record at byte {at}")
        (payload_crc,) = struct.unpack_from("<I", data, at + 12 + length)
        if payload_crc != masked(crc32c(payload)):
            fail(f"{path}: bad payload CRC at byte {at}")
        out.append(payload)
        at += 16 + length
    return out


# --- protoc-generated classes -----------------------------------------------------------------
def load_protos():
    proto_dir = pathlib.Path(__file__).resolve().parent / "tensorboard_proto"
    out = pathlib.Path(tempfile.mkdtemp(prefix="runlog-tbproto-"))
    subprocess.run(["protoc", f"-I{proto_dir}", "-I/usr/include", f"--python_out={out}",
                    str(proto_dir / "tensorboard_events.proto")], check=True)
    sys.path.insert(0, str(out))
    import tensorboard_events_pb2  # noqa: E402 (generated just now)
    return tensorboard_events_pb2


def no_unknown_fields(message, where):
    if len(message.UnknownFields()) != 0:
        fail(f"{where}: unknown fields (a field with the wrong number or wire type)")
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            is_message = field.message_type.fields_by_name["value"].message_type is not None
            items = list(value.values()) if is_message else []
        elif field.label == field.LABEL_REPEATED:
            items = list(value)
        else:
            items = [value]
        for item in items:
            no_unknown_fields(item, f"{where}.{field.name}")


# --- expectations from the native run --------------------------------------------------------
def f32(x):
    try:
        return struct.unpack("<f", struct.pack("<f", x))[0]
    except OverflowError:
        return math.copysign(math.inf, x)


def same_float(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == b


def flatten(obj, prefix=""):
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and "_type" not in value:
            yield from flatten(value, name + "/")
        else:
            yield name, value


def expected_values(run_dir):
    """tag -> list of (step, kind, expected) in logging order."""
    step_metric = {}
    for d in json.loads((run_dir / "metrics.json").read_text()):
        if d.get("step_metric") and not d["name"].endswith("*"):
            step_metric[d["name"]] = d["step_metric"]
    expected = {}
    fractional = set()  # step metrics that took a value that is not an integer: _step from then
    for line in (run_dir / "history.jsonl").read_text().splitlines():
        row = json.loads(line)
        for key, value in row.items():
            if key.startswith("_"):
                continue
            for tag, v in flatten({key: value}):
                metric = step_metric.get(tag, "")
                s = row.get(metric, None)
                if isinstance(s, float) and metric not in fractional and \
                        not (math.isfinite(s) and s == math.floor(s)):
                    fractional.add(metric)
                step = int(s) if isinstance(s, (int, float)) and not isinstance(s, bool) \
                    and metric not in fractional else row["_step"]
                if isinstance(v, bool):
                    item = ("scalar", 1.0 if v else 0.0)
                elif isinstance(v, (int, float)):
                    item = ("scalar", f32(float(v)))
                elif isinstance(v, str):
                    item = ("text", [v], [])
                elif isinstance(v, dict) and v.get("_type") == "histogram":
                    item = ("histogram", v)
                elif isinstance(v, dict) and v.get("_type") == "image-file":
                    item = ("images", v, [v["path"]])
                elif isinstance(v, dict) and v.get("_type") == "images/separated":
                    item = ("images", v, v["filenames"])
                elif isinstance(v, dict) and v.get("_type") == "table-file":
                    item = ("table", v)
                else:
                    continue  # arrays, nulls: not exported (documented)
                expected.setdefault(tag, []).append((step, row["_timestamp"]) + item)
    return expected


def table_cells(run_dir, path):
    content = json.loads((run_dir / path).read_text())
    cells = list(content["columns"])
    for row in content["data"]:
        for cell in row:
            if isinstance(cell, str):
                cells.append(cell)
            elif cell is None:
                cells.append("")
            elif isinstance(cell, dict) and "path" in cell:
                cells.append(f"(image {cell['path']})")
            else:
                cells.append(json.dumps(cell))
    return cells, [len(content["data"]) + 1, len(content["columns"])]


def check_histogram(tag, h, v):
    counts, edges = v["values"], v["bins"]
    nonzero = [i for i, c in enumerate(counts) if c > 0]
    first, last = (nonzero[0], nonzero[-1] + 1) if nonzero else (0, 0)
    if list(h.bucket) != [float(c) for c in counts[first:last]]:
        fail(f"{tag}: bucket counts {list(h.bucket)} != {counts[first:last]}")
    if list(h.bucket_limit) != [float(e) for e in edges[first + 1:last + 1]]:
        fail(f"{tag}: bucket limits differ")
    stats = v.get("stats")
    if stats:
        want = (stats["min"], stats["max"], stats["num"], stats["sum"], stats["sum_squares"])
    else:
        mids = [(edges[i] + edges[i + 1]) / 2 for i in range(len(counts))]
        want = (edges[first] if nonzero else 0.0, edges[last] if nonzero else 0.0,
                sum(counts), sum(c * m for c, m in zip(counts, mids)),
                sum(c * m * m for c, m in zip(counts, mids)))
    got = (h.min, h.max, h.num, h.sum, h.sum_squares)
    for name, g, w in zip(("min", "max", "num", "sum", "sum_squares"), got, want):
        if not math.isclose(g, w, rel_tol=1e-12, abs_tol=1e-12):
            fail(f"{tag}: histogram {name} {g} != {w}")


def check_events(pb, run_dir, tb_dir):
    files = list(tb_dir.iterdir())
    if len(files) != 1 or not re.fullmatch(r"events\.out\.tfevents\.\d{10}\.[^.].*\.\d+\.\d+",
                                            files[0].name):
        fail(f"{tb_dir}: expected one events.out.tfevents.<time>.<host>.<pid>.<n> file, "
             f"found {[f.name for f in files]}")
    events = []
    for i, payload in enumerate(read_records(files[0])):
        e = pb.Event()
        e.ParseFromString(payload)
        no_unknown_fields(e, f"event {i}")
        if not (math.isfinite(e.wall_time) and e.wall_time > 1e9):
            fail(f"event {i}: wall_time {e.wall_time}")
        events.append(e)
    if events[0].file_version != "brain.Event:2" or \
            not events[0].source_metadata.writer.startswith("runlog "):
        fail("the first event is not file_version brain.Event:2 with the writer's name")
    # Then the run's initial SessionLog START, at step 0: the loader takes the first START as the
    # run's start, so that a later one (rewind_to_step) is a restart.
    if len(events) < 2 or events[1].WhichOneof("what") != "session_log" or \
            events[1].session_log.status != 1 or events[1].step != 0:
        fail("the second event is not SessionLog START at step 0")

    run = json.loads((run_dir / "run.json").read_text())
    config = json.loads((run_dir / "config.json").read_text())
    actual, described = {}, {}
    for e in events[2:]:
        if e.WhichOneof("what") != "summary":
            fail(f"unexpected event kind {e.WhichOneof('what')}")
        for v in e.summary.value:
            actual.setdefault(v.tag, []).append((e.step, e.wall_time, v))
            if v.HasField("metadata"):
                if v.tag in described:
                    fail(f"{v.tag}: plugin metadata on more than the first value")
                described[v.tag] = v.metadata

    # hparams: the flattened config, and the end status.
    start = actual.pop("_hparams_/session_start_info", [])
    end = actual.pop("_hparams_/session_end_info", [])
    if len(start) != 1 or len(end) != 1:
        fail("expected one session_start_info and one session_end_info")
    for tag, items in (("start", start), ("end", end)):
        v = items[0][2]
        if v.metadata.plugin_data.plugin_name != "hparams":
            fail(f"session {tag}: plugin {v.metadata.plugin_data.plugin_name!r}")
        if v.tensor.dtype != 1 or [d.size for d in v.tensor.tensor_shape.dim] != [0]:
            fail(f"session {tag}: not the null tensor")
    data = pb.HParamsPluginData()
    data.ParseFromString(start[0][2].metadata.plugin_data.content)
    no_unknown_fields(data, "session_start_info")
    hparams = {k: v for k, v in data.session_start_info.hparams.items()}
    flat = dict(flatten(config))
    if set(hparams) != set(flat):
        fail(f"hparams {sorted(hparams)} != config {sorted(flat)}")
    for key, want in flat.items():
        got = hparams[key]
        kind = got.WhichOneof("kind")
        if isinstance(want, bool):
            ok = kind == "bool_value" and got.bool_value == want
        elif isinstance(want, (int, float)):
            ok = kind == "number_value" and got.number_value == float(want)
        elif isinstance(want, str):
            ok = kind == "string_value" and got.string_value == want
        else:
            ok = kind == "string_value" and json.loads(got.string_value) == want
        if not ok:
            fail(f"hparam {key}: {got} != {want!r}")
    data.ParseFromString(end[0][2].metadata.plugin_data.content)
    no_unknown_fields(data, "session_end_info")
    want_status = 1 if run.get("exit_code", 0) == 0 else 2
    if data.session_end_info.status != want_status:
        fail(f"session status {data.session_end_info.status} != {want_status}")

    # System samples: system/<key> scalars, the sample's number as step.
    system_file = run_dir / "system.jsonl"
    samples = [json.loads(line) for line in system_file.read_text().splitlines()] \
        if system_file.exists() else []
    for index, sample in enumerate(samples):
        for key, want in sample.items():
            if key.startswith("_"):
                continue
            got = actual.get(f"system/{key}", [])
            match = [v for step, _, v in got if step == index]
            if len(match) != 1 or not same_float(match[0].simple_value, f32(float(want))):
                fail(f"system/{key} at sample {index}: {match} != {want}")
    for tag in [t for t in actual if t.startswith("system/")]:
        if len(actual[tag]) != len(samples):
            fail(f"{tag}: {len(actual[tag])} values, {len(samples)} samples")
        del actual[tag]

    expected = expected_values(run_dir)
    if set(actual) != set(expected):
        fail(f"tags differ: only in file {sorted(set(actual) - set(expected))}, "
             f"only in history {sorted(set(expected) - set(actual))}")
    checked = 0
    for tag, want_items in expected.items():
        got_items = actual[tag]
        if len(got_items) != len(want_items):
            fail(f"{tag}: {len(got_items)} values in the file, {len(want_items)} logged")
        meta = described.get(tag)
        for (step, wall, v), (want_step, want_wall, kind, *want) in zip(got_items, want_items):
            checked += 1
            if step != want_step or wall != want_wall:
                fail(f"{tag}: step/wall {step}/{wall} != {want_step}/{want_wall}")
            if kind == "scalar":
                if v.WhichOneof("value") != "simple_value" or \
                        not same_float(v.simple_value, want[0]):
                    fail(f"{tag} at {step}: {v} != {want[0]}")
            elif kind == "histogram":
                if v.WhichOneof("value") != "histo":
                    fail(f"{tag}: not a histogram")
                check_histogram(tag, v.histo, want[0])
            elif kind in ("text", "table"):
                strings, dims = (want[0], want[1]) if kind == "text" else \
                    table_cells(run_dir, want[0]["path"])
                got = [s.decode() for s in v.tensor.string_val]
                if v.tensor.dtype != 7 or got != strings or \
                        [d.size for d in v.tensor.tensor_shape.dim] != dims:
                    fail(f"{tag} at {step}: text {got} {list(v.tensor.tensor_shape.dim)} != "
                         f"{strings} {dims}")
                if meta is None or meta.plugin_data.plugin_name != "text" or meta.data_class != 2:
                    fail(f"{tag}: no text plugin metadata")
            elif kind == "images":
                desc, paths = want
                files = [(run_dir / p).read_bytes() for p in paths]
                got = list(v.tensor.string_val)
                if v.tensor.dtype != 7 or got != [str(desc["width"]).encode(),
                                                  str(desc["height"]).encode()] + files:
                    fail(f"{tag} at {step}: image tensor differs from the media files")
                if meta is None or meta.plugin_data.plugin_name != "images" or \
                        meta.data_class != 3:
                    fail(f"{tag}: no images plugin metadata")
    return checked, len(events)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", required=True, help="program that writes a run")
    ap.add_argument("--workdir", required=True, help="fresh directory used as RUNLOG_DIR")
    ap.add_argument("--export", help="the runlog tool: also check `runlog export --to tensorboard`")
    args = ap.parse_args()
    program = str(pathlib.Path(args.run).resolve())
    tool = str(pathlib.Path(args.export).resolve()) if args.export else None
    pb = load_protos()
    work = pathlib.Path(args.workdir)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = dict(os.environ, RUNLOG_DIR=str(work), RUNLOG_SINKS="jsonl,tensorboard")
    for name in ("RUNLOG_MODE", "RUNLOG_RUN_ID", "RANK", "SLURM_PROCID", "LOCAL_RANK"):
        env.pop(name, None)
    proc = subprocess.run([program], env=env, cwd=work, capture_output=True, text=True,
                          timeout=120)
    if proc.returncode != 0:
        print(proc.stdout[-2000:], proc.stderr[-2000:])
        fail(f"{program} exited with {proc.returncode}")
    run_dir = (work / "runlog" / "latest-run").resolve()
    run = json.loads((run_dir / "run.json").read_text())
    name = run["id"] if not run.get("name") or run["name"] == run["id"] else \
        f"{run['name']}_{run['id']}"
    checked, events = check_events(pb, run_dir, work / "tensorboard" / name)
    print(f"live sink: {events} events, {checked} values match history.jsonl")
    if tool:
        out = work / "converted"
        proc = subprocess.run([tool, "export", "--to", "tensorboard", "--out", str(out),
                               str(run_dir)], capture_output=True, text=True)
        print(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            fail("runlog export --to tensorboard failed")
        checked, events = check_events(pb, run_dir, out / "tensorboard" / name)
        print(f"export: {events} events, {checked} values match history.jsonl")
    print("PASS")


if __name__ == "__main__":
    main()
