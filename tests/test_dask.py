"""Batch detection on a Dask cluster: every picture once, in completion order, a killed worker's pictures run
again, a bad picture its own error line, and --out / --resume through detect.py."""
import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from nets import batch
from tests.data_files import ROOT

distributed = pytest.importorskip("dask.distributed", reason="the dask extra is not installed")
SETTINGS = ("face", -1, {}, [], True, 200e6)


def pictures(folder, count):
    folder.mkdir()
    for k in range(count):
        shutil.copy(ROOT / "examples" / "astronaut.jpg", folder / f"p{k:02d}.jpg")
    return sorted(str(p) for p in folder.iterdir())


def test_every_picture_comes_back_once_though_a_worker_is_killed(tmp_path):
    paths = pictures(tmp_path / "pics", 16)
    (tmp_path / "pics" / "bad.jpg").write_bytes(b"not a picture")
    jobs = [(p, None) for p in paths + [str(tmp_path / "pics" / "bad.jpg")]]
    client = batch.dask_client("local:2")
    try:
        results, killed = [], False
        for result in batch.on_cluster(client, SETTINGS, jobs):
            results.append(result)
            if not killed:       # a worker dies with tasks still queued on it
                pid = next(iter(client.run(os.getpid).values()))
                os.kill(pid, signal.SIGKILL)
                killed = True
        assert sorted(path for path, _, _ in results) == sorted(path for path, _ in jobs)
        errors = [error for _, _, error in results if error]
        assert len(errors) == 1 and "bad.jpg" in errors[0]
        assert all(len(found["faces"]) == 1 for _, found, error in results if not error)
    finally:
        client.close()


def test_detect_py_on_a_local_cluster_writes_and_resumes_its_lines(tmp_path):
    paths = pictures(tmp_path / "pics", 4)
    out = tmp_path / "out.jsonl"
    command = [sys.executable, str(ROOT / "detect.py"), str(tmp_path / "pics"), "--dask", "local:2", "--out", str(out)]
    first = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    lines = out.read_text().splitlines()
    assert sorted(json.loads(line)["image"] for line in lines) == paths
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and "--resume" in again.stderr       # never over earlier results
    out.write_text(lines[0] + "\n" + lines[1][:20])                     # a run stopped mid-line
    resumed = subprocess.run(command + ["--resume"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    images = [json.loads(line)["image"] for line in out.read_text().splitlines()]
    assert sorted(images) == paths and images[0] == json.loads(lines[0])["image"]
