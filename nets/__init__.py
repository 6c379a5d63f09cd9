"""Face models and detectors built on nanonet: nets.load("anime") gives a ready detector."""
import os

import numpy as np

from nanonet.backend import use_device
from nanonet.serialize import ModelFileError

WEIGHTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights")
SHIPPED = {"anime": "anime.npz"}
DETECTORS = ("face", "anime")


def load(name="anime", gpu=-1, **options):
    """A detector: "anime" (FrgNet64-slim, sliding windows), or the path of a model file that train.py
    wrote for a 64x64 face / non-face net. `options` go to SlidingWindowDetector (min_size, threshold,
    nms_iou, scale_step, method). Its .detect(image) returns (boxes (K, 4) as x, y, w, h, scores (K,))."""
    from nets.detector import SlidingWindowDetector
    from nets.registry import load_model
    if name == "face":
        raise ModelFileError("the 'face' detector (the CNN cascade of Li et al.) is not trained and shipped yet; "
                             "use --model anime or a model file")
    if name in SHIPPED:
        path = os.path.join(WEIGHTS, SHIPPED[name])
        if not os.path.exists(path):
            raise ModelFileError(f"no trained '{name}' model is shipped: {path} is missing")
    elif os.path.exists(name):
        path = name
    else:
        raise ModelFileError(f"{name}: neither a detector ({', '.join(DETECTORS)}) nor a model file")
    model, normalization, f = load_model(path)
    if f.config.get("input_size") != SlidingWindowDetector.window or "face" not in f.config["classes"]:
        raise ModelFileError(f"{path}: not a 64x64 face / non-face classifier ({f.arch}, classes {f.config['classes']})")
    if use_device(gpu) is not np:
        model.to_gpu()
    return SlidingWindowDetector(model, normalization, face_class=f.config["classes"].index("face"), **options)
