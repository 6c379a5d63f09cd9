"""Fuzzing the readers: a few hundred mutated files (cut short, bytes flipped, headers scrambled, garbage
appended) each give the reader's own one-line error or a well-formed result, quickly; never another
exception, a hang or a huge allocation."""
import io
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nets.annotations import read_fddb, read_webfaces, read_wider
from nanonet.data.datasets import DataError
from nanonet.data.image import ImageError, read_image
from nanonet.serialize import ModelFileError
from nets.registry import load_model
from tests.data_files import WEBFACES_CSV, webfaces_folder

ROOT = Path(__file__).resolve().parents[1]
MUTANTS = 120            # per seed file
SECONDS = 3              # the most one mutant may take


def mutants(data, rng, count=MUTANTS):
    """`count` corrupted copies of the bytes `data`."""
    for k in range(count):
        b = bytearray(data)
        kind = k % 4
        if kind == 0:                                   # cut short
            b = b[:int(rng.integers(0, len(b)))]
        elif kind == 1:                                 # a few bytes flipped anywhere
            for i in rng.integers(0, len(b), int(rng.integers(1, 10))):
                b[i] ^= int(rng.integers(1, 256))
        elif kind == 2:                                 # the header scrambled
            n = min(len(b), 64)
            for i in rng.integers(0, n, int(rng.integers(1, 6))):
                b[i] = int(rng.integers(0, 256))
        else:                                           # garbage appended, or spliced in
            at = int(rng.integers(0, len(b)))
            b = b[:at] + rng.integers(0, 256, int(rng.integers(1, 200)), dtype=np.uint8).tobytes() + b[at:]
        yield bytes(b)


def _pictures():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    out = {}
    for fmt, mode in (("PNG", "RGB"), ("JPEG", "RGB"), ("TIFF", "L"), ("GIF", "P"), ("BMP", "RGB")):
        buffer = io.BytesIO()
        Image.fromarray(a).convert(mode).save(buffer, fmt)
        out[fmt] = buffer.getvalue()
    return out


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "TIFF", "GIF", "BMP"])
def test_image_reader_on_mutated_pictures(tmp_path, fmt):
    rng = np.random.default_rng(1)
    path = tmp_path / f"mutant.{fmt.lower()}"
    for data in mutants(_pictures()[fmt], rng):
        path.write_bytes(data)
        start = time.perf_counter()
        try:
            image = read_image(path, max_pixels=4_000_000)
        except ImageError as e:
            assert "\n" not in str(e) and str(path) in str(e)
        else:
            assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
        assert time.perf_counter() - start < SECONDS


def test_model_reader_on_mutated_model_files(tmp_path):
    rng = np.random.default_rng(2)
    path = tmp_path / "mutant.npz"
    for data in mutants((ROOT / "nets" / "weights" / "face-net12.npz").read_bytes(), rng, 2 * MUTANTS):
        path.write_bytes(data)
        start = time.perf_counter()
        try:
            model, normalization, f = load_model(path)
        except ModelFileError as e:
            assert "\n" not in str(e)
        else:
            assert f.arch == "net12" and all(np.isfinite(a).all() for a in model.state().values())
        assert time.perf_counter() - start < SECONDS


ANNOTATIONS = {
    "fddb": ("a\n2\n10 8 0.1 30 30 1\n12 9 0 60 60 1\nb\n1\n5 5 0 20 20 1\n", read_fddb),
    "wider": ("a.jpg\n2\n10 10 20 20 0 0 0 0 0 0\n40 40 10 10 0 0 0 0 0 0\nb.jpg\n0\n0 0 0 0 0 0 0 0 0 0\n",
              read_wider),
}


@pytest.mark.parametrize("kind", ["webfaces", *ANNOTATIONS])
def test_annotation_readers_on_mutated_files(tmp_path, kind):
    rng = np.random.default_rng(3)
    folder = webfaces_folder(tmp_path / "wf")
    if kind == "webfaces":
        path, read, seed = folder / "annotations.csv", lambda: read_webfaces(folder), WEBFACES_CSV
    else:
        seed, reader = ANNOTATIONS[kind]
        path = tmp_path / f"{kind}.txt"
        read = lambda: reader(path, folder / "images")  # noqa: E731
    for data in mutants(seed.encode(), rng):
        path.write_bytes(data)
        start = time.perf_counter()
        try:
            images = read()
        except DataError as e:
            assert "\n" not in str(e)
        else:
            for a in images:
                assert a.boxes.ndim == 2 and a.boxes.shape[1] == 4 and np.isfinite(a.boxes).all()
        assert time.perf_counter() - start < SECONDS
