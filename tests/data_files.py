"""Tiny generated image sets on disk, for the readers and train.py, and train.py run on them."""

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image


def write_image(path, value, size=8, mode="RGB"):
    rng = np.random.default_rng(int(value))
    a = np.clip(rng.normal(value, 10, size=(size, size, 3)), 0, 255).astype(np.uint8)
    image = Image.fromarray(a)
    if mode != "RGB":
        image = image.convert(mode)
    image.save(path)


def class_folders(root, per_class=6, size=8, classes=("face", "nonface")):
    """root/<class>/<i>.png: class k is the brighter the smaller k (bright to dark), so a net can tell them
    apart."""
    step = 150 // max(len(classes) - 1, 1)
    for k, cls in enumerate(classes):
        (root / cls).mkdir(parents=True)
        for i in range(per_class):
            write_image(root / cls / f"{i}.png", 200 - step * k + i, size, mode="L" if i == 0 else "RGB")
    return root


def zip_of(folder, path):
    with zipfile.ZipFile(path, "w") as z:
        for f in sorted(folder.rglob("*.png")):
            z.write(f, f.relative_to(folder).as_posix())
    return path


WEBFACES_CSV = """file,left_eye_x,left_eye_y,right_eye_x,right_eye_y,nose_x,nose_y,mouth_x,mouth_y
a.jpg,20,20,40,20,30,30,30,40
a.jpg,60,22,70,22,65,27,65,32
b.jpg,10,10,20,10,15,15,15,20
"""


def webfaces_folder(root, csv=WEBFACES_CSV, size=96):
    """A WebFaces-style folder: images/a.jpg and b.jpg, and annotations.csv holding `csv`."""
    (root / "images").mkdir(parents=True)
    for name in ("a.jpg", "b.jpg"):
        write_image(root / "images" / name, 120, size=size)
    (root / "annotations.csv").write_text(csv)
    return root


def keypoints_folder(root, people=4, frames=3, points=68, size=40):
    """A YouTube-68-style folder: images/PERSON_NN.jpg, `frames` of each of `people`, and keypoints.csv
    (file,x0,y0,...) with `points` points each, scattered about the frame's middle. Returns (root, table)."""
    (root / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    table = {}
    for p in range(people):
        for f in range(frames):
            name = f"person{p}_{f:02d}.jpg"
            write_image(root / "images" / name, 60 + 20 * p + f, size=size)
            table[name] = rng.uniform(size * 0.25, size * 0.75, 2 * points).round(2).tolist()
    header = ",".join(["file"] + [f"{axis}{i}" for i in range(points) for axis in "xy"])
    rows = [",".join([name] + [str(v) for v in values]) for name, values in table.items()]
    (root / "keypoints.csv").write_text("\n".join([header] + rows) + "\n")
    return root, table


ROOT = Path(__file__).resolve().parents[1]


def train_py(*args, cwd=None):
    """train.py run with `args` in a process of its own: its CompletedProcess, output captured."""
    return subprocess.run([sys.executable, str(ROOT / "train.py"), *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=600)
