"""Faces in a video (a file or a camera): each processed frame's faces, kept by identity from frame to frame,
their expression smoothed over the last few readings, drawn as a semi-transparent overlay, and a timeline
of the largest face's emotions.
"""
import cv2
import numpy as np

from nanonet.kernels.nms import iou

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")


class VideoError(ValueError):
    """A video that cannot be opened or read."""


def is_video(path):
    return str(path).lower().endswith(VIDEO_EXTENSIONS)


def frames(capture, every=1):
    """(index, seconds, RGB uint8 frame, processed) for each frame the capture gives, `processed` for every
    `every`-th; ends where the capture stops giving frames."""
    fps = capture.get(cv2.CAP_PROP_FPS) or 0
    index = 0
    while True:
        ok, bgr = capture.read()
        if not ok or bgr is None:
            return
        seconds = index / fps if fps > 0 else capture.get(cv2.CAP_PROP_POS_MSEC) / 1000
        yield index, seconds, np.ascontiguousarray(bgr[:, :, ::-1]), index % every == 0
        index += 1


def open_video(source):
    """A cv2.VideoCapture of a file path or a camera number, checked to give a first frame."""
    capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        what = f"camera {source}" if isinstance(source, int) else str(source)
        raise VideoError(f"{what}: cannot be opened as a video" + ("" if isinstance(source, int) else
                                                                     " (missing, or not a format OpenCV reads)"))
    return capture


class Tracks:
    """Face identities across frames: each face takes the identity of the unclaimed face of the frame before
    that it overlaps most (IoU at least `min_iou`), else a new one; each identity keeps its last `window`
    readings (probability vectors, valence-arousal pairs) and answers with their mean."""

    def __init__(self, min_iou=0.3, window=5):
        self.min_iou, self.window = min_iou, window
        self.boxes, self.ids, self.next_id, self.history = np.zeros((0, 4)), [], 0, {}

    def assign(self, boxes):
        """An identity for each of boxes (K, 4), best overlaps first."""
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        ids = [None] * len(boxes)
        if len(boxes) and len(self.boxes):
            overlap = np.stack([iou(box, self.boxes) for box in boxes])
            for flat in np.argsort(-overlap, axis=None):
                k, j = np.unravel_index(flat, overlap.shape)
                if overlap[k, j] < self.min_iou:
                    break
                if ids[k] is None and self.ids[j] not in ids:
                    ids[k] = self.ids[j]
        for k in range(len(ids)):
            if ids[k] is None:
                ids[k], self.next_id = self.next_id, self.next_id + 1
        self.history = {i: self.history.get(i, {}) for i in ids}
        self.boxes, self.ids = boxes, ids
        return ids

    def smoothed(self, identity, name, reading):
        """The mean of `identity`'s last `window` readings of `name`, this one included."""
        past = self.history[identity].setdefault(name, [])
        past.append(np.asarray(reading, dtype=np.float64))
        del past[:-self.window]
        return np.mean(past, axis=0)


def overlay(image, faces, alpha=0.35, colour=(0, 200, 255), first=lambda face: f"#{face['id']}"):
    """The RGB image with each face's box drawn (and filled with `colour` at opacity `alpha`), its keypoints,
    and above it first(face) and its smile and emotion labels."""
    out = image.copy()
    if alpha:
        for face in faces:
            x, y, w, h = face["x"], face["y"], face["w"], face["h"]
            cv2.rectangle(out, (x, y), (x + w, y + h), colour, -1)
        out = cv2.addWeighted(out, alpha, image, 1 - alpha, 0)
    thickness = max(2, round(max(image.shape[:2]) / 300))
    for face in faces:
        x, y, w, h = face["x"], face["y"], face["w"], face["h"]
        cv2.rectangle(out, (x, y), (x + w, y + h), colour, thickness)
        for px, py in face.get("keypoints", ()):
            cv2.circle(out, (int(round(px)), int(round(py))), max(1, w // 60), (255, 0, 0), -1, cv2.LINE_AA)
        words = [first(face)] + [face[k]["label"] or "?" for k in ("smile", "emotion") if k in face]
        cv2.putText(out, " ".join(words), (x, max(y - 4, 12)), cv2.FONT_HERSHEY_SIMPLEX, 0.4 * thickness, colour,
                    thickness // 2 + 1, cv2.LINE_AA)
    return out


def largest_face_emotions(records, classes):
    """(seconds (T,), probabilities (T, len(classes))) of the largest face of each record (a processed
    frame's JSON dict) that holds a read face; frames without one are left out."""
    times, rows = [], []
    for record in records:
        read = [f for f in record["faces"] if f.get("emotion", {}).get("probabilities")]
        if read:
            face = max(read, key=lambda f: f["w"] * f["h"])
            times.append(record["time"])
            rows.append([face["emotion"]["probabilities"][c] for c in classes])
    return np.array(times), np.array(rows).reshape(-1, len(classes))


def top_moments(times, probabilities, column, count=3, apart=1.0):
    """The `count` times at which column `column` peaks, at least `apart` seconds from each other:
    [(seconds, probability)]."""
    chosen = []
    for k in np.argsort(-probabilities[:, column], kind="stable"):
        if all(abs(times[k] - t) >= apart for t, _ in chosen):
            chosen.append((float(times[k]), float(probabilities[k, column])))
        if len(chosen) == count:
            break
    return chosen


def plot_timeline(path, times, probabilities, classes, highlight, moments):
    """Each emotion's probability over time, the moments of `highlight` marked."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(10, 4))
    for c, name in enumerate(classes):
        ax.plot(times, probabilities[:, c], label=name, linewidth=2.5 if name == highlight else 1)
    for seconds, p in moments:
        ax.annotate(f"{highlight} {p:.2f}", (seconds, p), xytext=(0, 8), textcoords="offset points", ha="center",
                    fontsize=8)
        ax.plot([seconds], [p], "k.", markersize=8)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("probability (largest face)")
    ax.set_ylim(0, 1.05)
    ax.legend(loc="upper right", fontsize=8, ncol=4)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
