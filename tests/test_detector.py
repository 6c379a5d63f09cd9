import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

import nanonet as nn
from nanonet import serialize
from nanonet.kernels.nms import nms, nms_reference
from nanonet.kernels.windows import extract_windows, extract_windows_reference
from nanonet.model import batch_norm_folded, fully_convolutional
from nets.samples import CALIBRATION_PATTERNS
from nets.detector import Classifier, Net, SlidingWindowDetector
from nets.pyramid import joined, octaves, pyramid, pyramid_windows, scan_pyramid
from nets.stages import (NO_WINDOWS, Detector, Suppress, Windows, as_rgb, calibrated, centres_moved, check_tilts,
                         turned, voted)
from nets import cascade
from nets.frg import anime12, anime24, frgnet_slim
from nets.keypoints import keypoints_net
from tests.cases import NORM, untrained_net

ROOT = Path(__file__).resolve().parents[1]




def test_nms_matches_the_reference():
    rng = np.random.default_rng(0)
    boxes = np.concatenate([rng.uniform(0, 100, (300, 2)), rng.uniform(5, 40, (300, 1)).repeat(2, 1)], 1)
    scores = rng.random(300)
    for threshold in (0.0, 0.3, 0.7):
        for over_smaller in (False, True):
            np.testing.assert_array_equal(nms(boxes, scores, threshold, over_smaller),
                                          nms_reference(boxes, scores, threshold, over_smaller))
    assert len(nms(np.zeros((0, 4)), np.zeros(0), 0.3)) == 0


def test_nms_over_the_smaller_box_drops_a_box_inside_a_better_one():
    boxes, scores = np.array([[0, 0, 100, 100], [10, 10, 30, 30], [90, 90, 30, 30]]), np.array([0.9, 0.8, 0.7])
    assert nms(boxes, scores, 0.5).tolist() == [0, 1, 2]          # IoU 0.09 and 0.01: both stay
    assert nms(boxes, scores, 0.5, over_smaller=True).tolist() == [0, 2]   # 1 lies wholly inside 0; 2 a ninth


def test_window_extraction_matches_the_reference():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (50, 70, 3)).astype(np.uint8)
    windows = np.array([[0, 0, 8, 8], [3.5, 2.2, 20, 17], [-5, -5, 30, 30], [60, 40, 25, 25], [10, 10, 4, 4]])
    np.testing.assert_array_equal(extract_windows(image, windows, 8), extract_windows_reference(image, windows, 8))
    np.testing.assert_array_equal(extract_windows(image, [[7, 9, 8, 8]], 8)[0], image[9:17, 7:15])


# net48 keeps the batch norm that follows a pool: a negative gamma would turn the max into a min. In net48s
# and the keypoints net each ReLU before a pool moves after it.
@pytest.mark.parametrize("build,side,kept", [(frgnet_slim, 64, 0), (anime12, 12, 0), (cascade.net48, 48, 1),
                                             (cascade.net48s, 48, 0), (keypoints_net, 64, 0)])
def test_batch_norm_folded_net_predicts_the_same(build, side, kept):
    model = untrained_net(2, build)
    rng = np.random.default_rng(3)
    for _, layer in model.named_layers():
        if isinstance(layer, nn.BatchNorm):
            layer.gamma.data[:] = rng.uniform(-2, 2, layer.channels)
            layer.beta.data[:] = rng.normal(size=layer.channels)
    x = rng.normal(size=(5, 3, side, side)).astype(np.float32)
    expected, before = model.predict(x), [p.data.copy() for _, p in model.named_params()]
    folded = batch_norm_folded(model)
    assert sum(isinstance(layer, nn.BatchNorm) for _, layer in folded.named_layers()) == kept
    chain = [layer for _, layer in folded.named_layers()]
    assert not any(isinstance(a, nn.ReLU) and isinstance(b, nn.MaxPool2D) for a, b in zip(chain, chain[1:]))
    np.testing.assert_allclose(folded.predict(x), expected, rtol=1e-4, atol=1e-4)
    assert all(np.array_equal(a, p.data) for a, (_, p) in zip(before, model.named_params()))   # untouched


def test_pyramid_levels_are_the_image_resized_once():
    import cv2
    image = np.random.default_rng(5).integers(0, 256, (300, 400, 3)).astype(np.uint8)
    shapes = [(round(400 / 1.25 ** k), round(300 / 1.25 ** k)) for k in range(1, 16)]
    for level, shape in zip(pyramid(image, shapes), shapes):
        assert level.shape == (shape[1], shape[0], 3)
        once = cv2.resize(image, shape, interpolation=cv2.INTER_AREA)
        # noise keeps most of the contrast it keeps resized once (70-100% of it); a chain of 1.25x steps
        # from level to level kept 50% by the 6th level
        assert level.std() > 0.65 * once.std()


def test_fully_convolutional_net_scores_every_window_like_the_classifier():
    model = untrained_net()
    x = np.random.default_rng(1).normal(size=(1, 3, 160, 128)).astype(np.float32)
    y = fully_convolutional(model, (3, 64, 64)).predict(x)
    assert y.shape == (1, 2, 7, 5)
    for i in range(7):
        for j in range(5):
            np.testing.assert_allclose(y[0, :, i, j], model.predict(x[:, :, 16 * i:16 * i + 64, 16 * j:16 * j + 64])[0],
                                       rtol=1e-4, atol=1e-4)


def test_fully_convolutional_net_can_score_every_other_window():
    model = untrained_net(build=anime12)
    x = np.random.default_rng(1).normal(size=(1, 3, 40, 31)).astype(np.float32)
    every = fully_convolutional(model, (3, 12, 12)).predict(x)
    np.testing.assert_allclose(fully_convolutional(model, (3, 12, 12), every=2).predict(x), every[:, :, ::2, ::2],
                               rtol=1e-5, atol=1e-6)


def test_both_methods_score_the_same_windows_alike():
    image = np.random.default_rng(2).integers(0, 256, (150, 200, 3)).astype(np.uint8)
    classifier = Classifier(untrained_net(), NORM, 0, 64)
    assert classifier.stride == 16
    (b1, s1), = scan_pyramid(classifier, image, [64.0], 0.0)  # at the classifier's own size: no resampling
    b2 = classifier.grid(150, 200, 64.0)
    np.testing.assert_allclose(b1, b2)
    np.testing.assert_allclose(s1, classifier.face_probability(extract_windows(image, b2, 64)), atol=1e-4)
    for method in ("fcn", "windows"):
        boxes, scores = SlidingWindowDetector(classifier, threshold=0.0, method=method).detect(image)
        assert boxes.shape[1] == 4 and len(boxes) == len(scores) > 0 and (np.diff(scores) <= 0).all()


def test_the_cascade_judges_only_what_the_first_stage_lets_through():
    image = np.random.default_rng(3).integers(0, 256, (120, 160, 3)).astype(np.uint8)
    first = Classifier(untrained_net(build=anime12), NORM, 0, 12)
    assert first.stride == 2
    detector = SlidingWindowDetector(Classifier(untrained_net(), NORM, 0, 64), first, threshold=0.0, nms_iou=1.0,
                                     proposal_threshold=0.0, vote_iou=1.0)
    proposed = np.concatenate([b for b, _ in scan_pyramid(first, image, detector.window_sizes(120, 160), 0.0)])
    boxes, _ = detector.detect(image)
    assert 0 < len(boxes) <= len(proposed)
    assert all(np.isclose(proposed, b).all(axis=1).any() for b in boxes)
    assert len(SlidingWindowDetector(detector.classifier, first, proposal_threshold=1.0).detect(image)[0]) == 0


def test_mirror_averages_each_crop_that_could_pass_with_its_mirror_image():
    classifier = Classifier(untrained_net(), NORM, 0, 64)
    crops = np.random.default_rng(4).integers(0, 256, (6, 64, 64, 3)).astype(np.uint8)
    plain = classifier.face_probability(crops)
    both = (plain + classifier.face_probability(crops[:, :, ::-1])) / 2
    np.testing.assert_allclose(classifier.mirrored(crops, 0.0), both, rtol=1e-5)
    np.testing.assert_allclose(classifier.mirrored(crops, (plain.max() + 1.01) / 2), plain / 2, rtol=1e-6)
    image = np.random.default_rng(3).integers(0, 256, (120, 160, 3)).astype(np.uint8)
    first = Classifier(untrained_net(build=anime12), NORM, 0, 12)
    one, two = (SlidingWindowDetector(classifier, first, threshold=0.0, nms_iou=1.0, proposal_threshold=0.0,
                                      mirror=m).detect(image) for m in (False, True))
    assert len(one[0]) == len(two[0]) > 0 and not np.allclose(np.sort(one[1]), np.sort(two[1]))


def test_a_mean_over_views_is_exact_where_it_reaches_the_threshold_and_reads_no_hopeless_window():
    classifier = Classifier(untrained_net(), NORM, 0, 64)
    classifier.face_probability = lambda crops: crops[:, 0, 0, 0] / 100      # a view's crops carry its scores
    table = np.array([[90, 10, 70, 95, 20], [80, 40, 20, 95, 100], [100, 0, 10, 95, 100]])  # view x window
    read = []
    views = [lambda i, v=v: read.append(np.arange(5)[i]) or np.broadcast_to(table[v, i, None, None, None],
                                                                            (len(read[-1]), 64, 64, 3))
             for v in range(3)]
    means = classifier.mean_probability(views, 5, threshold=0.8)
    passing = table.mean(axis=0) / 100 >= 0.8
    np.testing.assert_allclose(means[passing], table.mean(axis=0)[passing] / 100)
    assert list(np.flatnonzero(passing)) == [0, 3] and np.all(means[~passing] < 0.8)
    # at best: after view 0, windows 1 and 4 (0.1, 0.2) reach 2.2 / 3 < 0.8; after view 1, window 2 (0.9) 1.9 / 3
    assert [list(i) for i in read] == [[0, 1, 2, 3, 4], [0, 2, 3], [0, 3]]
    read.clear()    # with a floor, a view reads only the windows whose mean over the views before reaches it
    means = classifier.mean_probability(views, 5, threshold=0.0, floor=0.3)
    assert [list(i) for i in read] == [[0, 1, 2, 3, 4], [0, 2, 3], [0, 2, 3]]
    np.testing.assert_allclose(means, np.array([270, 10, 100, 285, 20]) / 300)


def test_a_calibration_net_moves_the_windows_kept_and_the_first_stage_s_before_they_are_judged():
    image = np.random.default_rng(3).integers(0, 256, (120, 160, 3)).astype(np.uint8)
    first, classifier = Classifier(untrained_net(build=anime12), NORM, 0, 12), Classifier(untrained_net(), NORM, 0, 64)
    cal = Net(untrained_net(build=anime24), NORM, 24, 45)
    levels = octaves(image, 64)

    def moved(boxes):     # as the detector's default, mirror=True: each correction read from both crops
        return calibrated(cal, boxes, pyramid_windows(levels, boxes, 24), mirror=True)
    options = dict(threshold=0.0, nms_iou=1.0, proposal_threshold=0.0, vote_iou=1.0)
    # the grid's windows: only those kept are calibrated
    plain, scores = SlidingWindowDetector(classifier, method="windows", **options).detect(image)
    kept, kept_scores = SlidingWindowDetector(classifier, None, cal, method="windows", **options).detect(image)
    np.testing.assert_array_equal(kept_scores, scores)
    # the detector reads the crops in other batches than moved() does: float32 sums in another order
    np.testing.assert_allclose(kept, moved(plain), atol=1e-3)
    # the first stage's windows: calibrated before the classifier judges them, and those it keeps once more
    detector = SlidingWindowDetector(classifier, first, cal, merge_iou=1.0, **options)
    proposed, proposed_scores = joined(scan_pyramid(first, image, detector.window_sizes(120, 160), 0.0),
                                       np.zeros((0, 4)), np.zeros(0))
    judged = moved(proposed[nms(proposed, proposed_scores, detector.settings["proposal_iou"])])
    boxes, scores = detector.detect(image)
    order = np.argsort(-classifier.mirrored(pyramid_windows(levels, judged, 64), 0.0), kind="stable")
    np.testing.assert_allclose(boxes, moved(judged[order]), atol=1e-3)
    assert not np.allclose(judged, proposed[nms(proposed, proposed_scores, detector.settings["proposal_iou"])])
    assert not np.allclose(moved(judged), judged)


def test_calibrated_windows_that_converge_are_merged_before_the_classifier_reads_them():
    image = np.random.default_rng(3).integers(0, 256, (120, 160, 3)).astype(np.uint8)
    first, classifier = Classifier(untrained_net(build=anime12), NORM, 0, 12), Classifier(untrained_net(), NORM, 0, 64)
    cal = Net(untrained_net(build=anime24), NORM, 24, 45)
    options = dict(threshold=0.0, nms_iou=1.0, proposal_threshold=0.0, vote_iou=1.0)
    apart = SlidingWindowDetector(classifier, first, cal, merge_iou=1.0, **options)
    proposed, proposed_scores = joined(scan_pyramid(first, image, apart.window_sizes(120, 160), 0.0),
                                       np.zeros((0, 4)), np.zeros(0))
    keep, levels = nms(proposed, proposed_scores, apart.settings["proposal_iou"]), octaves(image, 64)

    def recalibrated(boxes):
        return calibrated(cal, boxes, pyramid_windows(levels, boxes, 24), mirror=True)
    moved, moved_scores = recalibrated(proposed[keep]), proposed_scores[keep]
    merged = voted(moved, moved_scores, nms(moved, moved_scores, 0.5), 0.5)
    assert 0 < len(merged) < len(moved)
    boxes, _ = SlidingWindowDetector(classifier, first, cal, merge_iou=0.5, **options).detect(image)
    assert len(boxes) == len(merged)     # each judged, then calibrated once more
    assert all(np.isclose(recalibrated(merged), b).all(axis=1).any() for b in boxes)
    np.testing.assert_allclose(np.sort(apart.detect(image)[0], axis=0),
                               np.sort(recalibrated(moved), axis=0))


def test_a_second_stage_keeps_from_the_classifier_the_windows_it_rejects_and_stages_stop_early():
    image = np.random.default_rng(3).integers(0, 256, (120, 160, 3)).astype(np.uint8)
    first, classifier = Classifier(untrained_net(build=anime12), NORM, 0, 12), Classifier(untrained_net(), NORM, 0, 64)
    cal = Net(untrained_net(build=anime24), NORM, 24, 45)
    second = Classifier(untrained_net(1, lambda rng: anime24(rng, 2)), NORM, 0, 24)
    options = dict(threshold=0.0, nms_iou=1.0, proposal_threshold=0.0, vote_iou=1.0)
    levels = octaves(image, 64)
    without = SlidingWindowDetector(classifier, first, cal, **options)
    # stage 1 alone: the calibrated, merged proposals, with the first stage's scores
    proposals, proposal_scores = SlidingWindowDetector(classifier, first, cal, second, stages=1,
                                                       **options).detect(image)
    scanned = np.concatenate([s for _, s in scan_pyramid(first, image, without.window_sizes(120, 160), 0.0)])
    assert without.depth == 2 and len(proposals) > 1
    assert np.isclose(proposal_scores[:, None], scanned[None]).any(axis=1).all()
    judged = classifier.mirrored(pyramid_windows(levels, proposals, 64), 0.0)
    np.testing.assert_allclose(np.sort(without.detect(image)[1]), np.sort(judged), rtol=1e-6)
    # stage 2: those the second stage scores at least second_threshold, each crop read once
    second_scores = second.face_probability(pyramid_windows(levels, proposals, 24))
    cut = np.median(second_scores)
    passed, passed_scores = SlidingWindowDetector(classifier, first, cal, second, second_threshold=cut, stages=2,
                                                  **options).detect(image)
    order = np.argsort(-second_scores, kind="stable")          # the final suppression sorts them
    order = order[second_scores[order] >= cut]
    np.testing.assert_allclose(passed, proposals[order])
    np.testing.assert_allclose(passed_scores, second_scores[order], rtol=1e-6)
    # all stages: the classifier judges only the windows that passed
    _, scores = SlidingWindowDetector(classifier, first, cal, second, second_threshold=cut, **options).detect(image)
    np.testing.assert_allclose(np.sort(scores), np.sort(judged[second_scores >= cut]), rtol=1e-6)
    everything = SlidingWindowDetector(classifier, first, cal, second, second_threshold=0.0, **options)
    np.testing.assert_allclose(np.sort(everything.detect(image)[1]), np.sort(judged), rtol=1e-6)
    for bad in (dict(stages=4), dict(stages=2, method="windows")):
        with pytest.raises(ValueError, match="stages"):
            SlidingWindowDetector(classifier, first, cal, second, **bad)


def test_scenes_composed_in_chunks_are_the_scenes_composed_at_once():
    from nanonet.data.datasets import ArrayDataset
    from nets.scenes import compose_scenes, scene_chunks
    rng = np.random.default_rng(0)
    crops = ArrayDataset(rng.integers(0, 256, (6, 16, 16, 3)).astype(np.uint8), [0, 1, 0, 1, 1, 0], ["face", "no"])
    whole = compose_scenes(crops, 5, np.random.default_rng(1), side=64, face_sides=(12, 30))
    chunks = list(scene_chunks(crops, 5, np.random.default_rng(1), chunk=2, side=64, face_sides=(12, 30)))
    assert [len(c) for c in chunks] == [2, 2, 1]
    for a, b in zip(whole, [scene for chunk in chunks for scene in chunk]):
        np.testing.assert_array_equal(a.image, b.image)
        np.testing.assert_array_equal(a.boxes, b.boxes)


class _PatternNet:
    """A stand-in calibration net: pattern `right` for crops brighter on the right half, `left` otherwise."""

    def __init__(self, left, right):
        self.left, self.right = left, right

    def probabilities(self, crops):
        side = crops.shape[2]
        right = crops[:, :, side // 2:].mean(axis=(1, 2, 3)) > crops[:, :, :side // 2].mean(axis=(1, 2, 3))
        return np.eye(45)[np.where(right, self.right, self.left)]


def test_mirrored_calibration_agrees_with_a_consistent_net_and_cancels_a_biased_one():
    patterns = [tuple(p) for p in CALIBRATION_PATTERNS]
    ahead, behind = patterns.index((1.0, -0.17, 0.17)), patterns.index((1.0, 0.17, 0.17))
    crops = np.zeros((2, 12, 12, 3), np.uint8)
    crops[:, :, 6:] = 200                                   # the face lies right of the window's centre
    boxes = np.array([[10.0, 20, 30, 30], [0, 0, 12, 12]])
    consistent = _PatternNet(left=behind, right=ahead)    # the mirror image, face on the left, reads `behind`
    np.testing.assert_allclose(calibrated(consistent, boxes, crops, mirror=True), calibrated(consistent, boxes, crops))
    scaled = patterns.index((1.1, 0.17, 0.17))
    biased = _PatternNet(left=scaled, right=scaled)         # moves every window the same way
    plain, mirrored = calibrated(biased, boxes, crops), calibrated(biased, boxes, crops, mirror=True)
    np.testing.assert_allclose(mirrored[:, 1:], plain[:, 1:])
    np.testing.assert_allclose(mirrored[:, 0] + mirrored[:, 2] / 2, boxes[:, 0] + boxes[:, 2] / 2)   # centred
    assert calibrated(biased, np.zeros((0, 4)), crops[:0], mirror=True).shape == (0, 4)


def test_images_of_any_channel_layout():
    grey = np.zeros((5, 6), np.uint8)
    assert as_rgb(grey).shape == as_rgb(grey[:, :, None]).shape == as_rgb(np.zeros((5, 6, 4), np.uint8)).shape == (5, 6, 3)
    with pytest.raises(ValueError, match="uint8"):
        as_rgb(np.zeros((5, 6, 3), np.float32))


def test_no_windows_below_the_minimum_size():
    detector = SlidingWindowDetector(Classifier(untrained_net(), NORM, 0, 64), min_size=48)
    assert detector.window_sizes(40, 100) == []
    assert detector.detect(np.zeros((40, 100, 3), np.uint8))[0].shape == (0, 4)


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "slim.npz"
    serialize.save(path, untrained_net(), "frg64s", {"classes": ["face", "nonface"], "input_size": 64}, NORM.arrays())
    return path


def _detect(*args):
    return subprocess.run([sys.executable, str(ROOT / "detect.py"), *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def test_detect_py_json_draw_and_folders(tmp_path, model_file):
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (90, 120, 3)).astype(np.uint8)).save(folder / "a.png")
    Image.fromarray(rng.integers(0, 256, (70, 80)).astype(np.uint8)).save(folder / "b.jpg")
    Image.fromarray(rng.integers(0, 256, (70, 80, 4)).astype(np.uint8)).save(folder / "c.png")
    result = _detect(folder, "--model", model_file, "--threshold", "0", "--json", "--draw", tmp_path / "drawn")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [Path(r["image"]).name for r in lines] == ["a.png", "b.jpg", "c.png"]
    assert (lines[0]["width"], lines[0]["height"]) == (120, 90)
    assert lines[0]["faces"] and set(lines[0]["faces"][0]) == {"x", "y", "w", "h", "score"}
    assert sorted(p.name for p in (tmp_path / "drawn").iterdir()) == ["a.png", "b.jpg", "c.png"]   # own formats
    spread = _detect(folder, "--model", model_file, "--threshold", "0", "--json", "--workers", "2")
    assert spread.returncode == 0 and spread.stdout == result.stdout, spread.stderr
    # drawn into the input folder: no input is overwritten, and no two drawings share a name
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    Image.fromarray(rng.integers(0, 256, (40, 40, 3)).astype(np.uint8)).save(tmp_path / "a.png")
    inside = _detect(folder, tmp_path / "a.png", "--model", model_file, "--threshold", "0", "--draw", folder)
    assert inside.returncode == 0, inside.stderr
    assert all((folder / name).read_bytes() == data for name, data in before.items())
    assert sorted(p.name for p in folder.iterdir()) == ["a-2.png", "a-3.png", "a.png", "b-2.jpg", "b.jpg", "c-2.png",
                                                         "c.png"]


def test_detect_py_reports_bad_images_and_goes_on(tmp_path, model_file):
    good, bad = tmp_path / "good.png", tmp_path / "bad.png"
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(good)
    bad.write_bytes(b"\x89PNG broken")
    result = _detect(bad, good, "--model", model_file)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("detect.py: ") and len(result.stderr.strip().splitlines()) == 1
    assert "good.png: 0 faces" in result.stdout


def test_detect_py_stops_quietly_when_its_reader_goes(tmp_path, model_file):
    image = tmp_path / "a.png"
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(image)
    read, write = os.pipe()
    os.close(read)              # the reader is gone before the first line, as after `detect.py ... | head -1`
    result = subprocess.run([sys.executable, str(ROOT / "detect.py"), str(image), "--model", str(model_file)],
                            stdout=write, stderr=subprocess.PIPE, text=True, timeout=300)
    os.close(write)
    assert result.returncode == 141 and result.stderr == "", result.stderr


@pytest.mark.parametrize("args", [["--model", "nonsense"], ["--model", "face", "--method", "fcn"], ["--tilt", "0"],
                                  ["--tilt", "nan"], ["--tilt", "120"]])
def test_detect_py_refuses_unknown_models_and_options(tmp_path, args):
    result = _detect(ROOT / "examples" / "astronaut.jpg", *args)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_neighbour_counts_match_brute_force():
    from nanonet.kernels.nms import iou
    from nanonet.kernels.nms import neighbours
    rng = np.random.default_rng(4)
    boxes = np.concatenate([rng.uniform(0, 60, (80, 2)), rng.uniform(5, 30, (80, 1)).repeat(2, 1)], 1)
    expected = [int((iou(b, np.delete(boxes, i, 0)) > 0.3).sum()) for i, b in enumerate(boxes)]
    np.testing.assert_array_equal(neighbours(boxes, 0.3), expected)
    lonely = SlidingWindowDetector(Classifier(untrained_net(), NORM, 0, 64), threshold=0.0, min_neighbors=10 ** 6)
    assert len(lonely.detect(np.zeros((64, 64, 3), np.uint8))[0]) == 0


class _Bar:
    """A stage that finds a horizontal bright bar (30 or more bright pixels on one row) and boxes its middle:
    what the face nets are to a face, a thing they know upright only; it scores each bar `score`."""

    def __init__(self, score=1.0):
        self.score = score

    def __call__(self, picture, windows):
        bright = picture.image[:, :, 0] > 128
        row = int(bright.sum(axis=1).argmax())
        if bright[row].sum() < 30:
            return NO_WINDOWS
        x = np.flatnonzero(bright[row]).mean()
        return Windows(np.array([[x - 10, row - 10, 20, 20]]), np.full(1, self.score))


def test_tilts_find_what_the_stages_know_upright_only_and_turn_it_back():
    image = np.zeros((160, 220, 3), np.uint8)
    centre, along = np.array([120, 80]), 40 * np.array([np.cos(np.pi / 6), -np.sin(np.pi / 6)])
    cv2.line(image, tuple(int(v) for v in centre - along), tuple(int(v) for v in centre + along), (255,) * 3, 3)
    assert len(Detector([_Bar()]).detect(image)[0]) == 0            # the bar leans up to the right by 30 degrees
    assert len(Detector([_Bar()], tilts=(30,)).detect(image)[0]) == 0     # turned the wrong way: 60 degrees
    boxes, scores = Detector([_Bar(), Suppress(0.3)], tilts=(-30, -28, 30)).detect(image)     # found twice, kept once
    assert len(boxes) == 1 and np.allclose(boxes[0, :2] + 10, centre, atol=1.5) and np.allclose(boxes[0, 2:], 20)
    assert len(Detector([_Bar(0.7)], tilts=(-30,), tilt_threshold=0.7).detect(image)[0]) == 1
    assert len(Detector([_Bar(0.7)], tilts=(-30,), tilt_threshold=0.8).detect(image)[0]) == 0  # turned: trusted less


def test_turned_canvas_holds_the_whole_image_and_centres_go_there_and_back():
    image = np.zeros((40, 60, 3), np.uint8)
    image[10, 50] = 255
    canvas, matrix = turned(image, 90)
    assert canvas.shape == (60, 40, 3)
    row, column = np.unravel_index(canvas[:, :, 0].argmax(), canvas.shape[:2])
    assert (column, row) == (10, 10) and np.allclose(matrix @ [50, 10, 1], (10, 10))   # top right to top left
    boxes = np.array([[3.0, 4.0, 10.0, 12.0], [-5.0, 20.0, 7.0, 7.0]])
    _, matrix = turned(image, 37)
    there = centres_moved(boxes, matrix)
    assert np.allclose(centres_moved(there, cv2.invertAffineTransform(matrix)), boxes)
    assert np.allclose(there[:, 2:], boxes[:, 2:])


@pytest.mark.parametrize("tilts, message", [((0,), "not 0"), ((200,), "from -180 to 180"), ((float("nan"),), "not 0"),
                                            ((30, 30.0), "given twice")])
def test_nonsense_tilts_are_refused_in_one_line(tilts, message):
    with pytest.raises(ValueError, match=message):
        check_tilts(tilts)
