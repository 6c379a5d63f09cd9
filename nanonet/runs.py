"""A training run's folder as the Trainer writes it and the monitor reads it.

run.json      what runs there: {"net", "command", "epochs", "state", "pid", "host", "started", "ended"}; the
              state is "running" while the Trainer runs, then "finished", "stopped" (Ctrl-C), "diverged" or
              "failed". A process killed outright leaves "running" behind; `state_of` sees through that.
metrics.jsonl one JSON record per line, appended as the training goes:
              a point every few batches {"epoch", "batch", "batches", "loss", "acc"?, "lr", "images_per_s",
              "time"}: the means over the batches since the point before;
              a record at each epoch's end {"epoch", "lr", "train_loss", "train_acc"?, "images_per_s",
              "val_loss"?, "val_acc"?}, which has no "batch".
A reader meets files while they are written: a last line cut short, or a folder that disappears, is no
error.
"""
import json
import os
import socket
import time

from nanonet import serialize

RUN_FILE, METRICS_FILE = "run.json", "metrics.jsonl"


def is_point(record):
    """True for a point within an epoch, False for an epoch's record."""
    return "batch" in record


def write_info(folder, info):
    """Write run.json atomically."""
    text = json.dumps(info, indent=1) + "\n"
    serialize.atomic_write(os.path.join(folder, RUN_FILE), lambda f: f.write(text.encode()))


def started_info(net, command, epochs):
    """run.json's contents for a run that starts now in this process."""
    return {"net": net, "command": command, "epochs": epochs, "state": "running", "pid": os.getpid(),
            "host": socket.gethostname(), "started": time.time(), "ended": None}


def append_record(folder, record):
    with open(os.path.join(folder, METRICS_FILE), "a") as f:
        f.write(json.dumps(record) + "\n")


def rewrite_records(folder, epochs, position):
    """metrics.jsonl as a checkpoint at `position` (epoch index, batch) left it: its epoch records, and the
    file's points up to that position; what a run wrote after its checkpoint is dropped. Atomic."""
    kept = [r for r in read_records(os.path.join(folder, METRICS_FILE))
            if is_point(r) and (r["epoch"] - 1, r["batch"]) <= position]
    merged = sorted(kept + list(epochs), key=lambda r: (r["epoch"], r.get("batch", float("inf"))))
    lines = "".join(json.dumps(r) + "\n" for r in merged)
    serialize.atomic_write(os.path.join(folder, METRICS_FILE), lambda f: f.write(lines.encode()))


def read_records(path):
    """The records of a metrics.jsonl; lines that do not parse (a line still being written) are skipped."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except (FileNotFoundError, NotADirectoryError):
        return []
    records = []
    for line in data.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("epoch"), int):
            records.append(record)
    return records


def read_info(folder):
    try:
        with open(os.path.join(folder, RUN_FILE), "rb") as f:
            info = json.loads(f.read())
        return info if isinstance(info, dict) else {}
    except (OSError, ValueError):
        return {}


def state_of(info):
    """The run's state; "running" only while its process lives (known for runs on this host)."""
    state = info.get("state", "unknown")
    if state == "running" and info.get("host") == socket.gethostname() and not _alive(info.get("pid")):
        return "stopped"
    return state


def _alive(pid):
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:    # somebody else's process
        return True
    return True


def find_runs(root):
    """The run folders under `root` (itself included): those holding run.json or metrics.jsonl, sorted."""
    found = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(s for s in subfolders if not s.startswith("."))
        if RUN_FILE in files or METRICS_FILE in files:
            found.append(folder)
    return sorted(found)


def name_of(root, folder):
    """A run's name: its folder's path under root, with slashes ("." for root itself)."""
    return os.path.relpath(folder, root).replace(os.sep, "/")


def read_run(root, folder):
    """One run as the monitor shows it: name (its path under root), net, command, state, and its records."""
    info = read_info(folder)
    records = read_records(os.path.join(folder, METRICS_FILE))
    return {"name": name_of(root, folder), "net": info.get("net"), "command": info.get("command"),
            "state": state_of(info),
            "epochs": info.get("epochs"), "started": info.get("started"), "ended": info.get("ended"),
            "points": [r for r in records if is_point(r)], "records": [r for r in records if not is_point(r)]}
