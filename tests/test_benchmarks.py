import subprocess
import sys
from pathlib import Path

import pytest

from nets.registry import NETS

ROOT = Path(__file__).resolve().parents[1]


def test_bench_layers_quick_writes_its_section(tmp_path):
    out = tmp_path / "BENCHMARKS.md"
    out.write_text("# Benchmarks\n\nkept\n")
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_layers.py"), "--quick", "--out", str(out)],
                   check=True, capture_output=True, timeout=600)
    text = out.read_text()
    assert "kept" in text and "<!-- bench_layers:start -->" in text
    assert "| nanonet |" in text and "GEMM bound" in text


@pytest.mark.skipif(not Path(NETS["net12"].data).exists(), reason=f"{NETS['net12'].data} is not here")
def test_run_all_quick_writes_every_section_and_picture(tmp_path):
    out = tmp_path / "BENCHMARKS.md"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run_all.py"), "--quick", "--out", str(out)],
                   check=True, capture_output=True, timeout=600)
    text = out.read_text()
    for section in ("machine", "bench_layers", "bench_data", "bench_anime", "bench_face", "bench_tilt",
                    "bench_throughput", "bench_batch", "bench_smile", "bench_emotion", "bench_keypoints", "bench_dask"):
        assert f"<!-- {section}:start -->" in text
    assert "| nanonet face | 1 |" in text and "--workers" in text
    assert (tmp_path / "benchmarks" / "figures" / "face_roc.png").exists()
    assert (tmp_path / "benchmarks" / "figures" / "face_boxes.png").exists()


def test_external_peer_missing_is_skipped_with_one_line(monkeypatch):
    from benchmarks import peers
    monkeypatch.setattr(peers, "PEERS_PYTHON", str(ROOT / "no-such-environment" / "python"))
    with pytest.raises(peers.PeerUnavailable, match="not installed"):
        peers.ExternalPeer("dlib HOG")
    monkeypatch.setattr(peers, "PEERS_PYTHON", sys.executable)     # an environment without dlib
    try:
        import dlib  # noqa: F401
        pytest.skip("dlib is installed here")
    except ImportError:
        pass
    with pytest.raises(peers.PeerUnavailable, match=r"dlib HOG: does not load \(.*dlib"):
        peers.ExternalPeer("dlib HOG")


def test_throughput_pictures_keep_the_aspect_ratio(tmp_path):
    import numpy as np
    from PIL import Image
    from benchmarks.bench_throughput import picture
    wide = np.zeros((100, 400, 3), np.uint8)
    wide[:, 150:250] = 255                                  # a white band in the middle
    Image.fromarray(wide).save(tmp_path / "wide.png")
    out = picture(str(tmp_path / "wide.png"), 64, 48)
    assert out.shape == (48, 64, 3)
    assert out[:, 0].max() == 0 and out[:, -1].max() == 0   # cut about the centre: 133 px wide, band inside
    assert out[:, 32].min() == 255


def test_bench_gpu_without_a_gpu_says_so_in_one_line(tmp_path):
    from nanonet.backend import cupy_available
    if cupy_available():
        pytest.skip("a GPU is here: tests/test_gpu.py covers it")
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_gpu.py"), "--out", str(tmp_path / "B.md")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "nothing to measure" in done.stdout and not (tmp_path / "B.md").exists()


def test_anime_screen_lists_the_crops_a_detector_reads_against_their_label():
    import numpy as np
    from benchmarks.bench_anime import SCREEN_SIDES, screen
    from nanonet.data.datasets import ArrayDataset
    crops = ArrayDataset(np.stack([np.full((64, 64, 3), v, np.uint8) for v in (10, 20, 30, 40)]), [0, 0, 1, 1])

    def misframes_dark_faces(scene):                # boxes a crop of value 10 moved by half its side: IoU 1/3
        ys, xs = np.nonzero(scene[:, :, 0] == 10)
        if not len(xs):
            return np.zeros((0, 4)), np.zeros(0)
        side = xs.max() - xs.min() + 1
        return np.array([[xs.min() + side / 2, ys.min(), side, side]], float), np.ones(1)

    def finds_bright_backgrounds(scene):            # a face in every scene of value 40
        return (np.array([[0, 0, 48, 48]], float), np.ones(1)) if scene.max() == 40 else (np.zeros((0, 4)), np.zeros(0))

    listed = dict(screen(crops, {"a": misframes_dark_faces, "b": finds_bright_backgrounds}))
    assert sorted(listed) == ["0", "3"]
    assert listed["0"] == {"a": [0.33] * len(SCREEN_SIDES), "b": [0] * len(SCREEN_SIDES)}
    assert listed["3"] == {"a": [0, 0, 0], "b": [1, 1, 1]}


def test_face_review_pools_the_detections_that_no_annotated_or_listed_face_explains():
    np = pytest.importorskip("numpy")
    from benchmarks.bench_face import unexplained
    faces, missed = np.array([[0, 0, 20, 20]], float), np.array([[100, 0, 20, 20]], float)
    detections = {"a": np.array([[1, 1, 20, 20], [50, 50, 20, 20], [101, 0, 20, 20]], float),
                  "b": np.array([[52, 50, 20, 20], [200, 200, 30, 30]], float)}
    clusters = unexplained(detections, faces, missed)
    assert [names for _, names in clusters] == [["a", "b"], ["b"]]
    np.testing.assert_allclose(clusters[0][0], [51, 50, 20, 20])


def test_faceless_regions_stay_clear_of_people_and_bodies_lie_below_their_faces():
    np = pytest.importorskip("numpy")
    from benchmarks.bench_face import body_regions, faceless_regions
    image = np.zeros((600, 800, 3), np.uint8)
    face = np.array([[300, 100, 40, 40]], float)
    # the person runs from x 260 to 380 and from y 80 to the bottom: strips left, right and above it
    assert faceless_regions(image, face) == [(0, 0, 260, 600), (380, 0, 800, 600)]
    assert faceless_regions(image, np.zeros((0, 4))) == [(0, 0, 800, 600)]
    assert body_regions(image, face) == [(260, 148, 380, 308)]
    # a body that another face touches is no faceless region (the upper face's); nor is one too small to
    # hold a face
    assert body_regions(image, np.array([[300, 100, 40, 40], [300, 200, 40, 40]], float)) == [(260, 248, 380, 408)]
    assert body_regions(image, np.array([[300, 100, 10, 10]], float)) == []


def test_turned_tally_gives_the_recall_of_each_head_turn_and_false_positives_a_frame(tmp_path):
    np = pytest.importorskip("numpy")
    from PIL import Image
    from benchmarks import peers
    from benchmarks.bench_face import turned_tally
    from nets.annotations import Annotated
    frames = []
    for k in range(4):
        path = tmp_path / f"f{k}.png"
        Image.fromarray(np.full((40, 40, 3), 30 * k, np.uint8)).save(path)
        frames.append(Annotated(str(path), np.array([[10.0, 10, 20, 20]])))
    # a detector that finds the face in the two brighter frames and puts a box beside it in the two darker
    detector = peers.Detector("d", lambda image: (np.array([[10.0, 10, 20, 20] if image[0, 0, 0] >= 60 else
                                                             [0.0, 0, 8, 8]]), np.ones(1)))
    recall, false_positives, facing, turned, far = turned_tally(detector, frames, np.array([0, 1, 2, 2]))
    assert (recall, false_positives) == (0.5, 0.5)
    assert (facing, turned, far) == (0.0, 0.0, 1.0)
