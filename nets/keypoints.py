"""Facial keypoints: a net that regresses the 68 iBUG points of a face from a frame about it, and the keypoints
seed's API, `train_detector(train_gt, train_img_dir, fast_train)` and `detect(model_path, img_dir)`.

The net reads the whole frame resized to its input and gives each point as shares of the frame's width and
height, so a frame of any size and aspect gets its points in its own pixels.
"""
import os
import re

import numpy as np

import nanonet as nn
from nanonet.data.datasets import DataError, IMAGE_EXTENSIONS
from nanonet.data.image import read_image
from nets.readers import CropRegressor

POINTS = 68
# iBUG 68: the point each point becomes in the mirror image (jaw, brows, nose, eyes, outer and inner lips)
FLIP_PAIRS = ([(i, 16 - i) for i in range(8)] + [(17 + i, 26 - i) for i in range(5)] + [(31, 35), (32, 34)]
              + [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]
              + [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58), (60, 64), (61, 63), (65, 67)])
REGIONS = {"jaw": range(0, 17), "brows": range(17, 27), "nose": range(27, 36), "eyes": range(36, 48),
           "mouth": range(48, 68)}
OUTPUT_NAMES = tuple(f"{axis}{i}" for i in range(POINTS) for axis in "xy")


def keypoints_net(rng, outputs=2 * POINTS):
    """A 96x96 frame to `outputs` coordinates: a 5x5 stride-2 convolution (96 -> 48), then four 3x3
    convolutions each with batch norm, ReLU and a 2x2 max pool (48 -> 24 -> 12 -> 6 -> 3), dense 256 with
    batch norm and dropout 0.3 before it. Strided at the start and narrow at full size, it reads a face in
    a few milliseconds on one thread."""
    layers = [nn.Conv2D(3, 24, 5, stride=2, pad=2, rng=rng, input_grad=False), nn.BatchNorm(24), nn.ReLU()]
    channels = 24
    for width in (48, 96, 160, 256):
        layers += [nn.Conv2D(channels, width, 3, pad=1, rng=rng), nn.BatchNorm(width), nn.ReLU(),
                   nn.MaxPool2D(2, cover_all=False)]
        channels = width
    return nn.Sequential(*layers, nn.Dropout(0.3, rng=rng), nn.Linear(channels * 3 * 3, 256, rng=rng),
                         nn.BatchNorm(256), nn.ReLU(), nn.Linear(256, outputs, rng=rng))


def person_of(key):
    """The person a YouTube Faces frame shows, from its file name `[train_|test_]PERSON_NN.jpg`: frames of one
    person look alike, so validation holds out whole people."""
    name = re.sub(r"_\d+$", "", os.path.splitext(os.path.basename(key))[0])
    return re.sub(r"^(train|test)_", "", name)


class KeypointReader(CropRegressor):
    """.predict(images): (N, P, 2) points, x and y in each image's own pixels, for uint8 frames of any size
    (a list, or an array (N, H, W) or (N, H, W, 3)), framed as the training frames were."""

    def predict(self, images):
        shares = self.outputs(images).reshape(len(images), -1, 2)
        sides = np.array([np.shape(image)[1::-1] for image in images], dtype=np.float64)[:, None, :]
        return (shares + 0.5 / self.input_size) * sides - 0.5     # pixel centres: see BatchIterator.sample


def read_folder(img_dir):
    """(file names, uint8 images) of the pictures in `img_dir`, in name order."""
    if not os.path.isdir(img_dir):
        raise DataError(f"{img_dir}: no such folder")
    files = sorted(f for f in os.listdir(img_dir) if f.lower().endswith(IMAGE_EXTENSIONS))
    return files, [read_image(os.path.join(img_dir, f)) for f in files]
