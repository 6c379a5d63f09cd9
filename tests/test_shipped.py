"""The shipped weights against the held-out data they were never trained on (skipped without ../shared/data)."""
import os

import numpy as np
import pytest

import nets
from nanonet.data.datasets import open_dataset, split_by_name
from nanonet.data.iterator import BatchIterator
from nets.registry import NETS

DATA = NETS["frg64s"].data
needs_data = pytest.mark.skipif(not os.path.exists(DATA), reason=f"{DATA} is not here")


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


@needs_data
def test_shipped_anime_detector_finds_most_pasted_faces():
    from nanonet.data.detection import iou
    from nets.scenes import compose_scenes
    _, val = split_by_name(open_dataset(DATA), 0.1)
    detector, found, total = nets.load("anime"), 0, 0
    for image, boxes in compose_scenes(val, 5, np.random.default_rng(3)):
        detected, _ = detector.detect(image)
        found += sum(len(detected) > 0 and iou(b, detected).max() >= 0.5 for b in boxes)
        total += len(boxes)
    assert found / total >= 0.6
