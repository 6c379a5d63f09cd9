"""Face models and detectors built on nanonet: nets.load("anime") gives a ready detector."""
import os

import numpy as np

from nanonet.backend import use_device
from nanonet.serialize import ModelFileError

WEIGHTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights")
SHIPPED = {"anime": ("anime.npz", "anime12.npz")}   # the classifier, then its first stage
DETECTORS = ("face", "anime")


def load(name="anime", gpu=-1, **options):
    """A detector: "anime" (FrgNet64-slim behind a 12x12 first stage), or the path of a model file that
    train.py wrote for a face / non-face net (used alone). `options` go to SlidingWindowDetector (min_size,
    threshold, nms_iou, scale_step, method, min_neighbors, proposal_threshold). Its .detect(image)
    returns (boxes (K, 4) as x, y, w, h, scores (K,))."""
    from nets.detector import SlidingWindowDetector
    if name == "face":
        raise ModelFileError("the 'face' detector (the CNN cascade of Li et al.) is not trained and shipped yet; "
                             "use --model anime or a model file")
    if name in SHIPPED:
        paths = [os.path.join(WEIGHTS, f) for f in SHIPPED[name]]
        for path in paths:
            if not os.path.exists(path):
                raise ModelFileError(f"no trained '{name}' model is shipped: {path} is missing")
    elif os.path.exists(name):
        paths = [name]
    else:
        raise ModelFileError(f"{name}: neither a detector ({', '.join(DETECTORS)}) nor a model file")
    xp = use_device(gpu)
    classifier, *first = [_classifier(path, xp) for path in paths]
    return SlidingWindowDetector(classifier, first[0] if first else None, **options)


def _classifier(path, xp):
    from nets.detector import Classifier
    from nets.registry import load_model
    model, normalization, f = load_model(path)
    if "face" not in f.config["classes"] or len(f.config["classes"]) != 2:
        raise ModelFileError(f"{path}: not a face / non-face classifier ({f.arch}, classes {f.config['classes']})")
    if xp is not np:
        model.to_gpu()
    return Classifier(model, normalization, f.config["classes"].index("face"), f.config["input_size"])
