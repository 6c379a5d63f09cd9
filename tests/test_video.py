"""Faces in videos: identities across frames, smoothing, the overlay, the timeline, and detect.py on a short
video made from the example picture (a slow pan), a truncated one and a file that is no video."""
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from nanonet.data.image import read_image
from nets.video import Tracks, largest_face_emotions, top_moments

ROOT = Path(__file__).resolve().parents[1]


def pan_video(path, frames=12, fourcc="mp4v", size=(320, 240)):
    """A slow pan across the example picture's face: `frames` frames at 10 per second."""
    picture = read_image(ROOT / "examples" / "astronaut.jpg")
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 10, size)
    for k in range(frames):
        crop = picture[20:320, 60 + 4 * k:460 + 4 * k]
        writer.write(np.ascontiguousarray(cv2.resize(crop, size)[:, :, ::-1]))
    writer.release()
    return path


def _detect(*args):
    return subprocess.run([sys.executable, str(ROOT / "detect.py"), *map(str, args)], capture_output=True,
                          text=True, timeout=300)


def test_a_face_keeps_its_identity_and_new_faces_get_new_ones():
    tracks = Tracks()
    assert tracks.assign([[0, 0, 50, 50], [100, 100, 40, 40]]) == [0, 1]
    assert tracks.assign([[102, 98, 40, 40], [3, 2, 50, 50], [300, 300, 30, 30]]) == [1, 0, 2]
    assert tracks.assign([[301, 300, 30, 30]]) == [2]
    assert tracks.assign([[0, 0, 50, 50]]) == [3]           # face 0 left the picture: a new face


def test_readings_are_smoothed_over_the_last_few():
    tracks = Tracks(window=3)
    tracks.assign([[0, 0, 50, 50]])
    means = [tracks.smoothed(0, "smile", [p, 1 - p]) for p in (1.0, 0.0, 0.0, 0.0)]
    np.testing.assert_allclose([m[0] for m in means], [1.0, 0.5, 1 / 3, 0.0])


def test_top_moments_lie_apart():
    times = np.arange(10) * 0.5
    p = np.array([0.1, 0.9, 0.95, 0.2, 0.1, 0.1, 0.8, 0.1, 0.1, 0.1])[:, None]
    assert top_moments(times, p, 0, count=2, apart=1.0) == [(1.0, 0.95), (3.0, 0.8)]
    records = [{"time": 0.0, "faces": [{"w": 10, "h": 10, "emotion": {"probabilities": {"a": 0.2, "b": 0.8}}},
                                       {"w": 20, "h": 20, "emotion": {"probabilities": {"a": 0.7, "b": 0.3}}}]},
               {"time": 0.1, "faces": []}]
    t, q = largest_face_emotions(records, ["a", "b"])
    assert t.tolist() == [0.0] and q.tolist() == [[0.7, 0.3]]


def test_detect_py_on_a_video_with_overlay_and_timeline(tmp_path):
    video = pan_video(tmp_path / "pan.mp4")
    result = _detect(video, "--emotion", "--smile", "--every", "2", "--draw", tmp_path / "out.mp4",
                     "--timeline", tmp_path / "timeline.png", "--moment", "happy")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["frame"] for r in records] == [0, 2, 4, 6, 8, 10]
    assert [r["time"] for r in records] == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert all(len(r["faces"]) == 1 and r["faces"][0]["id"] == 0 for r in records)
    assert all(r["faces"][0]["emotion"]["label"] == "happy" and r["faces"][0]["smile"]["label"] == "smile"
               for r in records)
    drawn = cv2.VideoCapture(str(tmp_path / "out.mp4"))
    assert int(drawn.get(cv2.CAP_PROP_FRAME_COUNT)) == 12
    assert (tmp_path / "timeline.png").stat().st_size > 1000
    assert "top happy moments: " in result.stderr


def test_a_truncated_video_keeps_what_was_read_and_ends_with_a_line(tmp_path):
    video = pan_video(tmp_path / "pan.avi", frames=20, fourcc="MJPG")
    data = video.read_bytes()
    (tmp_path / "cut.avi").write_bytes(data[:len(data) * 6 // 10])
    result = _detect(tmp_path / "cut.avi")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(f"detect.py: {tmp_path / 'cut.avi'}: unreadable after")
    assert 5 <= len(result.stdout.splitlines()) < 20


def test_a_file_that_is_no_video_gets_one_line(tmp_path):
    (tmp_path / "not.mp4").write_text("garbage")
    result = _detect(tmp_path / "not.mp4")
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "cannot be opened as a video" in result.stderr
    mixed = _detect(tmp_path / "not.mp4", ROOT / "examples" / "astronaut.jpg")
    assert mixed.returncode == 2 and "not both" in mixed.stderr
