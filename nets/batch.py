"""Detection over many pictures: a Session holds a detector and the face readers, loaded once, and turns a
picture into its JSON-ready faces. detect.py runs one in its own process, one in each --workers process, or
one on each worker of a Dask cluster, which keeps it between tasks (start, picture)."""
import threading

import cv2
import numpy as np
from PIL import Image

import nets
from nanonet.cli import one_line_warnings
from nanonet.data.image import MAX_PIXELS, ImageError, read_image
from nets.expression import one_per_face, read_faces
from nets.keypoints import points_on_faces
from nets.video import overlay

MIN_READ = 24   # faces with a shorter side (px) are too small to read a smile or an emotion from


class Session:
    """A detector (nets.load(model, gpu, **options)) and the readers named ("smile", "emotion", "keypoints");
    `vote`: read smiles and emotions by the 45-window vote; pictures above `max_pixels` are refused."""

    def __init__(self, model="face", gpu=-1, options=None, readers=(), vote=True, max_pixels=MAX_PIXELS):
        self.detector = nets.load(model, gpu=gpu, **(options or {}))
        self.readers = {name: nets.load(name, gpu=gpu) for name in readers}
        self.vote, self.max_pixels = vote, max_pixels

    def faces_of(self, image, tracks=None, vote=None):
        """The faces of one picture as JSON-ready dicts, each with its readers' verdicts ("smile", "emotion")
        if its box is large enough, its "keypoints" if asked for, and with `tracks` (nets.video.Tracks) an
        "id" kept across frames and verdicts smoothed over its last readings; and their boxes (K, 4)."""
        vote = self.vote if vote is None else vote
        boxes, scores = self.detector.detect(image)
        if self.readers:    # a face with two boxes gets one reading
            keep = one_per_face(boxes, scores)
            boxes, scores = boxes[keep], scores[keep]
        faces = [{"x": int(round(x)), "y": int(round(y)), "w": int(round(w)), "h": int(round(h)),
                  "score": round(float(s), 4)} for (x, y, w, h), s in zip(boxes, scores)]
        ids = tracks.assign(boxes) if tracks else None
        for face, identity in zip(faces, ids or []):
            face["id"] = identity
        if "keypoints" in self.readers:
            for face, points in zip(faces, points_on_faces(self.readers["keypoints"], image, boxes)):
                face["keypoints"] = np.round(points, 1).tolist()
        readable = [k for k, (_, _, w, h) in enumerate(boxes) if min(w, h) >= MIN_READ]
        for name, reader in self.readers.items():
            if name == "keypoints":
                continue
            for face in faces:
                face[name] = {"label": None, "score": None, "note": f"too small to read (under {MIN_READ} px)"}
            if not readable:
                continue
            p = read_faces(reader.predict_proba, reader.input_size, image, boxes[readable], vote)
            va = read_faces(reader.valence_arousal, reader.input_size, image, boxes[readable], vote) \
                if name == "emotion" else [None] * len(readable)
            for k, pk, vk in zip(readable, p, va):
                if tracks:
                    pk = tracks.smoothed(ids[k], name, pk)
                    vk = None if vk is None else tracks.smoothed(ids[k], name + " va", vk)
                faces[k][name] = verdict(reader, pk, vk)
        return faces, boxes

    def picture(self, path, drawing=None):
        """(path, result dict or None, error line or None) for an image file, drawn to `drawing` if given."""
        try:
            image = read_image(path, max_pixels=self.max_pixels)
        except ImageError as e:
            return path, None, str(e)
        faces, _ = self.faces_of(image)
        if drawing:
            try:
                draw(image, faces, drawing)
            except OSError as e:
                return path, None, f"{drawing}: cannot write the drawing ({e.strerror or e})"
        return path, {"image": path, "width": image.shape[1], "height": image.shape[0], "faces": faces}, None


def verdict(reader, probabilities, valence_arousal=None):
    """A face's JSON reading: the likeliest class and its probability; with valence and arousal (the emotion
    reader), every class's probability and the two values too."""
    best = int(probabilities.argmax())
    out = {"label": reader.classes[best], "score": round(float(probabilities[best]), 4)}
    if valence_arousal is not None:
        out.update(probabilities={c: round(float(q), 4) for c, q in zip(reader.classes, probabilities)},
                   valence=round(float(valence_arousal[0]), 3), arousal=round(float(valence_arousal[1]), 3))
    return out


def draw(image, faces, path):
    """Save `image` with each face's box, score, keypoints, and smile or emotion label drawn."""
    drawn = overlay(np.ascontiguousarray(image), faces, alpha=0, colour=(0, 255, 0),
                    first=lambda face: f"{face['score']:.2f}")
    Image.fromarray(drawn).save(path)


_sessions, _lock = {}, threading.Lock()  # this process's Sessions, by their settings


def start(settings):
    """This process's Session of `settings` (Session's arguments), made on the first call and kept: in
    detect.py's process, a --workers process or a Dask worker, each running its kernels on one thread."""
    key = repr(settings)
    with _lock:
        if key not in _sessions:
            one_line_warnings("detect.py")
            cv2.setNumThreads(1)
            _sessions[key] = Session(*settings)
    return _sessions[key]


def picture(settings, job):
    """The reading of job = (image file, where to draw it or None) by this process's Session of `settings`:
    a task for a --workers process or a Dask worker."""
    return start(settings).picture(*job)


def dask_client(address):
    """A dask.distributed Client: of a new local cluster of N one-thread processes for "local:N" (closed with the
    Client), else of the scheduler at `address` (tcp://HOST:PORT), whose workers must read the same paths."""
    from dask.distributed import Client
    if address.startswith("local:"):
        count = address.partition(":")[2]
        if not count.isdigit() or int(count) < 1:
            raise ValueError(f"--dask {address}: local:N takes a number of processes, at least 1")
        # a cluster the Client starts itself, and shuts down with its close()
        return Client(n_workers=int(count), threads_per_worker=1, processes=True, dashboard_address=None)
    try:
        return Client(address, timeout="20s")
    except (OSError, TimeoutError) as e:
        raise ValueError(f"--dask {address}: no scheduler answers there ({e})")


def on_cluster(client, settings, jobs):
    """(path, result, error) for each job (image file, drawing or None), as the cluster's workers finish them:
    each worker keeps its Session; the tasks of a worker that dies run again on the others (or its
    replacement), and each job is yielded once."""
    from dask.distributed import as_completed
    futures = client.map(picture, [settings] * len(jobs), jobs, pure=False)
    paths = {future.key: job[0] for future, job in zip(futures, jobs)}
    for future in as_completed(futures):
        try:
            yield future.result()
        except Exception as e:          # a task that failed on every worker it was given: its line, and go on
            yield paths[future.key], None, f"{paths[future.key]}: {type(e).__name__}: {e}"
