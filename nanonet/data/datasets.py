"""Labelled image datasets: a folder per class (on disk or inside a .zip), a list file, arrays, or a folder of
images with a table of their keypoints.

Every dataset gives len(), `labels` (int array), `classes` (names, label i is classes[i]), `name(i)` (the
file, for error messages), `key(i)` (the file relative to the data set, for splitting) and `image(i)`: a
uint8 (H, W, 3) array, grey repeated to three channels.
A TargetDataset adds `targets`, real-valued (N, D), for regression; a PointsDataset `keypoints` (N, P, 2) in
each image's pixels, which augmentation moves with the image.
Problems found while listing (an empty class, a label out of range, a listed file that is missing) raise
DataError naming the file; an image that cannot be decoded raises ImageError naming it when it is read.
"""
import concurrent.futures
import csv
import io
import zlib
import os
import threading
import zipfile

import numpy as np

from nanonet.data.image import ImageError, decode_image

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")


class DataError(ValueError):
    """A data set that cannot be used as given."""


def _is_image(name):
    return name.lower().endswith(IMAGE_EXTENSIONS)


class Dataset:
    """Base: subclasses set self.labels, self.classes and implement name(i) and image(i)."""

    def __len__(self):
        return len(self.labels)

    def subset(self, indices):
        return Subset(self, indices)


SAMPLE_FIELDS = ("targets", "keypoints")   # what a data set may hold per sample beside its labels


class Subset(Dataset):
    def __init__(self, parent, indices):
        self.parent, self.indices = parent, np.asarray(indices, dtype=np.int64)
        self.labels, self.classes = parent.labels[self.indices], parent.classes
        for name in SAMPLE_FIELDS:
            if hasattr(parent, name):
                setattr(self, name, getattr(parent, name)[self.indices])

    def name(self, i):
        return self.parent.name(self.indices[i])

    def key(self, i):
        return self.parent.key(self.indices[i])

    def image(self, i):
        return self.parent.image(self.indices[i])


class ConcatDataset(Dataset):
    """Several datasets with the same classes, one after another."""

    def __init__(self, parts):
        if any(list(p.classes) != list(parts[0].classes) for p in parts):
            raise DataError("cannot join data sets whose classes differ")
        self.parts, self.classes = parts, parts[0].classes
        self.labels = np.concatenate([p.labels for p in parts])
        self.starts = np.cumsum([0] + [len(p) for p in parts])

    def _locate(self, i):
        part = int(np.searchsorted(self.starts, i, side="right")) - 1
        return self.parts[part], i - self.starts[part], part

    def name(self, i):
        dataset, j, _ = self._locate(i)
        return dataset.name(j)

    def key(self, i):
        dataset, j, part = self._locate(i)
        return f"{part}:{dataset.key(j)}"

    def image(self, i):
        dataset, j, _ = self._locate(i)
        return dataset.image(j)


class FolderDataset(Dataset):
    """root/<class>/<image> on disk, or <class>/<image> inside root when root is a .zip (below the folder
    `inside` of it, if given: the FER-2013 zip's train/ and val/).

    Classes are the sorted top-level folder names. Zip members are read through one handle per thread,
    since a ZipFile may not be read from several threads at once.
    """

    def __init__(self, root, inside=""):
        self.root = os.fspath(root)
        self.is_zip = os.path.isfile(self.root) and zipfile.is_zipfile(self.root)
        if self.is_zip:
            prefix = inside.strip("/") + "/" if inside.strip("/") else ""
            with zipfile.ZipFile(self.root) as z:
                names = [n for n in z.namelist()
                         if n.startswith(prefix) and n[len(prefix):].count("/") == 1 and _is_image(n)]
            by_class = {}
            for n in names:
                by_class.setdefault(n[len(prefix):].split("/")[0], []).append(n)
            self._local = threading.local()
        elif os.path.isdir(self.root):
            by_class = {d: [os.path.join(d, f) for f in sorted(os.listdir(os.path.join(self.root, d))) if _is_image(f)]
                        for d in sorted(os.listdir(self.root)) if os.path.isdir(os.path.join(self.root, d))}
        else:
            raise DataError(f"{self.root}: neither a folder nor a .zip archive of class folders")
        for cls, files in by_class.items():
            if not files:
                raise DataError(f"{os.path.join(self.root, cls)}: class folder holds no images")
        if len(by_class) < 2:
            raise DataError(f"{self.root}: found {len(by_class)} class folder(s) with images; need at least 2")
        self.classes = sorted(by_class)
        self.files = [f for cls in self.classes for f in sorted(by_class[cls])]
        self.labels = np.array([i for i, cls in enumerate(self.classes) for _ in by_class[cls]], dtype=np.int64)

    def name(self, i):
        return f"{self.root}:{self.files[i]}" if self.is_zip else os.path.join(self.root, self.files[i])

    def key(self, i):
        return self.files[i]

    def image(self, i):
        if not self.is_zip:
            return decode_image(self.name(i))
        z = getattr(self._local, "zip", None)
        if z is None:
            z = self._local.zip = zipfile.ZipFile(self.root)
        try:
            data = z.read(self.files[i])
        except (zipfile.BadZipFile, OSError) as e:
            raise ImageError(f"{self.name(i)}: unreadable zip member ({e})")
        return decode_image(io.BytesIO(data), self.name(i))


class ListDataset(Dataset):
    """A text file of `path label` lines (the seeds' format); paths are relative to the file's folder.

    `classes` names the labels; by default they are "0", "1", ... up to the largest label.
    """

    def __init__(self, list_file, classes=None):
        self.list_file = os.fspath(list_file)
        if not os.path.isfile(self.list_file):
            raise DataError(f"{self.list_file}: no such list file")
        folder = os.path.dirname(os.path.abspath(self.list_file))
        self.paths, self.keys, labels = [], [], []
        with open(self.list_file) as f:
            for number, line in enumerate(f, 1):
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                parts = line.rsplit(None, 1)
                where = f"{self.list_file}:{number}"
                if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
                    raise DataError(f"{where}: expected 'path label', got {line.strip()!r}")
                path = os.path.join(folder, parts[0].strip())
                if not os.path.isfile(path):
                    raise DataError(f"{where}: listed image {path} does not exist")
                self.paths.append(path)
                self.keys.append(parts[0].strip())
                labels.append(int(parts[1]))
        if not labels:
            raise DataError(f"{self.list_file}: the list holds no images")
        self.labels = np.array(labels, dtype=np.int64)
        self.classes = list(classes) if classes else [str(i) for i in range(self.labels.max() + 1)]
        empty = sorted(set(range(len(self.classes))) - set(self.labels.tolist()))
        if empty and not classes:
            raise DataError(f"{self.list_file}: no image has label {', '.join(map(str, empty))}, though labels run to "
                            f"{len(self.classes) - 1}: a typo? Labels number the classes from 0")
        bad = np.flatnonzero((self.labels < 0) | (self.labels >= len(self.classes)))
        if len(bad):
            raise DataError(f"{self.list_file}: label {self.labels[bad[0]]} of {self.paths[bad[0]]} is outside "
                            f"0..{len(self.classes) - 1}")

    def name(self, i):
        return self.paths[i]

    def key(self, i):
        return self.keys[i]

    def image(self, i):
        return decode_image(self.paths[i])


class Derived(Dataset):
    """`parent`'s samples, one for one: its labels, classes, per-sample fields, file names and images."""

    def __init__(self, parent):
        self.parent, self.labels, self.classes = parent, parent.labels, parent.classes
        for name in SAMPLE_FIELDS:
            if hasattr(parent, name):
                setattr(self, name, getattr(parent, name))

    def name(self, i):
        return self.parent.name(i)

    def key(self, i):
        return self.parent.key(i)

    def image(self, i):
        return self.parent.image(i)


class TargetDataset(Derived):
    """`parent`'s samples with real-valued targets (N, D) beside their labels, for regression."""

    def __init__(self, parent, targets):
        super().__init__(parent)
        self.targets = np.asarray(targets, dtype=np.float32)
        if self.targets.ndim != 2 or len(self.targets) != len(parent):
            raise DataError(f"targets must be ({len(parent)}, D), got {self.targets.shape}")


class PointsDataset(Derived):
    """`parent`'s samples with keypoints (N, P, 2), x and y in each image's own pixels."""

    def __init__(self, parent, keypoints):
        super().__init__(parent)
        self.keypoints = np.asarray(keypoints, dtype=np.float64)
        if self.keypoints.ndim != 3 or self.keypoints.shape[2] != 2 or len(self.keypoints) != len(parent):
            raise DataError(f"keypoints must be ({len(parent)}, P, 2), got {self.keypoints.shape}")
        if not np.isfinite(self.keypoints).all():
            raise DataError("keypoints must be finite numbers")


class InMemory(Derived):
    """`parent` decoded once into memory (by `workers` threads), for data sets small enough: every later epoch
    reads arrays rather than decoding files. An image that could not be decoded raises its ImageError when
    it is read, as it would have from `parent`."""

    def __init__(self, parent, workers=1):
        super().__init__(parent)
        with concurrent.futures.ThreadPoolExecutor(max(workers, 1)) as pool:
            self.images = list(pool.map(self._decoded, range(len(parent))))

    def _decoded(self, i):
        try:
            return self.parent.image(i)
        except ImageError as e:
            return e

    def image(self, i):
        if isinstance(self.images[i], ImageError):
            raise self.images[i]
        return self.images[i]


class ImageFiles(Dataset):
    """The images `files` (names relative to `folder`), without labels: every label is 0, and there are no
    classes. A data set of keypoints or targets starts from it."""

    def __init__(self, folder, files):
        self.folder, self.files, self.classes = os.fspath(folder), list(files), []
        self.labels = np.zeros(len(self.files), dtype=np.int64)
        missing = [f for f in self.files if not os.path.isfile(os.path.join(self.folder, f))]
        if missing:
            raise DataError(f"{os.path.join(self.folder, missing[0])}: no such image"
                            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))

    def name(self, i):
        return os.path.join(self.folder, self.files[i])

    def key(self, i):
        return self.files[i]

    def image(self, i):
        return decode_image(self.name(i))


def read_points_table(path):
    """{file: (P, 2) float64 points} from a CSV of `file,x0,y0,x1,y1,...` rows (a first row naming the
    columns is skipped); every row must give the same number of finite (x, y) pairs."""
    try:
        with open(path, newline="") as f:
            rows = [(number, row) for number, row in enumerate(csv.reader(f), 1) if row]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"{path}: unreadable points table ({e})")
    if rows and rows[0][1][1:2] and not _is_number(rows[0][1][1]):
        rows = rows[1:]
    if not rows:
        raise DataError(f"{path}: the table holds no rows")
    table, width = {}, len(rows[0][1])
    for number, row in rows:
        where = f"{path}:{number}"
        if len(row) != width or width < 3 or width % 2 == 0:
            raise DataError(f"{where}: expected a file and {max(width - 1, 2)} numbers (x, y pairs), "
                            f"got {len(row)} fields")
        if not all(_is_number(v) for v in row[1:]):
            raise DataError(f"{where}: the coordinates must be finite numbers")
        if row[0] in table:
            raise DataError(f"{where}: {row[0]} is listed twice")
        table[row[0]] = np.array(row[1:], dtype=np.float64).reshape(-1, 2)
    return table


def _is_number(text):
    try:
        return np.isfinite(float(text))
    except ValueError:
        return False


def points_folder(folder, table):
    """A PointsDataset of the images in `folder` named by `table` {file: P * 2 numbers, or (P, 2)}, in the
    order of their names."""
    files = sorted(table)
    if not files:
        raise DataError(f"{folder}: no images with keypoints given")
    points = []
    for f in files:
        try:
            p = np.asarray(table[f], dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError(f"{f}: its keypoints must be numbers")
        if p.size == 0 or p.size % 2:
            raise DataError(f"{f}: {p.size} numbers given; keypoints come as x, y pairs")
        points.append(p.reshape(-1, 2))
    if len({p.shape for p in points}) != 1:
        raise DataError(f"{folder}: the images are given different numbers of keypoints")
    return PointsDataset(ImageFiles(folder, files), np.stack(points))


class ArrayDataset(Dataset):
    """Images already in memory: uint8 (N, H, W, 3) or (N, H, W), and (N,) labels."""

    def __init__(self, images, labels, classes=None):
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[..., None]
        if images.ndim != 4 or images.dtype != np.uint8:
            raise DataError(f"ArrayDataset wants uint8 (N, H, W[, C]) images, got {images.dtype} {images.shape}")
        self.images = np.repeat(images, 3, axis=3) if images.shape[3] == 1 else images
        self.labels = np.asarray(labels, dtype=np.int64)
        if len(self.labels) != len(self.images):
            raise DataError(f"ArrayDataset: {len(self.images)} images but {len(self.labels)} labels")
        self.classes = list(classes) if classes else [str(i) for i in range(int(self.labels.max()) + 1)]

    def name(self, i):
        return f"array[{i}]"

    def key(self, i):
        return str(i)

    def image(self, i):
        return self.images[i]


def open_dataset(path):
    """A FolderDataset for a folder, a .zip or a folder inside a .zip (`faces.zip/train`), a ListDataset for a
    text file."""
    path = os.fspath(path)
    if os.path.isdir(path) or (os.path.isfile(path) and zipfile.is_zipfile(path)):
        return FolderDataset(path)
    if os.path.isfile(path):
        return ListDataset(path)
    archive, _, inside = path.partition(".zip" + os.sep)
    if inside and os.path.isfile(archive + ".zip") and zipfile.is_zipfile(archive + ".zip"):
        return FolderDataset(archive + ".zip", inside)
    raise DataError(f"{path}: no such data set")


def held_out(names, fraction):
    """Bool array: True for each name whose hash falls below `fraction`, the validation share.

    The split depends on the names alone, not on a seed or on the order of listing, so every run, and every
    net trained on the same files, holds out the same images. Where no name's hash falls below, those of the
    lowest hash are held out, unless all names are one.
    """
    if not 0 < fraction < 1:
        raise DataError(f"validation fraction must lie in (0, 1), got {fraction}")
    hashes = np.array([zlib.crc32(name.encode()) % 10000 for name in names], dtype=np.int64)
    val = hashes < fraction * 10000
    if not val.any() and len(set(names)) > 1:    # a set too small for the fraction still holds one name out
        val = hashes == hashes.min()
    return val


def split_by_name(dataset, fraction, group=None):
    """(train, val) subsets of `dataset`, held out by the hash of each file's key (see held_out), or of
    group(key): the frames of one person, say, all go to one side."""
    group = group or (lambda key: key)
    val = held_out([group(dataset.key(i)) for i in range(len(dataset))], fraction)
    return dataset.subset(np.flatnonzero(~val)), dataset.subset(np.flatnonzero(val))
