"""The detectors the benchmarks compare, each a Detector: a name, detect(image RGB) -> (boxes, scores) and
run(image) -> (boxes, scores, ms).

OpenCV's cascades run in this process. Their scores are the cascade's level weights (detectMultiScale3 with
outputRejectLevels), so that a discrete ROC can be drawn for them as for a net; all of their detections count
at their own operating point.

The optional peers (dlib's HOG detector, MTCNN, BlazeFace) run in the environment that install_peers.sh
makes, each in a peer_worker.py process that times its own detections; when that environment or a peer
in it is missing, the peer is skipped with a note.

The LBP frontal cascade is not in opencv-python's wheel: scikit-image ships a copy, whose tag featureParams
is misspelt featuhreParams. It is taken from an installed scikit-image, or from scikit-image's wheel fetched
once with pip into benchmarks/out/ (not committed), and corrected in memory.
"""
import glob
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile

import cv2
import numpy as np

from nets.registry import SHARED_DATA

ANIME_CASCADE = os.path.join(SHARED_DATA, "cascades", "lbpcascade_animeface.xml")
ANIME_SCENES = os.path.join(SHARED_DATA, "anime-scenes")     # real scenes, unannotated
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")
LBP_FRONTAL = "lbpcascade_frontalface_opencv.xml"
SKIMAGE_WHEEL = "scikit-image==0.26.0"
PEERS_PYTHON = os.path.join(OUT, "peers", "bin", "python")
WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peer_worker.py")
EXTERNAL = ("dlib HOG", "MTCNN", "BlazeFace")


class Detector:
    def __init__(self, name, detect):
        self.name, self.detect = name, detect

    def run(self, image):
        start = time.perf_counter()
        boxes, scores = self.detect(image)
        return boxes, scores, 1000 * (time.perf_counter() - start)


class OpenCVCascade(Detector):
    def __init__(self, cascade, name, min_size=24, scale_factor=1.1, min_neighbors=5, equalize=False):
        self.cascade, self.name, self.equalize = cascade, name, equalize
        self.options = dict(scaleFactor=scale_factor, minNeighbors=min_neighbors, minSize=(min_size, min_size))

    def detect(self, image):
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
        if self.equalize:
            grey = cv2.equalizeHist(grey)
        boxes, _, weights = self.cascade.detectMultiScale3(grey, outputRejectLevels=True, **self.options)
        return np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(weights, np.float64).reshape(-1)


class PeerUnavailable(RuntimeError):
    pass


class ExternalPeer(Detector):
    """A peer served by peer_worker.py from the peers environment; `threads` is its intra-op thread count."""

    def __init__(self, name, min_size=24, threads=1):
        if not os.path.exists(PEERS_PYTHON):
            raise PeerUnavailable(f"{name}: not installed (bash benchmarks/install_peers.sh)")
        self.name, self.log = name, tempfile.TemporaryFile()   # a file: a full pipe would stall the peer
        self.process = subprocess.Popen(
            [PEERS_PYTHON, WORKER, "--serve", name, "--min-size", str(min_size), "--threads", str(threads)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
            env=dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads)))
        first = self.process.stdout.readline()
        if not first:
            self.process.wait()
            self.log.seek(0)
            error = self.log.read().decode(errors="replace").strip().splitlines()
            raise PeerUnavailable(f"{name}: does not load ({error[-1] if error else 'no answer'})")
        self.version = json.loads(first)["version"]

    def run(self, image):
        image = np.ascontiguousarray(image, np.uint8)
        self.process.stdin.write(json.dumps({"shape": image.shape}).encode() + b"\n" + image.tobytes())
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        return (np.asarray(answer["boxes"], np.float64).reshape(-1, 4), np.asarray(answer["scores"], np.float64),
                answer["ms"])

    def detect(self, image):
        return self.run(image)[:2]

    def close(self):
        self.process.stdin.close()
        self.process.wait()
        self.log.close()


def face_peers(min_size=24, threads=1):
    """([Detector], [note]): OpenCV's Haar (default, alt2) and LBP frontal cascades, then the external peers
    that are installed; a note for each one skipped."""
    peers, notes = [haar(min_size=min_size), haar("haarcascade_frontalface_alt2.xml", min_size=min_size)], []
    lbp = lbp_frontal(min_size=min_size)
    if lbp:
        peers.append(lbp)
    else:
        notes.append(f"{LBP_FRONTAL}: no copy to be had")
    for name in EXTERNAL:
        try:
            peers.append(ExternalPeer(name, min_size, threads))
        except PeerUnavailable as skipped:
            notes.append(str(skipped))
    return peers, notes


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


def lbp_animeface(min_size=24):
    """lbpcascade_animeface with its README's parameters: equalised grey image, scaleFactor 1.1, minNeighbors 5."""
    return from_file(ANIME_CASCADE, "lbpcascade_animeface", min_size=min_size, equalize=True)


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
            fetched = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--retries", "0",
                                      "--timeout", "10", "-d", tmp, SKIMAGE_WHEEL], capture_output=True, text=True)
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
