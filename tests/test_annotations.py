import types

import numpy as np
import pytest

from nanonet.data.datasets import DataError
from nanonet.data.image import read_image
from nanonet.kernels.nms import iou
from nanonet.kernels.windows import extract_windows
from nets import samples
from nets.annotations import landmarks_box, read_fddb, read_keypoints_csv, read_webfaces, read_wider, webfaces_box
from tests.data_files import webfaces_folder



def test_webfaces_points_become_square_boxes(tmp_path):
    images = read_webfaces(webfaces_folder(tmp_path / "wf"))
    assert [len(a.boxes) for a in images] == [2, 1] and images[0].keypoints.shape == (2, 4, 2)
    x, y, w, h = images[0].boxes[0]
    assert w == h == pytest.approx(max(2.5 * 20, 2.6 * 20))
    assert (x + w / 2, y + h / 2) == pytest.approx((30, 20 + 0.26 * 20))


def test_webfaces_box_follows_a_tilted_face():
    upright = np.array([[20, 20], [40, 20], [30, 30], [30, 40]], float)
    turned = np.array([[20, 20], [20, 40], [10, 30], [0, 30]], float)  # the same face turned by 90 degrees
    a, b = webfaces_box(upright), webfaces_box(turned)
    assert a[2] == pytest.approx(b[2])
    assert (b[0] + b[2] / 2, b[1] + b[3] / 2) == pytest.approx((20 - 0.26 * 20, 30))


def test_68_points_are_boxed_by_the_webfaces_rule_from_their_eyes_nose_and_mouth():
    points = np.random.default_rng(0).uniform(0, 60, (68, 2))
    points[36:42] = [20, 20] + np.array([[-3, 0], [3, 0]] * 3)          # the left eye's six points about (20, 20)
    points[42:48] = [40, 20] + np.array([[0, -2], [0, 2]] * 3)
    points[30] = [30, 30]
    points[48:68] = [30, 40] + np.array([[-5, 1], [5, -1]] * 10)
    upright = np.array([[20, 20], [40, 20], [30, 30], [30, 40]], float)
    np.testing.assert_allclose(landmarks_box(points), webfaces_box(upright))


@pytest.mark.parametrize("csv,message", [
    ("name,x\n", "expected a header"),
    ("file,a_x,b_y\na.jpg,1,2\n", "pairs"),
    ("file,a_x,a_y\na.jpg,1\n", ":2: 2 fields"),
    ("file,a_x,a_y\na.jpg,1,zz\n", ":2: coordinates must be numbers"),
    ("file,a_x,a_y\nmissing.jpg,1,2\n", "does not exist"),
])
def test_bad_keypoint_files_name_file_and_line(tmp_path, csv, message):
    folder = webfaces_folder(tmp_path / "wf", csv)
    with pytest.raises(DataError, match=message):
        read_keypoints_csv(folder / "annotations.csv", folder / "images")




def test_fddb_ellipses_become_bounding_boxes(tmp_path):
    (tmp_path / "fold.txt").write_text("2002/07/img_1\n2\n20 10 0 50 60 1\n10 10 1.5707963 30 30 1\n"
                                       "2002/08/img_2\n1\n8 4 0 10 10 1\n")
    images = read_fddb(tmp_path / "fold.txt", "/images")
    assert images[0].path == "/images/2002/07/img_1.jpg" and len(images[0].boxes) == 2
    np.testing.assert_allclose(images[0].boxes[0], [40, 40, 20, 40])  # major axis vertical at angle 0
    np.testing.assert_allclose(images[0].boxes[1], [20, 20, 20, 20], atol=1e-6)
    with pytest.raises(DataError, match="fold.txt:1"):
        (tmp_path / "fold.txt").write_text("img\nthree\n")
        read_fddb(tmp_path / "fold.txt", "/images")


def test_wider_boxes_skip_invalid_and_empty_images(tmp_path):
    (tmp_path / "gt.txt").write_text(
        "0--Parade/a.jpg\n2\n10 20 30 40 0 0 0 0 0 0\n5 5 8 8 0 0 0 1 0 0\n"
        "0--Parade/b.jpg\n0\n0 0 0 0 0 0 0 0 0 0\n"
        "1--Handshaking/c.jpg\n1\n1 2 3 4 2 0 0 0 0 0\n")
    images = read_wider(tmp_path / "gt.txt", "/wider")
    assert [a.path for a in images] == ["/wider/0--Parade/a.jpg", "/wider/0--Parade/b.jpg", "/wider/1--Handshaking/c.jpg"]
    assert [len(a.boxes) for a in images] == [1, 0, 1]
    np.testing.assert_array_equal(images[0].boxes[0], [10, 20, 30, 40])
    assert len(read_wider(tmp_path / "gt.txt", "/wider", skip_invalid=False)[0].boxes) == 2


def test_negatives_stay_clear_of_faces():
    rng = np.random.default_rng(0)
    boxes = np.array([[30, 30, 40, 40], [100, 20, 30, 30.0]])
    windows = samples.random_negatives((160, 200), boxes, rng, 200, 12)
    assert len(windows) == 200
    assert max(iou(w, boxes).max() for w in windows) < 0.3
    assert all(w[2] >= 12 and w[0] >= 0 and w[1] >= 0 and w[0] + w[2] <= 200 and w[1] + w[3] <= 160 for w in windows)


def test_iou():
    assert iou(np.array([0, 0, 10, 10]), [[5, 0, 10, 10], [20, 20, 5, 5], [0, 0, 10, 10]]) == \
        pytest.approx([50 / 150, 0, 1])


def test_calibration_patterns_and_their_inverse():
    assert len(samples.CALIBRATION_PATTERNS) == len(samples.CALIBRATION_CLASSES) == 45
    box = np.array([40.0, 30.0, 20.0, 20.0])
    windows = np.stack([samples.calibration_window(box, p) for p in samples.CALIBRATION_PATTERNS])
    np.testing.assert_allclose(samples.calibrate(windows, np.eye(45)), np.tile(box, (45, 1)))
    # below the 1/45 threshold a pattern does not count; uniform probabilities average all patterns
    probs = np.full((1, 45), 0.01)
    probs[0, 44] = 1 - 0.44
    np.testing.assert_allclose(samples.calibrate(windows[44:], probs), box[None])


def test_a_mirrored_calibration_window_needs_another_pattern():
    # which is why calibration nets train on unmirrored windows (nets/registry.py)
    from nets.registry import NETS
    box = np.array([40.0, 30.0, 20.0, 20.0])
    s, x, y = 0.83, -0.17, 0.0
    window = samples.calibration_window(box, (s, x, y))
    mirrored_box = np.array([2 * window[0] + window[2] - box[0] - box[2], box[1], box[2], box[3]])
    assert not np.allclose(samples.calibration_window(mirrored_box, (s, x, y)), window)
    assert np.allclose(samples.calibration_window(mirrored_box, (s, 1 - s - x, y)), window)
    assert 1 - s - x not in samples.CALIBRATION_OFFSETS
    assert not any(spec.augment.flip for spec in NETS.values() if spec.samples == "calibration")


def test_displaced_calibration_windows_learn_the_pattern_that_corrects_them_best():
    box = np.array([100.0, 80.0, 40.0, 40.0])
    cut = samples.displaced_calibration_samples([types.SimpleNamespace(boxes=box[None])],
                                                np.random.default_rng(0), 300)
    windows, labels = np.array([w for _, w, _ in cut]), np.array([n for _, _, n in cut])
    assert len(cut) == 300 and {i for i, _, _ in cut} == {0}
    sides = windows[:, 2] / box[2]
    assert sides.min() < 0.7 and sides.max() > 1.4        # beyond the patterns' 0.83 to 1.21

    def best(windows):
        return [int(np.argmax(iou(box, samples.calibrate(np.repeat(w[None], 45, 0), np.eye(45)))))
                for w in windows]
    assert list(labels) == best(windows)
    # corrected by its label, then by the best pattern again, every window frames the face
    once = samples.calibrate(windows, np.eye(45)[labels])
    twice = samples.calibrate(once, np.eye(45)[best(once)])
    assert iou(box, windows).min() < 0.4 and iou(box, twice).min() > 0.7


def test_training_crops_are_cut_as_the_detectors_cut_windows(tmp_path):
    images = read_webfaces(webfaces_folder(tmp_path / "wf"))
    cut = samples.face_samples(images, np.random.default_rng(0), jitters=1, negatives_per_image=2, min_size=12)
    data = samples.materialize(images, cut, 12, samples.FACE_CLASSES)
    for k in (0, len(cut) - 1):
        i, window, _ = cut[k]
        expected = extract_windows(read_image(images[i].path), np.array([window], np.float64), 12)[0]
        np.testing.assert_array_equal(data.images[k], expected)


def test_materialize_cuts_every_sample(tmp_path):
    images = read_webfaces(webfaces_folder(tmp_path / "wf"))
    cut = samples.face_samples(images, np.random.default_rng(0), jitters=2, negatives_per_image=3, min_size=12)
    data = samples.materialize(images, cut, 12, samples.FACE_CLASSES)
    assert data.images.shape == (len(cut), 12, 12, 3) and set(data.labels) == {0, 1}
    calibration = samples.calibration_samples(images)
    assert len(calibration) == 45 * 3
    some = samples.calibration_samples(images, np.random.default_rng(0), per_face=5)
    assert len(some) == 5 * 3 and len({(i, n) for i, _, n in some}) == 15


def test_hard_negatives_keep_only_windows_off_the_faces():
    image = np.zeros((96, 96, 3), np.uint8)
    image[55:85, 55:85] = 200
    face = np.array([[10.0, 10.0, 30.0, 30.0]])
    found = samples.hard_negatives([(image, face)], lambda im: np.array([[12, 11, 30, 30], [60, 60, 20, 20]]), 8)
    assert found.shape == (1, 8, 8, 3) and (found == 200).all()


def test_misframed_windows_cut_their_face_badly_and_no_other_well():
    rng = np.random.default_rng(0)
    boxes = np.array([[40, 40, 40, 40], [100, 40, 30, 30.0]])
    windows = samples.misframed(boxes[0], (160, 200), boxes, rng, 100)
    assert len(windows) == 100
    assert all(0.1 <= iou(w, boxes[:1])[0] < 0.4 and iou(w, boxes).max() < 0.4 for w in windows)
    assert all(w[0] >= 0 and w[1] >= 0 and w[0] + w[2] <= 200 and w[1] + w[3] <= 160 for w in windows)
    sides = np.array([w[2] for w in windows])
    assert sides.min() < 40 < sides.max()      # too small and too large alike
    crops = samples.misframed_negatives([(np.zeros((160, 200, 3), np.uint8), boxes)], rng, 3, 8)
    assert crops.shape == (6, 8, 8, 3)


def test_split_holds_out_by_file_name(tmp_path):
    images = read_webfaces(webfaces_folder(tmp_path / "wf"))
    train, val = samples.split_images(images, 0.5)
    assert len(train) + len(val) == 2
    again = samples.split_images(images[::-1], 0.5)[1]
    assert sorted(a.path for a in again) == sorted(a.path for a in val)
