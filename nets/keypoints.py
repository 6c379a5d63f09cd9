"""Facial keypoints: a net that regresses the 68 iBUG points of a face from a frame about it, and the keypoints
seed's API, `train_detector(train_gt, train_img_dir, fast_train)` and `detect(model_path, img_dir)`.

The net reads the whole frame resized to its input and gives each point as shares of the frame's width and
height, so a frame of any size and aspect gets its points in its own pixels.
"""
import os
import re
import time

import numpy as np

import nanonet as nn
import nets
from nanonet.data.augment import squares_about
from nanonet.data.datasets import IMAGE_EXTENSIONS, DataError, points_folder, read_points_table, split_by_name
from nanonet.data.image import read_image
from nanonet.kernels.windows import extract_windows
from nets.readers import CropRegressor, as_crops

POINTS = 68
# iBUG 68: the point each point becomes in the mirror image (jaw, brows, nose, eyes, outer and inner lips)
FLIP_PAIRS = ([(i, 16 - i) for i in range(8)] + [(17 + i, 26 - i) for i in range(5)] + [(31, 35), (32, 34)]
              + [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]
              + [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58), (60, 64), (61, 63), (65, 67)])
# The net's frames about the face cascade's box (x, y, w, h) on them: 2.0 w wide, 2.2 w high, centred 0.04 w
# below the box's centre (medians over a tenth of the training frames; bench_keypoints.py measures them)
FRAMING = (2.0, 2.2, 0.0, 0.04)
REGIONS = {"jaw": range(0, 17), "brows": range(17, 27), "nose": range(27, 36), "eyes": range(36, 48),
           "mouth": range(48, 68)}


def point_names(points):
    """The outputs of a net regressing `points` points: x0, y0, x1, y1, ..."""
    return tuple(f"{axis}{i}" for i in range(points) for axis in "xy")


def keypoints_net(rng, outputs=2 * POINTS, size=64):
    """A size x size picture to `outputs` coordinates: a 5x5 stride-2 convolution, then four 3x3 convolutions
    each with batch norm, ReLU and a 2x2 max pool (64 -> 32 -> 16 -> 8 -> 4 -> 2), dense 256 with batch norm
    and dropout 0.1 before it (more would shake the coordinates it regresses). Strided at the start and
    narrow at full size, it reads a face in a millisecond or two on one thread."""
    layers = [nn.Conv2D(3, 24, 5, stride=2, pad=2, rng=rng, input_grad=False), nn.BatchNorm(24), nn.ReLU()]
    channels = 24
    for width in (48, 96, 160, 256):
        layers += [nn.Conv2D(channels, width, 3, pad=1, rng=rng), nn.BatchNorm(width), nn.ReLU(),
                   nn.MaxPool2D(2, cover_all=False)]
        channels = width
    side = size // 32
    return nn.Sequential(*layers, nn.Dropout(0.1, rng=rng), nn.Linear(channels * side * side, 256, rng=rng),
                         nn.BatchNorm(256), nn.ReLU(), nn.Linear(256, outputs, rng=rng))


def person_of(key):
    """The person a YouTube Faces frame shows, from its file name `[train_|test_]PERSON_NN.jpg`: frames of one
    person look alike, so validation holds out whole people."""
    name = re.sub(r"_\d+$", "", os.path.splitext(os.path.basename(key))[0])
    return re.sub(r"^(train|test)_", "", name)


class KeypointReader(CropRegressor):
    """One net's look: .predict(images), (N, P, 2) points, x and y in each image's own pixels, for uint8
    pictures of any size (a list, or an array (N, H, W) or (N, H, W, 3)) framed as its training pictures
    were: frames about a face, or for a net trained on crops about the points (`margin`), those crops."""

    def __init__(self, model, normalization, input_size, output_names, grey=False, margin=None):
        super().__init__(model, normalization, input_size, output_names, grey)
        self.margin = margin

    def predict(self, images):
        shares = self.outputs(images).reshape(len(images), -1, 2)
        sides = np.array([np.shape(image)[1::-1] for image in images], dtype=np.float64).reshape(-1, 1, 2)
        return (shares + 0.5 / self.input_size) * sides - 0.5     # pixel centres: see BatchIterator.sample


class Keypoints:
    """nets.load("keypoints"): .predict(frames), (N, P, 2) points in each frame's pixels, in two looks. The
    frame net finds the face in a frame (whose face fills a third to a half of it); the fine net reads the
    crop about the points it found, the face filling most of it, as it learnt from crops about the annotated
    points (moved and rescaled as far as the first look errs)."""

    def __init__(self, frame_net, fine_net):
        self.frame_net, self.fine_net = frame_net, fine_net
        self.input_size, self.output_names = frame_net.input_size, frame_net.output_names

    def predict(self, frames, refine=True):
        """With refine=False, the frame net's points alone."""
        frames = as_crops(frames)
        points = self.frame_net.predict(frames)
        if not refine or not len(points):
            return points
        sides = np.array([np.shape(frame)[1::-1] for frame in frames], np.float64)[:, None, :]
        # a wild first look (a frame of no face) must not cut a window many frames wide: points stay within
        # half a frame of it
        windows = face_boxes(np.clip(points, -sides / 2, sides * 1.5), self.fine_net.margin)
        size = self.fine_net.input_size
        crops = [extract_windows(frame, window[None], size)[0] for frame, window in zip(frames, windows)]
        return in_picture(windows, self.fine_net.predict(crops), size)


def face_boxes(points, margin=1.1):
    """(N, 4) the face's box (x, y, w, h) of each set of points (N, P, 2): the square about them
    (squares_about), 1.1 times their extent in the seed's measure; at a fine net's margin, the crop that it
    learnt from (nanonet.data.augment.about_points)."""
    return squares_about(points, margin)


def head_turn(points):
    """(N,) how far each face of 68 points (N, 68, 2) is turned: the nose tip's offset from the middle of the jaw's
    ends (points 0 and 16), as a fraction of half their distance; 0 facing the camera, near 1 in profile."""
    points = np.asarray(points, np.float64).reshape(-1, POINTS, 2)
    left, right, nose = points[:, 0, 0], points[:, 16, 0], points[:, 30, 0]
    return np.abs(2 * nose - left - right) / np.maximum(np.abs(right - left), 1e-6)


def frame_about(box, framing=FRAMING):
    """The frame (x, y, w, h) about a face box (x, y, w, h) that frames the face as the net's training frames
    did, by `framing` (width and height in box sides, the centre's offset from the box's in box sides)."""
    x, y, w, h = box
    width, height, dx, dy = framing
    cx, cy = x + w / 2 + dx * w, y + h / 2 + dy * w
    return np.array([cx - width * w / 2, cy - height * w / 2, width * w, height * w])


def in_picture(frames, points, size):
    """Points (K, P, 2) in the pixels of frames (K, 4) that were cut at size x size, in the picture's pixels."""
    return frames[:, None, :2] + (points + 0.5) * frames[:, None, 2:] / size - 0.5


def points_on_faces(reader, image, boxes):
    """(K, P, 2) points in `image`'s pixels for each face box (K, 4) that a face detector found: the net reads
    the frame about each box (frame_about), cut at its input size, edge pixels repeated outside the image."""
    frames = np.array([frame_about(box) for box in np.asarray(boxes, dtype=np.float64).reshape(-1, 4)])
    if not len(frames):
        return np.zeros((0, len(reader.output_names) // 2, 2))
    return in_picture(frames, reader.predict(extract_windows(image, frames, reader.input_size)), reader.input_size)


def read_data(path):
    """The PointsDataset of a keypoints data set in the folder `path`, laid out as YouTube-68's (what train.py
    reads): images/, and keypoints.csv of file,x0,y0,x1,y1,... rows in each image's pixels."""
    table = os.path.join(path, "keypoints.csv")
    if not os.path.isfile(table):
        raise DataError(f"{path}: not a keypoints data set (a folder of images/ and keypoints.csv)")
    return points_folder(os.path.join(path, "images"), read_points_table(table))


def read_folder(img_dir):
    """(file names, uint8 images) of the pictures in `img_dir`, in name order."""
    if not os.path.isdir(img_dir):
        raise DataError(f"{img_dir}: no such folder")
    files = sorted(f for f in os.listdir(img_dir) if f.lower().endswith(IMAGE_EXTENSIONS))
    return files, [read_image(os.path.join(img_dir, f)) for f in files]


def train_detector(train_gt, train_img_dir, fast_train=True):
    """The keypoints seed's trainer: a keypoints net trained on the images of `train_img_dir` that `train_gt`
    names, {file: [x1, y1, ..., xP, yP]} in each image's pixels, with a tenth of its people held out for
    validation. Returns a KeypointReader.

    fast_train: the CPU, two batches and one validation, images read on one thread, nothing written: a
    check that the code runs. Otherwise the run of `train.py --net keypoints` on these images, in
    runs/keypoints-TIME/, and the best of its epochs returned."""
    from nets import training    # not at the top: nets.training reads the registry, which imports this module
    out = None if fast_train else os.path.join("runs", time.strftime("keypoints-%Y%m%d-%H%M%S"))
    argv = ["--net", "keypoints", "--data", os.fspath(train_img_dir)] + (["--fast"] if fast_train else ["--out", out])
    args = training.parse_args(argv)
    spec, settings = training.effective_spec(args)
    out, checkpoint = training.run_folder(args, settings)
    train_set, val_set = split_by_name(points_folder(train_img_dir, train_gt), 0.1, person_of)
    if not fast_train:
        train_set, val_set = training.in_memory(train_set), training.in_memory(val_set)
    trainer = training.prepare(spec, settings, args, argv, out, checkpoint, (train_set, val_set))
    trainer.run()
    if out:
        return nets.load(os.path.join(out, "best.npz"))
    return KeypointReader(trainer.model, trainer.train.normalize, spec.input_size,
                          trainer.save_info["config"]["outputs"])


def detect(model_path, img_dir):
    """The keypoints seed's detector: {file name: [x1, y1, ..., xP, yP]} for every image in `img_dir`, in its
    own pixels, from the model file at `model_path` (or a shipped model's name, "keypoints")."""
    reader = nets.load(model_path)
    files, images = read_folder(img_dir)
    points = reader.predict(images) if images else []
    return {f: [float(v) for v in p.reshape(-1)] for f, p in zip(files, points)}
