"""The shipped weights against the held-out data they were never trained on (skipped without ../shared/data)."""
import os

import numpy as np
import pytest

import nets
from nanonet.data.datasets import open_dataset, split_by_name
from nanonet.data.image import read_image
from nanonet.data.iterator import BatchIterator
from nets.registry import NETS

DATA = NETS["frg64s"].data
needs_data = pytest.mark.skipif(not os.path.exists(DATA), reason=f"{DATA} is not here")
WEBFACES = NETS["net12"].data
needs_webfaces = pytest.mark.skipif(not os.path.exists(WEBFACES), reason=f"{WEBFACES} is not here")


def _held_out_accuracy(detector_part, size):
    _, val = split_by_name(open_dataset(DATA), 0.1)
    batches = BatchIterator(val, 256, size, detector_part.normalization, shuffle=False, prefetch=False)
    correct = 0
    for x, t in batches.epoch(0):
        correct += int((detector_part.model.predict(x).argmax(axis=1) == t).sum())
    return correct / len(val)


@needs_data
def test_shipped_anime_classifier_is_at_least_97_percent_accurate_on_held_out_crops():
    detector = nets.load("anime")
    assert _held_out_accuracy(detector.classifier, 64) >= 0.97


def _anime_recall_and_false_positives(detector, scenes=200):
    """On a fixed sample of scenes composed from the held-out crops: (recall at IoU 0.5, false positives)."""
    from nanonet.kernels.nms import iou
    from nets.scenes import compose_scenes
    _, val = split_by_name(open_dataset(DATA), 0.1)
    found = total = false = 0
    for image, boxes in compose_scenes(val, scenes, np.random.default_rng(3)):
        detected, _ = detector.detect(image)
        found += sum(len(detected) > 0 and iou(b, detected).max() >= 0.5 for b in boxes)
        false += sum(len(boxes) == 0 or iou(b, boxes).max() < 0.5 for b in detected)
        total += len(boxes)
    return found / total, false


@needs_data
def test_shipped_anime_detector_finds_pasted_faces_as_measured():
    """Measured on this sample: 0.958 of 992 faces with 1 false positive; the classifier shipped before it learnt
    drawn photographs (below), 0.958 with 3 at its threshold of 0.9."""
    detector = nets.load("anime")
    recall, false = _anime_recall_and_false_positives(detector)
    assert recall >= 0.95 and false <= 4


@needs_webfaces
def test_shipped_anime_detector_boxes_no_drawn_clothing_or_hands_as_measured():
    """Photographs drawn as illustrations are drawn (nanonet.data.augment.cel_shaded) show collars, bows, hands
    and sleeves, and no anime face. Measured on the first 100 held-out images, boxes away from their faces:
    none; the classifier shipped before it learnt such photographs, 8 at its threshold of 0.9 (11 at 0.85)."""
    from nanonet.data.augment import cel_shaded
    from nanonet.kernels.nms import iou
    from nets.annotations import read_webfaces
    from nets.samples import split_images
    _, val = split_images(read_webfaces(WEBFACES), 0.1)
    detector, false = nets.load("anime"), 0
    for a in val[:100]:
        boxes, _ = detector.detect(cel_shaded(read_image(a.path)))
        false += sum(not len(a.boxes) or iou(b, a.boxes).max() < 0.3 for b in boxes)
    assert false <= 2


def test_default_detector_finds_the_astronaut():
    import json
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run([sys.executable, "detect.py", "examples/astronaut.jpg", "--json"], cwd=root,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert (found["width"], found["height"]) == (512, 512) and len(found["faces"]) == 1
    face = found["faces"][0]
    assert 150 < face["x"] + face["w"] / 2 < 250 and 50 < face["y"] + face["h"] / 2 < 150


@needs_webfaces
def test_shipped_face_detector_finds_held_out_faces_as_measured():
    """Measured on the first 120 held-out images, against their annotations alone: 0.977 of the 133 faces at
    0.008 false positives an image, and with every face partly covered (nets.occluders) 0.925 at 0.017 (0.970 and
    0.895 at 0.042 before the 12-net read big windows on its finer grid; 0.902 before the 24-net read mirror
    images, 0.887 with nms24 0.5); with the full 24-net before the slim one, 0.970 at 0.017 and 0.902 at 0.050;
    the nets before they learnt photometric changes, 0.955 at 0.017 and 0.880 at 0.042; the paper's 48-net,
    0.962 at 0.008 and 0.880 at 0.017; the nets before they learnt covered faces, 0.925 at 0.042 and 0.684 at
    0.050."""
    from nets.annotations import read_webfaces
    from nets.evaluation import Tally
    from nets.occluders import occlude
    from nets.samples import split_images
    _, val = split_images(read_webfaces(WEBFACES), 0.1)
    detector, plain, covered = nets.load("face"), Tally(), Tally()
    for k, a in enumerate(val[:120]):
        image = read_image(a.path)
        plain.add(*detector.detect(image), a.boxes)
        covered.add(*detector.detect(occlude(image, a.keypoints, np.random.default_rng(k))), a.boxes)
    (recall, false_positives), (covered_recall, covered_false) = plain.at(), covered.at()
    assert recall >= 0.95 and false_positives <= 0.04
    assert covered_recall >= 0.88 and covered_false <= 0.06


KEYPOINTS = NETS["keypoints"].data


@pytest.mark.skipif(not os.path.exists(KEYPOINTS), reason=f"{KEYPOINTS} is not here")
def test_shipped_face_detector_finds_faces_in_video_frames_unlike_webfaces_as_measured():
    """The YouTube-68 frames of the people no net trained on (350, a face each): 0.983 of the faces at 0.014
    false positives a frame (BENCHMARKS.md; before the 12-net read big windows on its finer grid, 0.966 at 0.020;
    before the 24-net read mirror images, 0.963 at 0.020; with nms24 0.5, 0.960 at 0.023)."""
    from nets.evaluation import Tally
    from nets.training import landmark_faces
    detector, found = nets.load("face"), Tally()
    for a in landmark_faces(KEYPOINTS, held_out=True):
        found.add(*detector.detect(read_image(a.path)), a.boxes)
    recall, false_positives = found.at()
    assert recall >= 0.95 and false_positives <= 0.04, (recall, false_positives)


@pytest.mark.skipif(not os.path.exists(KEYPOINTS), reason=f"{KEYPOINTS} is not here")
def test_shipped_keypoints_place_held_out_peoples_points_as_measured():
    """Every 4th frame of the people train.py holds out: err (the seed's, on the frame and on the face's box
    resized to 100x100) within a margin of BENCHMARKS.md's 3.6 and 16.4 over all of them."""
    from nets.keypoints import face_boxes, person_of, read_data
    _, val = split_by_name(read_data(KEYPOINTS), 0.1, person_of)
    frames = [val.image(i) for i in range(0, len(val), 4)]
    truth = val.keypoints[::4]
    predicted = nets.load("keypoints").predict(frames)
    sides = np.array([f.shape[1::-1] for f in frames], np.float64)[:, None, :]
    on_frame = (((predicted - truth) * 100 / sides) ** 2).mean()
    on_face = (((predicted - truth) * 100 / face_boxes(truth)[:, 2, None, None]) ** 2).mean()
    assert on_frame <= 4.5 and on_face <= 19.5, (on_frame, on_face)
