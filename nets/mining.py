"""Hard negatives for the face / non-face nets: the windows that trained detectors wrongly accept, away from
every annotated face, in annotated photos or in scenes composed from a crop data set; kept in a
hard_negatives.npz so that a resumed or later run reads them rather than mining again."""
import os
import zipfile

import numpy as np

import nets
from nanonet import serialize
from nanonet.data.augment import cel_shaded
from nanonet.data.datasets import ArrayDataset, ConcatDataset, DataError
from nanonet.data.image import read_image
from nanonet.progress import Progress
from nets import samples
from nets.annotations import read_webfaces
from nets.scenes import compose_scenes

PHOTO_HOLDOUT = 0.1  # --negative-photos keeps clear of the images the face cascade holds out by default


def with_negatives(train_set, size, mine=None, cache=None, drop_faces=None, earlier=()):
    """train_set plus the non-face crops (N, size, size, 3) of `earlier` (the hard_negatives.npz files of
    other runs) and those that mine() returns; `cache` keeps the mined ones for --resume.
    drop_faces: "MODEL:P" leaves out the crops that the face / non-face model file MODEL scores P or more."""
    crops = [read_negatives(path, size) for path in earlier]
    if mine and cache and os.path.exists(cache):
        crops.append(read_negatives(cache, size))
    elif mine:
        crops.append(mine())
        _cache(cache, crops[-1])
    crops = np.concatenate(crops)
    if drop_faces:
        crops = without_faces(crops, drop_faces)
    labels = np.full(len(crops), 1 - train_set.classes.index("face"), dtype=np.int64)
    return ConcatDataset([train_set, ArrayDataset(crops, labels, train_set.classes)])


def read_negatives(path, size):
    """uint8 crops (N, size, size, 3) from a hard_negatives.npz that train.py wrote."""
    try:
        with np.load(path, allow_pickle=False) as f:
            crops = f["crops"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"{path}: not a hard_negatives.npz of train.py ({e})")
    if crops.dtype != np.uint8 or crops.ndim != 4 or crops.shape[1:] != (size, size, 3):
        raise DataError(f"{path}: expected uint8 crops (N, {size}, {size}, 3), got {crops.dtype} {crops.shape}")
    print(f"{len(crops)} hard negatives from {path}")
    return crops


def without_faces(crops, spec):
    """crops less those that the model file in spec ("MODEL:P") scores P or more as a face: windows away from
    every annotated face can still hold a face that the annotations miss."""
    path, _, p = spec.rpartition(":")
    try:
        threshold = float(p)
    except ValueError:
        raise DataError(f"--drop-faces {spec}: expected MODEL:P, P a probability")
    detector = nets.load(path)
    if len(crops) and crops.shape[1] != detector.classifier.window:
        raise DataError(f"--drop-faces: {path} scores {detector.classifier.window}-pixel crops, "
                        f"the hard negatives are {crops.shape[1]}")
    kept = crops[detector.predict_proba(crops) < threshold]
    print(f"dropped {len(crops) - len(kept)} hard negatives that {path} scores {threshold} or more as a face")
    return kept


def cascade_negatives(model_paths, images, size, seed, per_image, threshold=None):
    """Crops of the windows that the cascade's earlier stages (model_paths: net12,cal12[,net24,cal24])
    accept in the training images away from every annotated face, at most per_image of each image.
    threshold: the last mined stage's (default: the detector's own)."""
    last = "threshold12" if len(model_paths) == 2 else "threshold24"
    detector = nets.load_cascade(model_paths, **({} if threshold is None else {last: threshold}))
    rng = np.random.default_rng([seed, 2])
    bar = Progress(len(images), "mining hard negatives", unit="image")

    def propose(image):
        bar.update(1)
        windows = detector.detect(image)[0]
        return windows[np.sort(rng.permutation(len(windows))[:per_image])]
    crops = samples.hard_negatives(((read_image(a.path), a.boxes) for a in images), propose, size)
    bar.close()
    print(f"mined {len(crops)} hard negatives with {len(model_paths) // 2} cascade stages in {len(images)} images")
    return crops


def scene_negatives(train_set, models, size, seed, scenes, misframed=0, photos=(), per_photo=20, stages=None,
                    cel=False):
    """Crops that the detector of any of `models` (model files, or a shipped detector's name; its first
    `stages` stages, for a later stage's net) wrongly accepts in scenes composed from train_set's own crops
    (so the validation images stay unseen), and `misframed`
    windows about each face of those scenes that cut it badly (IoU 0.1-0.4). `photos` (Annotated) are mined
    too, at most per_photo windows each, away from every annotated face: hands, clothing and bodies, which
    a crop data set of faces and plain backgrounds lacks. With `cel`, the photos are mined once more, cel-shaded
    (flat colours, dark outlines): collars, bows and hands drawn as illustrations draw them."""
    composed = compose_scenes(train_set, scenes, np.random.default_rng([seed, 1]),
                              face_class=train_set.classes.index("face"))
    rng = np.random.default_rng([seed, 2])
    crops = []
    for model in models:
        try:
            detector = nets.load(model, threshold=0.5, nms_iou=0.5, **({"stages": stages} if stages else {}))
        except ValueError as e:
            raise DataError(f"--hard-negatives {model}: {e}")
        for name, source, count, cap in (("composed scenes", composed, scenes, None),
                                         ("photographs", ((read_image(a.path), a.boxes) for a in photos),
                                          len(photos), per_photo),
                                         ("cel-shaded photographs",
                                          ((cel_shaded(read_image(a.path)), a.boxes) for a in photos),
                                          len(photos) if cel else 0, per_photo)):
            if not count:
                continue
            bar = Progress(count, "mining hard negatives", unit="image")

            def propose(image):
                bar.update(1)
                windows = detector.detect(image)[0]
                return windows if cap is None else windows[np.sort(rng.permutation(len(windows))[:cap])]
            crops.append(samples.hard_negatives(source, propose, size))
            bar.close()
            print(f"mined {len(crops[-1])} hard negatives with {model} in {count} {name}")
    if misframed:
        crops.append(samples.misframed_negatives(composed, np.random.default_rng([seed, 3]), misframed, size))
        print(f"cut {len(crops[-1])} misframed windows about the faces of {scenes} composed scenes")
    return np.concatenate(crops)


def negative_photos(folder, count):
    """The first `count` training images (Annotated) of a WebFaces folder, or none without a folder."""
    if not folder:
        return []
    return samples.split_images(read_webfaces(folder), PHOTO_HOLDOUT)[0][:count]


def _cache(path, crops):
    if path:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        serialize.atomic_write(path, lambda f: np.savez(f, crops=crops))
