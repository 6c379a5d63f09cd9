"""OpenCV's cascade face detectors, as peers for the benchmarks: each a detect(image RGB) -> (boxes, scores).

The scores are the cascade's level weights (detectMultiScale3 with outputRejectLevels), so that a discrete
ROC can be drawn for it as for a net; all of its detections count at its own operating point.

The LBP frontal cascade is not in opencv-python's wheel: scikit-image ships a copy, whose tag featureParams
is misspelt featuhreParams. It is taken from an installed scikit-image, or from scikit-image's wheel fetched
once with pip into benchmarks/out/ (not committed), and corrected in memory.
"""
import glob
import os
import subprocess
import sys
import tempfile
import zipfile

import cv2
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")
LBP_FRONTAL = "lbpcascade_frontalface_opencv.xml"
SKIMAGE_WHEEL = "scikit-image==0.26.0"


class OpenCVCascade:
    def __init__(self, cascade, name, min_size=24, scale_factor=1.1, min_neighbors=5, equalize=False):
        self.cascade, self.name, self.equalize = cascade, name, equalize
        self.options = dict(scaleFactor=scale_factor, minNeighbors=min_neighbors, minSize=(min_size, min_size))

    def detect(self, image):
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
        if self.equalize:
            grey = cv2.equalizeHist(grey)
        boxes, _, weights = self.cascade.detectMultiScale3(grey, outputRejectLevels=True, **self.options)
        return np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(weights, np.float64).reshape(-1)


def haar(name="haarcascade_frontalface_default.xml", **options):
    cascade = cv2.CascadeClassifier(os.path.join(cv2.data.haarcascades, name))
    if cascade.empty():
        raise RuntimeError(f"OpenCV has no {name}")
    return OpenCVCascade(cascade, name.replace(".xml", ""), **options)


def from_file(path, name, **options):
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise RuntimeError(f"cannot load the cascade {path}")
    return OpenCVCascade(cascade, name, **options)


def lbp_frontal(**options):
    """The LBP frontal cascade, or None (with the reason on stderr) when no copy can be had."""
    text = _lbp_frontal_text()
    if text is None:
        return None
    storage = cv2.FileStorage(text.replace("featuhreParams", "featureParams"),
                              cv2.FILE_STORAGE_READ | cv2.FILE_STORAGE_MEMORY)
    cascade = cv2.CascadeClassifier()
    if not cascade.read(storage.getFirstTopLevelNode()):
        print(f"benchmarks: OpenCV cannot read {LBP_FRONTAL}; skipping it", file=sys.stderr)
        return None
    return OpenCVCascade(cascade, "lbpcascade_frontalface", **options)


def _lbp_frontal_text():
    try:
        import skimage
        return open(os.path.join(os.path.dirname(skimage.__file__), "data", LBP_FRONTAL)).read()
    except (ImportError, OSError):
        pass
    cached = os.path.join(OUT, LBP_FRONTAL)
    if not os.path.exists(cached):
        with tempfile.TemporaryDirectory() as tmp:
            fetched = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp,
                                      SKIMAGE_WHEEL], capture_output=True, text=True)
            wheels = glob.glob(os.path.join(tmp, "*.whl"))
            if fetched.returncode or not wheels:
                print(f"benchmarks: no scikit-image wheel to take {LBP_FRONTAL} from; skipping the LBP "
                      "frontal cascade", file=sys.stderr)
                return None
            with zipfile.ZipFile(wheels[0]) as wheel:
                data = wheel.read(f"skimage/data/{LBP_FRONTAL}")
            os.makedirs(OUT, exist_ok=True)
            with open(cached, "wb") as f:
                f.write(data)
    return open(cached).read()
