"""Tiny generated image sets on disk, for the readers and train.py."""
import zipfile

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
    """root/<class>/<i>.png: class k is bright (k = 0) or dark, so a net can tell them apart."""
    for k, cls in enumerate(classes):
        (root / cls).mkdir(parents=True)
        for i in range(per_class):
            write_image(root / cls / f"{i}.png", 200 - 150 * k + i, size, mode="L" if i == 0 else "RGB")
    return root


def zip_of(folder, path):
    with zipfile.ZipFile(path, "w") as z:
        for f in sorted(folder.rglob("*.png")):
            z.write(f, f.relative_to(folder).as_posix())
    return path
