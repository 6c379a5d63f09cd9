"""Face annotations: boxes (and keypoints) per image, from WebFaces points, 68 iBUG points, FDDB ellipses,
WIDER FACE boxes or a keypoints CSV. Boxes are float (x, y, w, h) in pixels of the image as stored.

Errors name the file and line.
"""
import concurrent.futures
import csv
import math
import os
import sys
from dataclasses import dataclass

import numpy as np

from nanonet.data.datasets import DataError
from nanonet.data.image import ImageError, read_image

MAX_COORDINATE = 1e6
WEBFACES_POINTS = ("left_eye", "right_eye", "nose", "mouth")
WEBFACES_FLIP_PAIRS = ((0, 1),)


@dataclass
class Annotated:
    """One image: its file, its faces' boxes (K, 4) as x, y, w, h, and optionally keypoints (K, P, 2). With
    `occluders` (a seed), the image as nets.occluders paints its faces over, a copy for training."""
    path: str
    boxes: np.ndarray
    keypoints: np.ndarray = None
    occluders: int = None


def read_keypoints_csv(path, image_root=None):
    """A CSV whose header is `file, <name>_x, <name>_y, ...`, one face a row, several rows per image allowed.

    Returns (list of Annotated with keypoints and empty boxes, point names).
    """
    path = os.fspath(path)
    image_root = image_root or os.path.dirname(os.path.abspath(path))
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such annotation file")
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except (UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"{path}: not a readable CSV text file ({e})")
    if not rows or rows[0][0] != "file" or len(rows[0]) % 2 != 1:
        raise DataError(f"{path}:1: expected a header 'file,<name>_x,<name>_y,...'")
    header = rows[0]
    names = [h[:-2] for h in header[1::2]]
    if any(not a.endswith("_x") or b != a[:-2] + "_y" for a, b in zip(header[1::2], header[2::2])):
        raise DataError(f"{path}:1: columns must come in <name>_x,<name>_y pairs")
    faces = {}
    for number, row in enumerate(rows[1:], 2):
        if not row:
            continue
        if len(row) != len(header):
            raise DataError(f"{path}:{number}: {len(row)} fields, the header has {len(header)}")
        try:
            points = np.array(row[1:], dtype=np.float64).reshape(-1, 2)
        except ValueError:
            raise DataError(f"{path}:{number}: coordinates must be numbers")
        if not (np.isfinite(points).all() and np.abs(points).max() <= MAX_COORDINATE):
            raise DataError(f"{path}:{number}: coordinates must be finite numbers of at most {MAX_COORDINATE:g} "
                            "pixels")
        faces.setdefault(row[0], []).append(points)
    if not faces:
        raise DataError(f"{path}: no faces annotated")
    images = []
    for file, points in faces.items():
        image_path = os.path.join(image_root, file)
        if not os.path.isfile(image_path):
            raise DataError(f"{path}: annotated image {image_path} does not exist")
        images.append(Annotated(image_path, np.zeros((0, 4)), np.stack(points)))
    return images, names


def webfaces_box(points):
    """The square face box of WebFaces' four points (left eye, right eye, nose, mouth).

    The rule, from average face proportions: in a face box of side S the eyes lie 0.4 S apart and 0.4 S
    below the top, the mouth 0.78 S below it. So S = max(2.5 * eye distance, 2.6 * eye-to-mouth distance)
    (the larger reading survives a turned head), and the centre lies 0.26 of the way from the eyes'
    midpoint to the mouth (along that axis, so tilted faces get centred boxes too).
    """
    left, right, _, mouth = points
    eyes = (left + right) / 2
    side = max(2.5 * np.linalg.norm(right - left), 2.6 * np.linalg.norm(mouth - eyes))
    cx, cy = eyes + 0.26 * (mouth - eyes)
    return np.array([cx - side / 2, cy - side / 2, side, side])


def webfaces_points(points):
    """WebFaces' four points (left eye, right eye, nose, mouth) of a face's points: WebFaces' own four as they
    are, or of 68 iBUG points their eyes' centres (points 36-41 and 42-47), nose tip (30) and mouth's centre
    (48-67), as WebFaces marks them."""
    points = np.asarray(points, dtype=np.float64)
    if len(points) == len(WEBFACES_POINTS):
        return points
    return np.stack([points[36:42].mean(axis=0), points[42:48].mean(axis=0), points[30], points[48:68].mean(axis=0)])


def landmarks_box(points):
    """The face box of 68 iBUG points by WebFaces' rule (webfaces_box) from their four points (webfaces_points)."""
    return webfaces_box(webfaces_points(points))


def read_webfaces(folder):
    """Caltech WebFaces: folder/annotations.csv (four points a face) and folder/images/."""
    folder = os.fspath(folder)
    images, names = read_keypoints_csv(os.path.join(folder, "annotations.csv"), os.path.join(folder, "images"))
    if tuple(names) != WEBFACES_POINTS:
        raise DataError(f"{folder}/annotations.csv: expected points {', '.join(WEBFACES_POINTS)}, got {', '.join(names)}")
    for image in images:
        image.boxes = np.stack([webfaces_box(p) for p in image.keypoints])
        if image.boxes[:, 2].min() < 2:
            raise DataError(f"{folder}/annotations.csv: a face of {os.path.basename(image.path)} has its four points "
                            "(all but) in one place")
    return images


def readable(images, workers=4):
    """The Annotated images whose files decode, with a warning on stderr for each of the rest."""
    def decodes(annotated):
        try:
            read_image(annotated.path)
            return True
        except ImageError as e:
            print(f"warning: skipping {e}", file=sys.stderr)
            return False
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        return [a for a, ok in zip(images, pool.map(decodes, images)) if ok]


def _blocks(path, zero_row, columns):
    """Yield (name, rows) from a file of blocks: a name line, a count line, then `count` rows of at least
    `columns` finite numbers (WIDER writes one row of zeros for a count of 0: zero_row). Errors name the
    block's first line."""
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such annotation file")
    try:
        with open(path, encoding="utf-8") as f:
            lines = [line.strip() for line in f]
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not a text file ({e})")
    i = 0
    while i < len(lines):
        if not lines[i]:
            i += 1
            continue
        name = lines[i]
        try:
            count = int(lines[i + 1])
            taken = max(count, 1) if zero_row else count
            if count < 0 or i + 2 + taken > len(lines):
                raise ValueError
            rows = [list(map(float, lines[i + 2 + k].split())) for k in range(taken)]
        except (IndexError, ValueError):
            raise DataError(f"{path}:{i + 1}: expected a face count and {name!r}'s rows after it")
        for k, row in enumerate(rows):
            if len(row) < columns or not all(math.isfinite(v) and abs(v) <= MAX_COORDINATE for v in row):
                raise DataError(f"{path}:{i + 3 + k}: expected {columns} or more finite numbers of at most "
                                f"{MAX_COORDINATE:g}")
        yield name, rows[:count]
        i += 2 + taken


def read_fddb(path, image_root, extension=".jpg"):
    """An FDDB ellipse list: image name, face count, then `major minor angle cx cy 1` per face.

    Each ellipse becomes the axis-aligned box that bounds it.
    """
    images = []
    for name, rows in _blocks(os.fspath(path), zero_row=False, columns=5):
        boxes = []
        for major, minor, angle, cx, cy in (row[:5] for row in rows):
            half_w = math.hypot(major * math.sin(angle), minor * math.cos(angle))
            half_h = math.hypot(major * math.cos(angle), minor * math.sin(angle))
            boxes.append([cx - half_w, cy - half_h, 2 * half_w, 2 * half_h])
        images.append(Annotated(os.path.join(image_root, name + extension), np.array(boxes).reshape(-1, 4)))
    return images


def read_wider(path, image_root, skip_invalid=True):
    """A WIDER FACE box file: image path, face count, then `x y w h blur expression illumination invalid
    occlusion pose` per face (a count of 0 is followed by one line of zeros). Faces marked invalid, and
    empty boxes, are dropped unless skip_invalid is False."""
    images = []
    for name, rows in _blocks(os.fspath(path), zero_row=True, columns=4):
        boxes = [r[:4] for r in rows if not skip_invalid or ((len(r) < 8 or r[7] == 0) and r[2] > 0 and r[3] > 0)]
        images.append(Annotated(os.path.join(image_root, name), np.array(boxes, dtype=np.float64).reshape(-1, 4)))
    return images
