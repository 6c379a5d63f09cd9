"""Anime scenes with known faces, composed from 64x64 crops: for hard-negative mining and for benchmarks.

The background is a mosaic of 1x1 to 3x3 non-face crops, each upscaled to its tile, so a scene's windows
show non-face content at many scales; 1 to 4 face crops are pasted on it where they overlap no other.
"""
import collections

import cv2
import numpy as np

from nanonet.kernels.nms import iou

Scene = collections.namedtuple("Scene", "image boxes")


def compose_scenes(dataset, count, rng, side=512, face_class=0, face_sides=(48, 200)):
    """[Scene(image uint8 (side, side, 3), boxes (K, 4) float as x, y, w, h)] from a dataset of crops."""
    faces = np.flatnonzero(dataset.labels == face_class)
    backgrounds = np.flatnonzero(dataset.labels != face_class)
    scenes = []
    for _ in range(count):
        tiles = int(rng.integers(1, 4))
        edges = np.linspace(0, side, tiles + 1).astype(int)
        image = np.zeros((side, side, 3), np.uint8)
        for y0, y1 in zip(edges, edges[1:]):
            for x0, x1 in zip(edges, edges[1:]):
                crop = dataset.image(int(rng.choice(backgrounds)))
                image[y0:y1, x0:x1] = cv2.resize(crop, (x1 - x0, y1 - y0), interpolation=cv2.INTER_CUBIC)
        boxes = []
        for _ in range(int(rng.integers(1, 5))):
            for _ in range(50):
                s = int(np.exp(rng.uniform(*np.log(face_sides))))
                box = np.array([rng.integers(0, side - s), rng.integers(0, side - s), s, s], float)
                if not boxes or iou(box, boxes).max() == 0:
                    crop = dataset.image(int(rng.choice(faces)))
                    x, y = int(box[0]), int(box[1])
                    image[y:y + s, x:x + s] = cv2.resize(crop, (s, s), interpolation=cv2.INTER_AREA if s < 64
                                                         else cv2.INTER_CUBIC)
                    boxes.append(box)
                    break
        scenes.append(Scene(image, np.array(boxes).reshape(-1, 4)))
    return scenes


def scene_chunks(dataset, count, rng, chunk=250, **options):
    """The scenes of compose_scenes(dataset, count, rng, **options), composed `chunk` at a time as they are
    asked for: a generator of lists (250 scenes of 512x512 hold 0.2 GB). Each chunk is composed only when the
    one before has been taken, so draws the caller makes from `rng` in between come in the same order."""
    for start in range(0, count, chunk):
        yield compose_scenes(dataset, min(chunk, count - start), rng, **options)
