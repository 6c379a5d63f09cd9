"""Face models and detectors built on nanonet: nets.load("face") or nets.load("anime") gives a ready detector,
nets.load("smile") and nets.load("emotion") nets that read face crops, nets.load("keypoints") a net that places
68 points on a face's frame."""
import inspect
import os

import numpy as np

from nanonet.backend import use_device
from nanonet.serialize import ModelFileError

WEIGHTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights")
CASCADE_STAGES = ("net12", "cal12", "net24", "cal24", "net48", "cal48")
# the nets that may take each stage's place: the slim 24- and 48-nets (net24s, net48s, cal48s) take the full ones'
# places
CASCADE_ARCHS = {stage: (stage,) for stage in CASCADE_STAGES} | {"net24": ("net24", "net24s"),
                                                                 "net48": ("net48", "net48s"),
                                                                 "cal48": ("cal48", "cal48s")}
SHIPPED = {"face": tuple(f"face-{name}.npz" for name in CASCADE_STAGES),   # the CNN cascade's six nets
           "anime": {"classifier": "anime.npz", "first_stage": "anime12.npz", "calibration": "anime-cal.npz",
                     "second_stage": "anime24.npz"},
           "smile": ("smile.npz",),
           "emotion": ("emotion.npz", "emotion-va.npz"),       # the classifier, valence and arousal
           "keypoints": ("keypoints.npz", "keypoints-fine.npz")}   # the frame net, the second look
DETECTORS = ("face", "anime")


def load(name="face", gpu=-1, **options):
    """A shipped model by name, or the model file that train.py wrote at path `name`:
    - "face" (the CNN cascade of Li et al.), "anime" (FrgNet64-slim behind a 12x12 first stage, a calibration
      net and a 24x24 second stage), or a face / non-face net's file (used alone): a detector, whose
      .detect(image) returns (boxes (K, 4) as x, y, w, h, scores (K,)); `options` go to CascadeDetector or
      SlidingWindowDetector (min_size, threshold, nms_iou, ...);
    - "smile", or any other classifier's file: .classes and .predict_proba(crops) (nets.readers);
    - "emotion": .classes, .predict_proba(crops) and .valence_arousal(crops);
    - "keypoints", or another keypoints net's file: .predict(frames), (N, 68, 2) points in each frame's pixels;
    - a regressor's file: .output_names and .predict(crops)."""
    from nets.detector import SlidingWindowDetector
    if name in SHIPPED:
        paths = [os.path.join(WEIGHTS, f) for f in shipped_files(name)]
        for path in paths:
            if not os.path.exists(path):
                raise ModelFileError(f"no trained '{name}' model is shipped: {path} is missing")
        if name == "face":
            return load_cascade(paths, gpu, **options)
        if name in ("smile", "emotion", "keypoints"):
            _no_options(name, options)
            from nets.expression import EmotionReader
            from nets.keypoints import Keypoints
            readers = [load_reader(path, gpu) for path in paths]
            return {"emotion": EmotionReader, "keypoints": Keypoints}.get(name, lambda reader: reader)(*readers)
    elif os.path.exists(name):
        paths = [name]
        if not _is_detector_net(name):
            _no_options(name, options)
            return load_reader(name, gpu)
    else:
        raise ModelFileError(f"{name}: neither a shipped model ({', '.join(SHIPPED)}) nor a model file")
    _check_options(SlidingWindowDetector, options, name)
    xp = use_device(gpu)
    roles = list(SHIPPED["anime"]) if name == "anime" else ["classifier"]
    return SlidingWindowDetector(**{role: _net(path, xp, "calibration" if role == "calibration" else "face")
                                    for role, path in zip(roles, paths)}, **options)


def shipped_files(name):
    """The file names of a shipped model's nets, in the order its detector or reader takes them."""
    files = SHIPPED[name]
    return list(files.values() if isinstance(files, dict) else files)


def load_cascade(paths, gpu=-1, **options):
    """A CascadeDetector from the model files of its first 2, 4 or all 6 nets, in CASCADE_STAGES order."""
    from nets.cascade_detector import CascadeDetector
    if len(paths) not in (2, 4, 6):
        raise ModelFileError(f"a cascade takes 2, 4 or 6 model files ({', '.join(CASCADE_STAGES)}), "
                             f"got {len(paths)}")
    _check_options(CascadeDetector, options, "face")
    xp = use_device(gpu)
    kinds = ["face" if name.startswith("net") else "calibration" for name in CASCADE_STAGES]
    return CascadeDetector(*[_net(path, xp, kind, stage) for path, kind, stage in zip(paths, kinds, CASCADE_STAGES)],
                           **options)


def load_reader(path, gpu=-1):
    """A CropClassifier, CropRegressor (nets.readers) or KeypointReader from a model file, on GPU `gpu` (-1:
    the CPU)."""
    from nets.keypoints import KeypointReader
    from nets.readers import CropClassifier, CropRegressor
    from nets.registry import get, load_model
    xp = use_device(gpu)
    model, normalization, f = load_model(path)
    if xp is not np:
        model.to_gpu()
    spec = get(f.arch)
    size = f.config["input_size"]
    if spec.points:
        margin = spec.augment.crop_points[0] if spec.augment.crop_points else None
        return KeypointReader(model, normalization, size, f.config["outputs"], spec.grey, margin)
    if spec.task == "regress":
        return CropRegressor(model, normalization, size, f.config["outputs"], spec.grey)
    return CropClassifier(model, normalization, size, f.config["classes"], spec.grey)


def _is_detector_net(path):
    """Whether a model file holds a face / non-face net (a detector's), rather than one reading face crops."""
    from nanonet.serialize import read
    classes = read(path).config.get("classes") or []
    return "face" in classes and len(classes) == 2


def _no_options(name, options):
    if options:
        raise ValueError(f"{name} reads face crops and takes no detector options ({', '.join(sorted(options))})")


def detector_settings(detector):
    """{setting: its default} of a detector class: its constructor's arguments but the nets."""
    from nets.detector import settings_names
    parameters = inspect.signature(detector).parameters
    return {name: parameters[name].default for name in settings_names(detector)}


def _check_options(detector, options, name):
    known = list(detector_settings(detector))
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValueError(f"the {name} detector has no option {', '.join(unknown)}; it takes {', '.join(known)}")


def _net(path, xp, kind, stage=None):
    """A Classifier ("face") or a calibration Net ("calibration") from a model file, on xp's device; with
    `stage` (one of CASCADE_STAGES), the file must hold a net that may take its place."""
    from nets.detector import Classifier, Net
    from nets.registry import load_model
    from nets.samples import CALIBRATION_CLASSES
    model, normalization, f = load_model(path)
    if stage and f.arch not in CASCADE_ARCHS[stage]:
        raise ModelFileError(f"{path}: holds a {f.arch} net where the cascade's files take a "
                             f"{' or '.join(CASCADE_ARCHS[stage])} net (in the order {', '.join(CASCADE_STAGES)})")
    classes = f.config["classes"]
    if kind == "face" and ("face" not in classes or len(classes) != 2):
        raise ModelFileError(f"{path}: not a face / non-face classifier ({f.arch}, classes {classes[:4]})")
    if kind == "calibration" and list(classes) != CALIBRATION_CLASSES:
        raise ModelFileError(f"{path}: not a calibration net of the 45 patterns ({f.arch})")
    if xp is not np:
        model.to_gpu()
    if kind == "face":
        return Classifier(model, normalization, classes.index("face"), f.config["input_size"])
    return Net(model, normalization, f.config["input_size"], len(classes))
