"""The trainable nets by name: how to build each, what it eats, and the seeds' training settings."""
import os
from dataclasses import dataclass, field

import numpy as np

from nanonet import serialize
from nanonet.data.augment import Augment
from nanonet.data.normalize import Normalization
from nets import cascade
from nets.expression import VALENCE_AROUSAL, emotion_net, smile_net
from nets.frg import anime12, anime24, frgnet, frgnet_slim
from nets.keypoints import FLIP_PAIRS, POINTS, keypoints_net, person_of, point_names

SHARED_DATA = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))


@dataclass(frozen=True)
class NetSpec:
    name: str
    build: object                  # build(rng, outputs) -> model, outputs the number of classes or targets
    input_size: int
    data: str                      # the default training data
    description: str
    task: str = "classify"         # "classify": softmax cross-entropy over classes, accuracy;
    #                                "regress": real-valued targets, learnt with `loss`
    outputs: tuple = ()            # regress: the targets' names
    loss: str = "mse"              # regress: "mse" (mean squared error) or "wing" (nanonet.losses.wing)
    class_targets: dict = None     # regress from class folders: each class's target vector
    target_noise: float = 0.0      # regress: uniform noise in +-this, drawn once per sample, added to its target
    class_weighting: float = 0.0   # classify: weigh each class's loss by (1 / its frequency) ** this
    base: str = None               # the net whose trained file --init may name: all but its last layer are taken
    grey: bool = False             # trained on grey crops: colour crops are turned grey before it reads them
    val: str = "0.1"               # the default --val: a fraction of the data, or a path
    group: object = None           # group(file key) -> name: a --val fraction holds out whole groups
    points: bool = False           # regress keypoints: the data is a folder of images/ and keypoints.csv
    normalization: str = "mean_image"
    augment: Augment = field(default_factory=Augment)
    optimizer: str = "momentum"
    lr: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 1e-4
    lr_decay: float = 0.97         # lr and weight decay are multiplied by this each epoch
    batch: int = 64
    epochs: int = 10
    samples: str = None            # "faces" or "calibration": crops cut about the faces of annotated images
    per_face: int = 2              # samples cut from each annotated face: jittered boxes, or calibration patterns
    displaced: int = 0             # calibration windows about each face beyond the patterns' reach
    jitter: float = 0.05           # face boxes move and rescale by up to this fraction of their side
    scenes: int = 0                # > 0: samples come from this many scenes composed from a crop data set


NETS = {spec.name: spec for spec in [
    NetSpec("frg64", lambda rng, classes: frgnet(rng, 64, classes), 64,
            os.path.join(SHARED_DATA, "anime-faces-64.zip"), "FrgNet64: anime face / non-face, 64x64",
            augment=Augment(rot90=True)),
    NetSpec("frg64s", lambda rng, classes: frgnet_slim(rng, classes), 64,
            os.path.join(SHARED_DATA, "anime-faces-64.zip"), "FrgNet64-slim: the shipped anime face / non-face net",
            # per-channel normalisation: a mean image could not be subtracted from a whole scene; no rotations
            # by 90 degrees, which spent three faces in four on poses the detector never looks for
            normalization="channel", augment=Augment(flip=True), lr=0.01, weight_decay=5e-4,
            lr_decay=0.9, epochs=20),
    NetSpec("anime12", lambda rng, classes: anime12(rng, classes), 12,
            os.path.join(SHARED_DATA, "anime-faces-64.zip"), "the anime detector's 12x12 first stage",
            normalization="channel", augment=Augment(flip=True, rot90=True), lr=0.01, lr_decay=0.9, batch=128,
            epochs=10),
    NetSpec("anime24", lambda rng, classes: anime24(rng, classes), 24,
            os.path.join(SHARED_DATA, "anime-faces-64.zip"), "the anime detector's 24x24 second stage",
            normalization="channel", augment=Augment(flip=True), lr=0.01, lr_decay=0.9, batch=128, epochs=8),
    NetSpec("animecal", lambda rng, classes: anime24(rng, classes), 24,
            os.path.join(SHARED_DATA, "anime-faces-64.zip"), "the anime detector's calibration net: 45 corrections",
            # no augmentation: a mirrored or rotated window needs another pattern
            normalization="channel", samples="calibration", per_face=15, displaced=15, scenes=3000, lr=0.01,
            lr_decay=0.9, batch=128, epochs=8),
    NetSpec("frg128", lambda rng, classes: frgnet(rng, 128, classes), 128,
            os.path.join(SHARED_DATA, "anime-faces-64.zip"), "FrgNet128: anime face / non-face, 128x128",
            augment=Augment(rot90=True)),
] + [
    # per-channel normalisation, so that the 12-net can scan whole images fully convolutionally; calibration
    # samples are never mirrored: a mirrored window needs another pattern (x -> 1 - s - x, as the patterns
    # scale about the top-left corner), most often none of the 45
    NetSpec(name, lambda rng, classes, build=build: build(rng, classes), size,
            os.path.join(SHARED_DATA, "faces-webfaces"), f"CNN cascade {description}", normalization="channel",
            samples=samples, per_face=per_face, jitter=jitter, augment=Augment(flip=samples == "faces"), lr=0.01,
            lr_decay=0.9, batch=128, epochs=epochs)
    # The 24- and 48-nets judge windows that the stage before has calibrated, most of them within 0.6-0.9 IoU
    # of the face; trained on boxes jittered by 5% only, they rejected a quarter of the faces stage 1 found.
    for name, build, size, samples, per_face, jitter, epochs, description in [
        ("net12", cascade.net12, 12, "faces", 2, 0.05, 20, "12-net: face / non-face at 12x12"),
        ("cal12", cascade.cal12, 12, "calibration", 45, 0, 10, "12-calibration-net: 45 window corrections"),
        ("net24", cascade.net24, 24, "faces", 4, 0.15, 5,
         "24-net: face / non-face at 24x24, with the 12-net's features"),
        ("net24s", cascade.net24s, 24, "faces", 4, 0.15, 5, "slim 24-net: the 24-net's place with half its filters"),
        ("cal24", cascade.cal24, 24, "calibration", 15, 0, 3, "24-calibration-net"),
        ("net48", cascade.net48, 48, "faces", 4, 0.15, 6,
         "48-net: face / non-face at 48x48, with the 24-net's features"),
        ("net48s", cascade.net48s, 48, "faces", 4, 0.15, 6,
         "slim 48-net: the 48-net's place with a third of its multiply-adds (MTCNN's O-Net trunk)"),
        ("cal48s", cascade.cal48s, 48, "calibration", 3, 0, 3, "slim 48-calibration-net (MTCNN's O-Net trunk)"),
        ("cal48", cascade.cal48, 48, "calibration", 3, 0, 3, "48-calibration-net"),
    ]
] + [
    # GENKI-4K's crops are tight and frontal; the windows the 45-window vote reads are not: a detector's box,
    # itself up to about 0.09 of the side off and 0.83-1.15 of the face's scale, moved by up to 0.085 more and
    # rescaled by 0.915-1.105 (nets.expression.windows_about), which the shift and scale jitter cover
    NetSpec("smile", smile_net, 48, os.path.join(SHARED_DATA, "smile-genki4k-64.zip"),
            "smile classes of tight grey face crops, 48x48 (the seed's net)", normalization="channel", grey=True,
            augment=Augment(flip=True, rotate=10, scale=0.2, shift=0.17, brightness=25, contrast=0.4),
            lr=0.01, lr_decay=0.97, batch=64, epochs=80),
    # the emotion seed's augmentation: contrast 0.2-2, brightness +-0.1, rotation +-0.05 turn, zoom +-0.2,
    # translation +-0.1, flips, JPEG quality 30-100; disgust, 1.5% of FER-2013's faces, is weighed up
    NetSpec("emotion", emotion_net, 48, os.path.join(SHARED_DATA, "emotion-fer2013-48.zip", "train"),
            "emotion classes of tight grey face crops, 48x48", normalization="channel", grey=True,
            augment=Augment(flip=True, rotate=18, scale=0.2, shift=0.1, brightness=25, contrast=0.8,
                            jpeg=(30, 0.5)),
            class_weighting=0.5, lr=0.01, lr_decay=0.93, weight_decay=5e-4, batch=128, epochs=40,
            val=os.path.join(SHARED_DATA, "emotion-fer2013-48.zip", "val")),
    NetSpec("emotion-va", emotion_net, 48, os.path.join(SHARED_DATA, "emotion-fer2013-48.zip", "train"),
            "valence and arousal of tight grey face crops, fine-tuned from the emotion net", task="regress",
            outputs=("valence", "arousal"), class_targets=VALENCE_AROUSAL, target_noise=0.4, base="emotion",
            normalization="channel", grey=True,
            augment=Augment(flip=True, rotate=18, scale=0.2, shift=0.1, brightness=25, contrast=0.8,
                            jpeg=(30, 0.5)),
            lr=0.001, lr_decay=0.9, weight_decay=5e-4, batch=128, epochs=8,
            val=os.path.join(SHARED_DATA, "emotion-fer2013-48.zip", "val")),
    # frames of one person look alike: validation holds out whole people. The frames' faces span a quarter to
    # two thirds of their side: scaled by up to a quarter, the net learns them all. 64x64 suffices for the
    # first look, which the fine net corrects (nets/weights/README.md)
    NetSpec("keypoints", keypoints_net, 64,
            os.path.join(SHARED_DATA, "keypoints-youtube68"),
            "the 68 iBUG points of the face in a frame about it, 64x64", task="regress", outputs=point_names(POINTS),
            points=True, group=person_of, normalization="channel",
            augment=Augment(flip=True, flip_pairs=FLIP_PAIRS, rotate=12, scale=0.25, shift=0.08, brightness=25,
                            contrast=0.3, grey=0.1),
            optimizer="adam", lr=0.002, lr_decay=0.95, weight_decay=1e-5, batch=32, epochs=50),
    # the second look: the square about the points, 1.4 times their extent, moved and rescaled as far as the
    # first look's points err (a tenth of the side off, a fifth in scale), so that it learns to correct them
    NetSpec("keypoints-fine", lambda rng, outputs: keypoints_net(rng, outputs, 80), 80,
            os.path.join(SHARED_DATA, "keypoints-youtube68"),
            "the 68 iBUG points, read again from the crop about the points the keypoints net found, 80x80",
            task="regress", outputs=point_names(POINTS), points=True, group=person_of, normalization="channel",
            augment=Augment(crop_points=(1.4, 0.1, 0.2), flip=True, flip_pairs=FLIP_PAIRS, rotate=12,
                            brightness=25, contrast=0.3, grey=0.1),
            loss="wing", optimizer="adam", lr=0.002, lr_decay=0.96, weight_decay=1e-5, batch=32, epochs=100),
]}


class UnknownNet(ValueError):
    pass


def get(name):
    if name not in NETS:
        raise UnknownNet(f"unknown net {name!r}; choose from {', '.join(NETS)}")
    return NETS[name]


def load_model(path):
    """(model, normalization, ModelFile) from a model file written by train.py, ready for inference."""
    f = serialize.read(path)
    if f.arch not in NETS:
        raise serialize.ModelFileError(f"{path}: holds an unknown architecture {f.arch!r}")
    spec = NETS[f.arch]
    key = "outputs" if spec.task == "regress" else "classes"
    names, size = f.config.get(key), f.config.get("input_size")
    if not (isinstance(names, list) and names and all(isinstance(n, str) for n in names)):
        raise serialize.ModelFileError(f"{path}: its config names no {key}")
    if size != spec.input_size or isinstance(size, bool):
        raise serialize.ModelFileError(f"{path}: input_size {size!r}; a {f.arch} net reads {spec.input_size}")
    model = spec.build(np.random.default_rng(0), len(names))
    serialize.load_state(model, f.state, path)
    return model, _normalization(path, f.normalization, size), f


def _normalization(path, arrays, size):
    """The model file's input normalisation, checked: a mean and a positive std per channel or per pixel."""
    if set(arrays) != {"mean", "std"}:
        raise serialize.ModelFileError(f"{path}: its input normalisation holds {sorted(arrays)}, not mean and std")
    for name, a in arrays.items():
        try:
            np.broadcast_to(a, (3, size, size))
        except ValueError:
            raise serialize.ModelFileError(f"{path}: normalisation {name} of shape {a.shape} fits no (3, {size}, "
                                           f"{size}) input")
        if a.dtype.kind != "f" or not np.isfinite(a).all():
            raise serialize.ModelFileError(f"{path}: normalisation {name} holds values that are not finite numbers")
    if not (arrays["std"] > 0).all():
        raise serialize.ModelFileError(f"{path}: normalisation std holds values that are not above 0")
    return Normalization.from_arrays(arrays)
