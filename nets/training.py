"""A training run of a registered net, as train.py's options describe it: its data sets (class folders,
crops cut about annotated faces, composed scenes or keypoints, with their hard negatives), the net (random,
resumed, or from --init's weights), its input normalisation, and the Trainer that runs it. train.py is the
command line over these functions; tests and nets.keypoints.train_detector call them directly."""
import copy
import dataclasses
import datetime
import functools
import math
import os
import shlex

import numpy as np

import nanonet
from nanonet import monitor, optim, serialize
from nanonet.backend import use_device
from nanonet.cli import Parser
from nanonet.data.augment import Augment
from nanonet.data.datasets import ArrayDataset, DataError, InMemory, TargetDataset, open_dataset, split_by_name
from nanonet.data.image import ImageError
from nanonet.data.iterator import BatchIterator
from nanonet.data.normalize import Normalization
from nanonet.losses import accuracy, mean_squared_error, softmax_cross_entropy, wing
from nanonet.training import Trainer
from nets import registry, samples
from nets.annotations import Annotated, landmarks_box, read_webfaces, readable
from nets.keypoints import point_names, read_data
from nets.mining import cascade_negatives, negative_photos, scene_negatives, with_negatives
from nets.scenes import scene_chunks

FAST_BATCHES = 2
WORKERS = min(8, os.cpu_count() or 1)  # threads that decode and augment training images
IN_MEMORY_BYTES = 2 << 30  # crop data sets up to this size are decoded once, not every epoch
FAST_IMAGES = 8  # annotated images a --fast run cuts its detection samples from


def classification_sets(path, val, group=None):
    """(train, val) datasets from a folder, .zip or list file, with --val a path or a fraction (of whole
    groups, with `group`)."""
    data = open_dataset(path)
    try:
        fraction = float(val)
    except ValueError:
        try:
            return data, open_dataset(val)
        except DataError:
            raise DataError(f"--val {val}: neither a data set nor a fraction")
    return split_by_name(data, fraction, group)


def points_sets(path, val, group=None):
    """(train, val) datasets of images with keypoints: `path` a folder holding images/ and keypoints.csv
    (file,x0,y0,...), --val a fraction (of whole groups, with `group`) or another such folder."""
    if os.path.isdir(val):
        return read_data(path), read_data(val)
    return split_by_name(read_data(path), _fraction(val), group)


def in_memory(dataset, skip_bad=False):
    """`dataset` decoded into memory if it fits IN_MEMORY_BYTES (judged by its first image), else as it is.
    Decoded, an image that cannot be read stops the run now (not an epoch later), unless skip_bad."""
    try:
        first = dataset.image(0)
    except ImageError:
        if skip_bad:
            return dataset
        raise
    if first.nbytes * len(dataset) > IN_MEMORY_BYTES:
        return dataset
    decoded = InMemory(dataset, WORKERS)
    bad = [image for image in decoded.images if isinstance(image, ImageError)]
    if bad and not skip_bad:
        raise bad[0]
    return decoded


def detection_sets(spec, path, val, seed, fast, skip_bad=False, faces_from=None, occlude=0.0):
    """(train, val) crops for a cascade net, cut from annotated images held apart by file name, and the
    training images (Annotated); with skip_bad, images that cannot be decoded are left out with a warning.
    faces_from: a keypoints data set whose training people's faces join the training images (landmark_faces).
    occlude: the share of training images that the net also learns with their faces partly covered
    (samples.occluded_copies); the images returned, for mining, are the originals alone."""
    images = read_webfaces(path)
    train_images, val_images = (images, read_webfaces(val)) if os.path.exists(val) else \
        samples.split_images(images, _fraction(val))
    if fast:
        train_images, val_images = train_images[:FAST_IMAGES], val_images[:FAST_IMAGES]
    if faces_from:
        train_images = train_images + landmark_faces(faces_from)[:FAST_IMAGES if fast else None]
    if skip_bad:
        train_images, val_images = readable(train_images, WORKERS), readable(val_images, WORKERS)
    if spec.samples == "faces":
        classes = samples.FACE_CLASSES
        make = lambda ims, rng: samples.face_samples(ims, rng, spec.per_face, spec.jitter)  # noqa: E731
    else:
        classes = samples.CALIBRATION_CLASSES
        make = lambda ims, rng: calibration_samples(spec, ims, rng)  # noqa: E731
    rng = np.random.default_rng(seed)
    learnt = train_images + samples.occluded_copies(train_images, occlude, seed) if occlude else train_images
    train, val = (samples.materialize(ims, make(ims, rng), spec.input_size, classes)
                  for ims in (learnt, val_images))
    return train, val, train_images


def landmark_faces(path, held_out=False):
    """The frames of a 68-point keypoints data set (YouTube-68's layout: images/ and keypoints.csv) as annotated
    faces, boxed by WebFaces' rule (annotations.landmarks_box): those of the people that the keypoints nets
    train on, or with `held_out` those of the people they hold out, whom no net sees (a benchmark's)."""
    keypoints = registry.NETS["keypoints"]
    train, val = points_sets(path, keypoints.val, keypoints.group)
    frames = val if held_out else train
    return [Annotated(frames.name(i), landmarks_box(points)[None], points[None])
            for i, points in enumerate(frames.keypoints)]


def calibration_samples(spec, images, rng):
    """spec.per_face of the 45 patterns about each face, and spec.displaced windows beyond them."""
    return (samples.calibration_samples(images, rng, spec.per_face) +
            samples.displaced_calibration_samples(images, rng, spec.displaced))


def scene_sets(spec, path, val, seed, fast):
    """(train, val) calibration crops cut about the faces of scenes composed from a crop data set's training
    and validation crops apart (spec.scenes scenes, and a tenth as many), and no training images."""
    sets = []
    for k, crops in enumerate(classification_sets(path, val)):
        if "face" not in crops.classes:
            raise DataError(f"{path}: composing scenes needs a 'face' class, not {crops.classes}")
        count = FAST_IMAGES if fast else max(spec.scenes // (10 if k else 1), 1)
        rng = np.random.default_rng([seed, 4, k])
        parts = []
        for scenes in scene_chunks(crops, count, rng, face_class=crops.classes.index("face")):
            windows = calibration_samples(spec, scenes, rng)
            parts.append(samples.materialize(scenes, windows, spec.input_size, samples.CALIBRATION_CLASSES,
                                             load=lambda scene: scene.image))
        sets.append(ArrayDataset(np.concatenate([p.images for p in parts]), np.concatenate([p.labels for p in parts]),
                                 samples.CALIBRATION_CLASSES))
    return (*sets, None)


def varied(augment, **settings):
    """A copy of `augment` with `settings` (shift, scale, brightness, ...) in place of its own."""
    copied = copy.copy(augment)
    for name, value in settings.items():
        setattr(copied, name, value)
    return copied


def check_out(out):
    """DataError now, before any work, if the run folder `out` cannot be made or written."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise DataError(f"--out {out}: not a folder")
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        raise DataError(f"--out {out}: cannot make the folder ({e.strerror or e})")
    if not os.access(out, os.W_OK):
        raise DataError(f"--out {out}: the folder cannot be written")


def check_resumable(checkpoint, settings, seed):
    """DataError if --resume's settings differ from those the run began with (all but --epochs, which may
    grow): another batch, seed or optimizer would silently continue to other weights."""
    meta = serialize.read(checkpoint).meta
    began = {**meta.get("settings", {}), "seed": meta.get("seed")}
    now = {**settings, "seed": seed}
    changed = [k for k in now if k != "epochs" and k in began and began[k] != now[k]]
    if changed:
        began_with = ", ".join(f"--{k.replace('_', '-')} {began[k]}" for k in changed)
        raise DataError(f"--resume: the run began with {began_with}; resume with the same, or start a new run in "
                        "another --out")


def initial_weights(path, spec, config, model):
    """The ModelFile that --init names, checked to hold `spec`'s net with the same outputs (`config`), or its
    base net (a classifier whose last layer a regressor replaces); its weights are copied into `model`."""
    start = serialize.read(path)
    if start.arch not in (spec.name, spec.base):
        raise DataError(f"--init {path}: holds a {start.arch!r} net, not {spec.name!r}"
                        + (f" or {spec.base!r}" if spec.base else ""))
    if not start.normalization:
        raise DataError(f"--init {path}: holds no input normalisation")
    state = start.state
    if start.arch == spec.name:
        key = "outputs" if spec.task == "regress" else "classes"
        if list(start.config.get(key, [])) != config[key]:
            raise DataError(f"--init {path}: {key} {start.config.get(key)} differ from the data's {config[key]}")
    else:      # every layer of the base net but the last, which the new net replaces
        head = f"{len(model) - 1}/"
        state = {**model.state(), **{k: v for k, v in start.state.items() if not k.startswith(head)}}
    serialize.load_state(model, state, f"--init {path}")
    return start


def with_targets(spec, dataset, seed):
    """`dataset` (class folders) with each sample's regression target: its class's spec.class_targets,
    plus uniform noise in +-spec.target_noise drawn once per sample from `seed`."""
    missing = [c for c in dataset.classes if c not in spec.class_targets]
    if missing:
        raise DataError(f"{spec.name} has no target for class {', '.join(missing)}; it knows "
                        f"{', '.join(spec.class_targets)}")
    table = np.array([spec.class_targets[c] for c in dataset.classes], dtype=np.float32)
    noise = np.random.default_rng(seed).uniform(-spec.target_noise, spec.target_noise, (len(dataset), table.shape[1]))
    return TargetDataset(dataset, table[dataset.labels] + noise)


REGRESSION_LOSSES = {"mse": mean_squared_error, "wing": wing}


def task_loss(spec, settings, train_set, xp):
    """(loss, metric) for the net's task: the settings' regression loss, or softmax cross-entropy (its classes
    weighed by (1 / frequency) ** spec.class_weighting, scaled to a mean weight of 1) with accuracy."""
    if spec.task == "regress":
        return REGRESSION_LOSSES[settings["loss"]], None
    if not spec.class_weighting:
        return softmax_cross_entropy, accuracy
    counts = np.bincount(train_set.labels, minlength=len(train_set.classes)).astype(np.float64)
    weights = (1 / np.maximum(counts, 1)) ** spec.class_weighting
    weights *= len(weights) / weights.sum()
    return functools.partial(softmax_cross_entropy, weights=xp.asarray(weights, np.float32)), accuracy


def _fraction(val):
    try:
        return float(val)
    except ValueError:
        raise DataError(f"--val {val}: neither a data path nor a fraction")


def parse_args(argv, description=None):
    p = Parser(description=description)
    p.add_argument("--net", required=True,
                   help=f"one of: {', '.join(registry.NETS)}; or cascade, for the six cascade nets in turn")
    p.add_argument("--data", help="folder of class folders, .zip of them, or list file (default: the net's own)")
    p.add_argument("--val", help="validation data path, or the fraction of --data to hold out (default: the "
                                 "net's own, most often 0.1)")
    p.add_argument("--gpu", type=int, default=-1, metavar="N", help="GPU number, -1 for the CPU (default)")
    p.add_argument("--epochs", type=int, help="epochs to train (default: the net's own)")
    p.add_argument("--batch", type=int, help="images a step (default: the net's own)")
    p.add_argument("--lr", type=float, help="learning rate (default: the net's own)")
    p.add_argument("--momentum", type=float, help="momentum, for momentum and nesterov (default: the net's own)")
    p.add_argument("--weight-decay", type=float, help="L2 weight decay (default: the net's own)")
    p.add_argument("--lr-decay", type=float,
                   help="multiply lr and weight decay by this each epoch (default: the net's own)")
    p.add_argument("--optimizer", choices=sorted(optim.OPTIMIZERS), help="(default: the net's own)")
    p.add_argument("--loss", choices=sorted(REGRESSION_LOSSES),
                   help="a regressor's loss: mean squared error, or the wing loss (default: the net's own)")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights, the data's order and the augmentation")
    p.add_argument("--out", help="run folder (default: runs/NET)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last.npz")
    p.add_argument("--init", metavar="MODEL",
                   help="start from the weights and input normalisation of MODEL, a model file of the same net, or "
                        "of the classifier a regressor is fine-tuned from (all but its last layer), rather than "
                        "from random weights")
    p.add_argument("--fast", action="store_true",
                   help="smoke test: CPU, a couple of batches and one validation, nothing written")
    p.add_argument("--skip-bad", action="store_true", help="skip unreadable images with a warning")
    p.add_argument("--faces-from", metavar="DIR",
                   help="the cascade's nets: also learn the faces of a 68-point keypoints data set (images/ and "
                        "keypoints.csv, as YouTube-68's), boxed by WebFaces' rule from their eyes, nose and mouth; "
                        "the people that the keypoints nets hold out are left out")
    p.add_argument("--occlude", type=float, default=0.0, metavar="F",
                   help="the cascade's nets: a share F of the training images (with face points) is learnt twice, "
                        "the second time with each face partly covered by a face mask, scarf, hand or microphone "
                        "painted from its points (default 0)")
    p.add_argument("--hard-negatives", metavar="MODEL[,MODEL...]",
                   help="add as non-faces the windows that trained models (files, or a shipped detector's name) "
                        "wrongly accept in composed scenes; "
                        "for the cascade's 24- and 48-nets, the earlier stages' model files (net12,cal12[,net24,"
                        "cal24]), which are run over the training images")
    p.add_argument("--negatives", metavar="FILE[,FILE...]",
                   help="add as non-faces the hard negatives that other runs mined (their hard_negatives.npz), "
                        "before this run's own")
    p.add_argument("--mine-scenes", type=int, default=400, help="composed scenes to mine (default 400)")
    p.add_argument("--negative-photos", metavar="DIR",
                   help="scene mining: also mine the training images of an annotated face data set (WebFaces: "
                        "annotations.csv and images/; the cascade's split, a tenth held out by file name) away "
                        "from every annotated face, at most --mine-per-image windows each")
    p.add_argument("--mine-photos", type=int, default=1000, help="--negative-photos images to mine (default 1000)")
    p.add_argument("--cel-shaded", action="store_true",
                   help="mine the --negative-photos images once more, each drawn cel-shaded (flat colours, dark "
                        "outlines): clothing and hands as illustrations draw them")
    p.add_argument("--misframed", type=int, default=0, metavar="K",
                   help="scene mining: also K windows about each face that cut it badly (IoU 0.1-0.4), as "
                        "non-faces (default 0)")
    p.add_argument("--jitter", type=float, metavar="F",
                   help="move and rescale faces by up to F of their side: the boxes cut from an annotated data set "
                        "(default: the net's own), or every training crop of a crop data set (default 0)")
    p.add_argument("--brightness", type=float, default=0.0, metavar="B",
                   help="shift each training crop's brightness by up to B (in 0..255 units; default 0)")
    p.add_argument("--contrast", type=float, default=0.0, metavar="C",
                   help="scale each training crop's contrast by 1 +- up to C (default 0)")
    p.add_argument("--grey", type=float, default=0.0, metavar="P",
                   help="turn each training crop grey with probability P (default 0)")
    p.add_argument("--mine-per-image", type=int, default=20,
                   help="cascade and photo mining: hard negatives kept from each image (default 20)")
    p.add_argument("--mine-threshold", type=float, metavar="P",
                   help="cascade mining: the last mined stage's threshold (default: the detector's)")
    p.add_argument("--mine-stages", type=int, metavar="K",
                   help="scene mining: run only the first K stages of each detector, so that a later stage's net "
                        "learns the windows it will judge (default: all)")
    p.add_argument("--drop-faces", metavar="MODEL:P",
                   help="leave out the hard negatives that the model file MODEL scores P or more as a face "
                        "(faces the annotations miss)")
    p.add_argument("--monitor", type=int, nargs="?", const=monitor.PORT, metavar="PORT",
                   help=f"serve the live monitor of the runs beside --out on 127.0.0.1:PORT (default {monitor.PORT})")
    args = p.parse_args(argv)
    problem = settings_problem(args)
    if problem:
        p.error(problem)
    return args


def settings_problem(args):
    """Why a numeric option means nothing (a batch of 0, a NaN learning rate, ...), or None."""
    checks = [("--epochs", args.epochs, lambda v: v >= 1, "at least 1"),
              ("--batch", args.batch, lambda v: v >= 1, "at least 1"),
              ("--lr", args.lr, lambda v: 0 < v <= 10, "above 0 (and at most 10)"),
              ("--momentum", args.momentum, lambda v: 0 <= v < 1, "from 0 to below 1"),
              ("--weight-decay", args.weight_decay, lambda v: 0 <= v < 1, "from 0 to below 1"),
              ("--lr-decay", args.lr_decay, lambda v: 0 < v <= 1, "above 0 and at most 1"),
              ("--grey", args.grey, lambda v: 0 <= v <= 1, "a probability, from 0 to 1"),
              ("--brightness", args.brightness, lambda v: 0 <= v <= 255, "from 0 to 255"),
              ("--contrast", args.contrast, lambda v: 0 <= v < 1, "from 0 to below 1"),
              ("--jitter", args.jitter, lambda v: 0 <= v < 1, "from 0 to below 1"),
              ("--occlude", args.occlude, lambda v: 0 <= v <= 1, "a share, from 0 to 1"),
              ("--mine-scenes", args.mine_scenes, lambda v: v >= 1, "at least 1"),
              ("--mine-photos", args.mine_photos, lambda v: v >= 1, "at least 1"),
              ("--mine-per-image", args.mine_per_image, lambda v: v >= 1, "at least 1"),
              ("--mine-threshold", args.mine_threshold, lambda v: 0 <= v <= 1, "a probability, from 0 to 1"),
              ("--mine-stages", args.mine_stages, lambda v: v >= 1, "at least 1"),
              ("--misframed", args.misframed, lambda v: v >= 0, "0 or more"),
              ("--monitor", args.monitor, lambda v: 0 <= v <= 65535, "a port, from 0 to 65535")]
    for flag, value, good, wanted in checks:
        if value is not None and not (math.isfinite(value) and good(value)):
            return f"{flag} {value}: must be {wanted}"
    if args.monitor is not None and args.fast:
        return "--monitor: --fast writes no run to watch"
    return None


def build_optimizer(name, lr, momentum, weight_decay):
    cls = optim.OPTIMIZERS[name]
    if name in ("momentum", "nesterov"):
        return cls(lr=lr, momentum=momentum, weight_decay=weight_decay)
    return cls(lr=lr, weight_decay=weight_decay)


def effective_spec(args):
    """The net's spec with the command line's augmentation in place of its own, and the run's settings."""
    spec = registry.get(args.net)
    if args.jitter is not None:
        jittered = varied(spec.augment, shift=args.jitter, scale=args.jitter)
        spec = dataclasses.replace(spec, jitter=args.jitter, augment=spec.augment if spec.samples else jittered)
    if args.brightness or args.contrast or args.grey:
        photometric = varied(spec.augment, brightness=args.brightness, contrast=args.contrast, grey=args.grey)
        spec = dataclasses.replace(spec, augment=photometric)
    names = ("epochs", "batch", "lr", "momentum", "weight_decay", "lr_decay", "optimizer")
    if spec.task == "regress":
        names += ("loss",)
    elif args.loss:
        raise DataError(f"--loss {args.loss}: {spec.name} is a classifier, trained with cross-entropy")
    settings = {k: getattr(args, k) if getattr(args, k) is not None else getattr(spec, k) for k in names}
    return spec, settings


def run_folder(args, settings):
    """(run folder, its last.npz), or (None, None) for --fast: checked before any work is done."""
    if args.fast:
        if args.resume:
            raise DataError("--resume: no checkpoint (--fast writes none) to continue from")
        return None, None
    out = args.out or os.path.join("runs", args.net)
    checkpoint = os.path.join(out, "last.npz")
    if not args.resume and os.path.exists(checkpoint):
        raise DataError(f"{out} already holds a run; pass --resume to continue it, or choose another --out")
    if args.resume and not os.path.exists(checkpoint):
        raise DataError(f"--resume: no {checkpoint} to continue from")
    check_out(out)
    if args.resume:
        check_resumable(checkpoint, settings, args.seed)
    return out, checkpoint


def data_sets(spec, args, data_path, out):
    """(train, val) data sets of the net's task: crops cut about annotated or composed faces, or class
    folders (with regression targets), the hard negatives that the options ask for joined to the training
    set."""
    train_images = None
    if spec.samples and spec.scenes:
        train_set, val_set, train_images = scene_sets(spec, data_path, args.val, args.seed, args.fast)
    elif spec.samples:
        train_set, val_set, train_images = detection_sets(spec, data_path, args.val, args.seed, args.fast,
                                                          args.skip_bad, args.faces_from, args.occlude)
    else:
        sets = points_sets if spec.points else classification_sets
        train_set, val_set = sets(data_path, args.val, spec.group)
        if not args.fast:
            train_set, val_set = in_memory(train_set, args.skip_bad), in_memory(val_set, args.skip_bad)
        if spec.task == "regress" and not spec.points:
            train_set = with_targets(spec, train_set, args.seed)
            val_set = with_targets(spec, val_set, args.seed + 1)
    if args.hard_negatives or args.negatives:
        train_set = with_negatives(train_set, spec.input_size, miner(spec, args, train_set, train_images),
                                   out and os.path.join(out, "hard_negatives.npz"), args.drop_faces,
                                   args.negatives.split(",") if args.negatives else ())
    if list(val_set.classes) != list(train_set.classes):
        raise DataError(f"validation classes {val_set.classes} differ from training classes {train_set.classes}")
    if len(train_set) == 0 or len(val_set) == 0:
        raise DataError(f"{data_path}: {len(train_set)} training and {len(val_set)} validation samples; "
                        "need some of each")
    return train_set, val_set


def check_data_options(spec, args):
    """DataError for data options (mining, --faces-from, --occlude) that do not go together, or not with this net."""
    for flag, given in (("--faces-from", args.faces_from), ("--occlude", args.occlude)):
        if given and not (spec.samples and not spec.scenes):
            raise DataError(f"{flag} is for the cascade's nets, which learn annotated faces; {spec.name} learns from "
                            f"{'composed scenes' if spec.scenes else 'its data set alone'}")
    if args.drop_faces and not (args.hard_negatives or args.negatives):
        raise DataError("--drop-faces filters the hard negatives: give --hard-negatives or --negatives too")
    if args.negative_photos and (spec.samples or not args.hard_negatives):
        raise DataError("--negative-photos adds to the mining of composed scenes: give --hard-negatives, "
                        "for a net trained on crops")
    if args.cel_shaded and not args.negative_photos:
        raise DataError("--cel-shaded draws the --negative-photos images anew: give --negative-photos too")
    if args.misframed and (spec.samples or not args.hard_negatives):
        raise DataError("--misframed cuts windows in the scenes composed for mining: give --hard-negatives, "
                        "for a net trained on crops")


def miner(spec, args, train_set, train_images):
    """The function that mines --hard-negatives for this net (None for --negatives alone)."""
    option = "--hard-negatives" if args.hard_negatives else "--negatives"
    if spec.samples == "calibration":
        raise DataError(f"{option}: {args.net} is a calibration net; it learns from faces alone")
    if "face" not in train_set.classes or len(train_set.classes) != 2:
        raise DataError(f"{option} needs face / non-face data, not classes {train_set.classes}")
    if not args.hard_negatives:
        return None
    if spec.samples:
        return functools.partial(cascade_negatives, args.hard_negatives.split(","), train_images,
                                 spec.input_size, args.seed, args.mine_per_image, args.mine_threshold)
    photos = negative_photos(args.negative_photos, FAST_IMAGES if args.fast else args.mine_photos)
    return functools.partial(scene_negatives, train_set, args.hard_negatives.split(","), spec.input_size,
                             args.seed, 2 if args.fast else args.mine_scenes, args.misframed, photos,
                             args.mine_per_image, args.mine_stages, args.cel_shaded)


def plain_framing(spec):
    """The augmentation that validation images (and those the normalisation is fitted on) get: none, or for a
    net reading crops about the keypoints, that crop without its jitter."""
    if not spec.augment.crop_points:
        return None
    return Augment(crop_points=(spec.augment.crop_points[0], 0.0, 0.0))


def input_normalization(spec, args, train_set, batch, checkpoint, start, skipped):
    """The checkpoint's normalisation when resuming, --init's when fine-tuning, else one fitted on the training
    images (a couple of batches with --fast); unreadable images are added to `skipped`."""
    if args.resume:
        return Normalization.from_arrays(serialize.read(checkpoint).normalization)
    if start:
        return Normalization.from_arrays(start.normalization)
    loader = BatchIterator(train_set, batch, spec.input_size, None, plain_framing(spec), skip_bad=args.skip_bad,
                           shuffle=False, skipped=skipped)
    count = min(FAST_BATCHES * batch if args.fast else len(train_set), len(train_set))
    return Normalization.fit((im for im in (loader.load(i, 0) for i in range(count)) if im is not None),
                             spec.normalization)


def make_trainer(spec, args, argv, settings, train_set, val_set, data_path, out, checkpoint):
    """The Trainer of the run: the net (from --init's weights, or resumed), its batches, optimizer and loss."""
    classes = list(train_set.classes)
    config = {"outputs": list(spec.outputs)} if spec.task == "regress" else {"classes": classes}
    config["input_size"] = size = spec.input_size
    batch = settings["batch"]
    model = spec.build(np.random.default_rng(args.seed), len(spec.outputs) or len(classes))
    start = initial_weights(args.init, spec, config, model) if args.init else None
    skipped = set()     # each unreadable training image is warned of once
    normalization = input_normalization(spec, args, train_set, batch, checkpoint, start, skipped)
    train = BatchIterator(train_set, batch, size, normalization, spec.augment, seed=args.seed,
                          prefetch=not args.fast, skip_bad=args.skip_bad, workers=1 if args.fast else WORKERS,
                          skipped=skipped)
    val = BatchIterator(val_set, batch, size, normalization, plain_framing(spec), shuffle=False,
                        prefetch=not args.fast, skip_bad=args.skip_bad)
    xp = use_device(-1 if args.fast else args.gpu)
    if xp is not np:
        model.to_gpu()
    optimizer = build_optimizer(settings["optimizer"], settings["lr"], settings["momentum"],
                                settings["weight_decay"]).setup(model)
    meta = {"command": "python train.py " + shlex.join(argv), "data": os.path.abspath(data_path),
            "val": args.val, "train_images": len(train_set), "val_images": len(val_set), "seed": args.seed,
            "settings": settings,
            "samples": {"per_face": spec.per_face, "displaced": spec.displaced, "jitter": spec.jitter},
            "nanonet": nanonet.__version__, "numpy": np.__version__,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    save = {"arch": args.net, "config": config, "normalization": normalization.arrays(), "meta": meta}
    loss, metric = task_loss(spec, settings, train_set, xp)
    trainer = Trainer(model, optimizer, train, val, 1 if args.fast else settings["epochs"], save, out_dir=out,
                      xp=xp, loss=loss, metric=metric, schedule=optim.ExponentialDecay(settings["lr_decay"]),
                      max_batches=FAST_BATCHES if args.fast else None)
    if args.resume:
        trainer.resume(checkpoint)
        print(f"resuming {checkpoint} at epoch {trainer.epoch + 1}, batch {trainer.batch}")
    return trainer


def for_points(spec, train_set, val_set):
    """`spec` for the data's number of keypoints: its outputs x0, y0, x1, ...; without flips where its table of
    left and right points does not fit them (a 14-point set, for a net registered with 68)."""
    points = train_set.keypoints.shape[1]
    if val_set.keypoints.shape[1] != points:
        raise DataError(f"validation images have {val_set.keypoints.shape[1]} keypoints, training images {points}")
    augment = spec.augment
    if augment.flip and any(max(pair) >= points for pair in augment.flip_pairs):
        print(f"note: {spec.name} mirrors faces by a table of {spec.name}'s own points, not these {points}; "
              "no flips")
        augment = varied(augment, flip=False)
    return dataclasses.replace(spec, outputs=point_names(points), augment=augment)


def prepare(spec, settings, args, argv, out, checkpoint, sets=None):
    """The Trainer of the run that `args` ask for (out and checkpoint from run_folder): its data sets read
    (or `sets`, (train, val), in their place), its net built, resumed or started from --init."""
    use_device(-1 if args.fast else args.gpu)       # a missing GPU is said before the data is read
    check_data_options(spec, args)
    data_path, args.val = args.data or spec.data, args.val or ("0.1" if args.data else spec.val)
    train_set, val_set = sets or data_sets(spec, args, data_path, out)
    if spec.points:
        spec = for_points(spec, train_set, val_set)
    classes, outputs = list(train_set.classes), list(spec.outputs)
    print(f"{args.net}: {len(train_set)} training and {len(val_set)} validation samples, "
          + (f"{len(outputs)} targets ({', '.join(outputs[:4])}{', ...' if len(outputs) > 4 else ''})"
             if spec.task == "regress" else
             f"{len(classes)} classes ({', '.join(classes[:4])}{', ...' if len(classes) > 4 else ''})"))
    return make_trainer(spec, args, argv, settings, train_set, val_set, data_path, out, checkpoint)
