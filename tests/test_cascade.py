"""The CNN cascade detector on untrained nets: its plumbing, not its accuracy (tests/test_shipped.py)."""
import numpy as np
import pytest

import nets
from nanonet.kernels.windows import extract_windows
from nanonet import serialize
from nanonet.serialize import ModelFileError
from nets import cascade, samples
from nets.cascade_detector import CascadeDetector
from nets.detector import Classifier, Net
from nets.pyramid import pyramid_windows, scan_pyramid, window_sizes
from nets.stages import NO_WINDOWS, Picture, Scan, voted
from tests.cases import BUILDS, NORM, SIDES, cascade_files, untrained_net



def _nets():
    out = []
    for k, (build, side) in enumerate(zip(BUILDS, SIDES)):
        model = untrained_net(k, build)
        out.append(Classifier(model, NORM, 0, side) if k % 2 == 0 else Net(model, NORM, side, 45))
    return out


def _image(seed=0, shape=(90, 120, 3)):
    return np.random.default_rng(seed).integers(0, 256, shape).astype(np.uint8)


def test_the_12_net_crops_are_its_scanned_windows():
    net12 = _nets()[0]
    image = _image()
    (boxes, scores, crops), = scan_pyramid(net12, image, [12.0], 0.0, every=2, crops=True)  # 12 px: no resampling
    assert len(boxes) == len(scores) == len(crops) > 0 and (boxes[:, :2] % 4 == 0).all()
    np.testing.assert_array_equal(crops, extract_windows(image, boxes, 12))
    # The scores come close to the crops' own but not exactly: the 12-net pools 10 -> 5 with ceil rounding,
    # so a crop's last pooling window overhangs it, while in a whole image it reads the next pixel.
    assert np.corrcoef(scores, net12.face_probability(crops))[0, 1] > 0.9


def test_windows_big_in_the_image_are_scanned_on_the_12_nets_own_stride():
    net12, image = _nets()[0], _image()          # 90 px high: windows of 22.5 px and more are a quarter of it
    found = Scan(net12, 12, 1.25, 0.0, every=2, fine_from=0.25)(Picture(image), NO_WINDOWS).boxes
    sizes = window_sizes(90, 120, 12, 1.25)
    assert min(sizes) < 22.5 <= max(sizes)
    for size in sizes:
        (expected, _), = scan_pyramid(net12, image, [size], 0.0, every=1 if size >= 22.5 else 2)
        np.testing.assert_array_equal(found[found[:, 2] == expected[0, 2]], expected)
    coarse = Scan(net12, 12, 1.25, 0.0, every=2)(Picture(image), NO_WINDOWS).boxes
    assert len(found) > len(coarse)


@pytest.mark.parametrize("fine_from", [0, -0.1, 1.5, float("nan"), "all"])
def test_fine_from_is_a_fraction_of_the_short_side(fine_from):
    with pytest.raises(ValueError, match="fine_from"):
        CascadeDetector(*_nets(), fine_from=fine_from)


def test_pyramid_windows_come_from_the_smallest_level_that_holds_them():
    import cv2
    image = cv2.GaussianBlur(_image(3, (120, 160, 3)), (0, 0), 3)     # smooth, so shrinking loses little
    levels = [image, cv2.resize(image, (80, 60), interpolation=cv2.INTER_AREA),
              cv2.resize(image, (40, 30), interpolation=cv2.INTER_AREA)]
    boxes = np.array([[10, 10, 20, 20], [30, 20, 60, 60], [0, 0, 100, 100], [-10, 50, 90, 90]], float)
    direct, cut = extract_windows(image, boxes, 24), pyramid_windows(levels, boxes, 24)
    np.testing.assert_array_equal(cut[0], direct[0])      # spans 24 px on no smaller level: cut from the image
    np.testing.assert_array_equal(cut[[1, 3]], extract_windows(levels[1], boxes[[1, 3]] / 2, 24))
    np.testing.assert_array_equal(cut[2], extract_windows(levels[2], boxes[2:3] / 4, 24)[0])   # 25 px there
    assert np.abs(cut.astype(int) - direct).mean() < 2


def test_box_voting_averages_each_cluster_by_score():
    boxes = np.array([[0, 0, 10, 10], [2, 0, 10, 10], [50, 50, 10, 10]], float)
    scores = np.array([0.75, 0.25, 0.5])
    np.testing.assert_allclose(voted(boxes, scores, [0, 2], 0.3), [[0.5, 0, 10, 10], [50, 50, 10, 10]])
    np.testing.assert_array_equal(voted(boxes, scores, [0, 2], 1.0), boxes[[0, 2]])     # alone: as it was
    assert voted(boxes, np.zeros(3), [1], 0.3).shape == (1, 4) and voted(boxes, scores, [], 0.3).shape == (0, 4)


def test_every_stage_passes_on_at_most_what_it_received():
    nets6 = _nets()
    image = _image(1)
    found = [CascadeDetector(*nets6, threshold12=0.0, threshold24=0.0, threshold=0.0, nms12=1.0, nms24=1.0,
                             nms_iou=1.0, nested=1.0, stages=s).detect(image) for s in (1, 2, 3)]
    counts = [len(b) for b, _ in found]
    assert counts[0] > 0 and counts[0] >= counts[1] >= counts[2]
    for boxes, scores in found:
        assert boxes.shape == (len(scores), 4) and np.allclose(boxes[:, 2], boxes[:, 3], rtol=0.1)   # square up to rounding
    strict = CascadeDetector(*nets6, threshold12=1.0).detect(image)   # no untrained net is that sure
    assert strict[0].shape == (0, 4) and strict[1].shape == (0,)


def test_no_box_kept_lies_inside_a_better_one():
    from nanonet.kernels.nms import iou_reference
    nets6 = _nets()
    options = dict(threshold12=0.0, threshold24=0.0, threshold=0.0, nms12=1.0, nms24=1.0, nms_iou=1.0)
    every, (boxes, _) = (CascadeDetector(*nets6, nested=n, **options).detect(_image(1)) for n in (1.0, 0.7))
    inside = [iou_reference(a, b, over_smaller=True) for i, a in enumerate(boxes) for b in boxes[i + 1:]]
    assert len(boxes) < len(every[0]) and max(inside, default=0) <= 0.7


def test_mirror_scores_each_48_crop_and_its_mirror_image():
    nets6 = _nets()
    seen = []
    left_half = lambda crops: crops[:, :, :24].mean(axis=(1, 2, 3)) / 255   # noqa: E731
    nets6[4].face_probability = lambda crops: seen.append(crops.copy()) or left_half(crops)
    options = dict(threshold12=0.0, threshold24=0.0, threshold=0.0, nms12=1.0, nms24=1.0, nms_iou=1.0, nested=1.0,
                   judge_moved=False)
    _, plain = CascadeDetector(*nets6, mirror=False, **options).detect(_image(1))
    _, mirrored = CascadeDetector(*nets6, mirror=True, **options).detect(_image(1))
    crops = seen[1]         # not seen[0]: with `mirror` the calibration nets read the mirror images too
    assert np.array_equal(seen[2], crops[:, :, ::-1])
    np.testing.assert_allclose(np.sort(plain), np.sort(left_half(seen[0])), rtol=1e-6)
    np.testing.assert_allclose(np.sort(mirrored), np.sort(crops.mean(axis=(1, 2, 3)) / 255), rtol=1e-5)


def test_mirror_scores_each_24_crop_and_its_mirror_image_above_the_read_floor():
    nets6 = _nets()
    seen = []
    left_half = lambda crops: crops[:, :, :12].mean(axis=(1, 2, 3)) / 255   # noqa: E731
    nets6[2].face_probability = lambda crops: seen.append(crops.copy()) or left_half(crops)
    options = dict(threshold12=0.0, threshold24=0.0, nms12=1.0, nms24=1.0, read_floor=0.5, stages=2)
    _, plain = CascadeDetector(*nets6, mirror=False, **options).detect(_image(1))
    _, mirrored = CascadeDetector(*nets6, mirror=True, **options).detect(_image(1))
    crops, mirrors = seen[1:]
    first = left_half(crops)
    assert np.array_equal(mirrors, crops[first >= 0.5, :, ::-1])      # the floor spares the rest
    np.testing.assert_allclose(np.sort(plain), np.sort(left_half(seen[0])), rtol=1e-6)
    expected = np.where(first >= 0.5, crops.mean(axis=(1, 2, 3)) / 255, first / 2)
    np.testing.assert_allclose(np.sort(mirrored), np.sort(expected), rtol=1e-5)


def test_mirror_spares_the_crops_that_cannot_pass():
    nets6 = _nets()
    seen = []
    nets6[4].face_probability = lambda crops: seen.append(len(crops)) or np.linspace(0, 1, len(crops))
    boxes, scores = CascadeDetector(*nets6, threshold12=0.0, threshold24=0.0, threshold=0.8,
                                    judge_moved=False).detect(_image(1))
    assert seen[1] == np.sum(np.linspace(0, 1, seen[0]) >= 0.6) and np.all(scores >= 0.8)


def test_the_48_net_also_judges_each_window_where_the_48_cal_net_moves_it():
    nets6 = _nets()
    seen = []
    brightness = lambda crops: crops.mean(axis=(1, 2, 3)) / 255   # noqa: E731
    nets6[4].face_probability = lambda crops: seen.append(crops.copy()) or brightness(crops)
    image = _image(1)
    boxes, scores = CascadeDetector(*nets6, threshold12=0.0, threshold24=0.0, threshold=0.0, nms12=1.0, nms24=1.0,
                                    nms_iou=1.0, vote_iou=1.0, nested=1.0).detect(image)
    crops, mirrors, moved, moved_mirrors = seen
    assert np.array_equal(mirrors, crops[:, :, ::-1]) and np.array_equal(moved_mirrors, moved[:, :, ::-1])
    np.testing.assert_allclose(np.sort(scores), np.sort((brightness(crops) + brightness(moved)) / 2), rtol=1e-5)
    # the boxes returned are where the moved crops were cut
    np.testing.assert_allclose(np.sort(brightness(extract_windows(image, boxes, 48))), np.sort(brightness(moved)))
    assert not np.allclose(np.sort(brightness(moved)), np.sort(brightness(crops)))


@pytest.mark.parametrize("mirror_cal48", [False, True])
def test_the_48_cal_net_reads_mirror_images_only_when_asked(mirror_cal48):
    nets6 = _nets()
    seen, probabilities = [], nets6[5].probabilities
    nets6[5].probabilities = lambda crops: seen.append(crops.copy()) or probabilities(crops)
    CascadeDetector(*nets6, threshold12=0.0, threshold24=0.0, threshold=0.0, nms12=1.0, nms24=1.0,
                    mirror_cal48=mirror_cal48).detect(_image(1))
    assert len(seen) == 1 + mirror_cal48
    if mirror_cal48:
        assert np.array_equal(seen[1], seen[0][:, :, ::-1])


def test_images_below_the_minimum_face_and_grey_images():
    detector = CascadeDetector(*_nets(), min_size=24)
    assert detector.detect(np.zeros((20, 200), np.uint8))[0].shape == (0, 4)
    boxes, _ = detector.detect(_image(2, (60, 80)))
    assert boxes.shape[1] == 4


def test_a_cascade_needs_both_nets_of_each_stage():
    nets6 = _nets()
    with pytest.raises(ValueError, match="both nets"):
        CascadeDetector(*nets6[:3])
    with pytest.raises(ValueError, match="stride"):
        CascadeDetector(*nets6, stride=3)


def test_cascade_model_files_load_in_order(tmp_path):
    paths = cascade_files(tmp_path)
    assert nets.load_cascade(paths).depth == 3 and nets.load_cascade(paths[:2]).depth == 1
    with pytest.raises(ModelFileError, match="holds a net12 net where the cascade's files take a cal12"):
        nets.load_cascade([paths[0], paths[0]])
    with pytest.raises(ModelFileError, match="holds a cal12 net where the cascade's files take a net12"):
        nets.load_cascade([paths[1], paths[1]])
    with pytest.raises(ModelFileError, match="2, 4 or 6"):
        nets.load_cascade(paths[:3])


def test_the_slim_nets_take_the_full_nets_places(tmp_path):
    paths = cascade_files(tmp_path)
    for k, name, classes in [(2, "net24s", samples.FACE_CLASSES), (4, "net48s", samples.FACE_CLASSES),
                             (5, "cal48s", samples.CALIBRATION_CLASSES)]:
        paths[k] = str(tmp_path / f"{name}.npz")
        serialize.save(paths[k], untrained_net(k, getattr(cascade, name)), name,
                       {"classes": classes, "input_size": SIDES[k]}, NORM.arrays())
    detector = nets.load_cascade(paths, threshold=0.0, threshold12=0.0, threshold24=0.0)
    boxes, scores = detector.detect(_image(3, (60, 80)))
    assert detector.depth == 3 and len(boxes) == len(scores) > 0
    with pytest.raises(ModelFileError, match="holds a cal48s net where the cascade's files take a net48 or net48s"):
        nets.load_cascade(paths[:4] + paths[5:] * 2)


def test_a_face_is_found_once_and_the_rest_are_false_positives():
    from nets.evaluation import Tally, match
    faces = np.array([[0, 0, 10, 10], [50, 50, 20, 20]], float)
    boxes = np.array([[1, 0, 10, 10], [0, 1, 10, 10], [52, 50, 20, 20], [100, 100, 5, 5]], float)
    scores = np.array([0.6, 0.9, 0.8, 0.95])
    np.testing.assert_array_equal(match(boxes, scores, faces), [False, True, True, False])
    tally = Tally()
    tally.add(boxes, scores, faces)
    tally.add(np.zeros((0, 4)), np.zeros(0), faces[:1])
    assert tally.at() == (2 / 3, 1.0) and tally.at(0.85) == (1 / 3, 0.5)
    thresholds, recall, fp = tally.roc()
    assert (np.diff(recall) <= 0).all() and (np.diff(fp) <= 0).all() and recall[0] == 2 / 3
    # by side: the two 10 px faces (found once, at 0.9), and the 20 px face (found at 0.8)
    assert tally.recall_by_side([0, 15, 30, 100]) == [(2, 0.5), (1, 1.0), (0, pytest.approx(np.nan, nan_ok=True))]
    assert tally.recall_by_side([0, 15, 30], threshold=0.85) == [(2, 0.5), (1, 0.0)]


def test_detections_of_an_ignored_face_are_neither_hits_nor_false_positives():
    from nets.evaluation import Tally
    faces, ignore = np.array([[0, 0, 10, 10]], float), np.array([[50, 50, 20, 20]], float)
    boxes = np.array([[1, 0, 10, 10], [52, 50, 20, 20], [50, 52, 20, 20], [60, 60, 20, 20], [100, 100, 5, 5]], float)
    tally = Tally()
    tally.add(boxes, np.array([0.9, 0.8, 0.7, 0.6, 0.5]), faces, ignore=ignore)
    np.testing.assert_array_equal(tally.false(), [False, False, False, True, True])
    assert tally.at() == (1.0, 2.0) and tally.at(0.65) == (1.0, 0.0)
    assert tally.at(ignoring=False) == (1.0, 4.0)
