"""The shipped emotion nets on FER-2013's validation split (the PublicTest faces, which no net trained on).

    python benchmarks/bench_emotion.py [--quick] [--out BENCHMARKS.md]

Classes: accuracy, accuracy per class, and a confusion-matrix picture (benchmarks/figures/emotion_confusion.png
beside --out).
Valence and arousal: RMSE against the emotion seed's coordinates of each face's class, and SAGR (the share of
faces whose predicted sign agrees with the target's), on the faces whose target is not zero (neutral's is
(0, 0)). Beside the regressor, the same figures for the classifier's expectation (the class coordinates
weighted by its probabilities), and for always answering the commoner sign. Time: ms per face crop on one
thread, one window and the 45-window vote (nets.expression.read_faces). Video: frames per second of
`detect.py VIDEO --emotion` at 640x480, detection and emotion together, on a slow pan and zoom across held-out
WebFaces pictures holding one face each; start-up is left out (the difference of a long and a short video).
"""
import subprocess
import tempfile
import time
import argparse
import os
import sys

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    if __name__ == "__main__":
        os.environ[_variable] = "1"

import cv2  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import nets  # noqa: E402
from benchmarks.common import machine_line, median_time, webfaces_validation, write_section  # noqa: E402
from nanonet.data.image import read_image  # noqa: E402
from nanonet.data.datasets import open_dataset  # noqa: E402
from nets.expression import VALENCE_AROUSAL, read_faces  # noqa: E402
from nets.registry import NETS  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def pan_and_zoom(path, pictures, frames, size=(640, 480), fps=25):
    """A video of `frames` frames: each picture in turn, the view panning across it and zooming in slowly."""
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for k in range(frames):
        picture = pictures[k * len(pictures) // frames]
        h, w = picture.shape[:2]
        t = (k * len(pictures) / frames) % 1                  # 0 -> 1 across each picture's frames
        zoom = 1 - 0.3 * t
        cw, ch = int(w * zoom), int(h * zoom)
        x, y = int((w - cw) * t), int((h - ch) * 0.5)
        view = cv2.resize(picture[y:y + ch, x:x + cw], size, interpolation=cv2.INTER_AREA)
        writer.write(np.ascontiguousarray(view[:, :, ::-1]))
    writer.release()


def video_fps(pictures, threads, frames=(20, 80)):
    """Frames per second of detect.py --emotion on pan_and_zoom videos, start-up left out."""
    env = dict(os.environ, **{v: str(threads) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                         "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")})
    seconds = []
    with tempfile.TemporaryDirectory() as folder:
        for count in frames:
            path = os.path.join(folder, f"pan{count}.mp4")
            pan_and_zoom(path, pictures, count)
            start = time.perf_counter()
            subprocess.run([sys.executable, os.path.join(os.path.dirname(HERE), "detect.py"), path, "--emotion"],
                           env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            seconds.append(time.perf_counter() - start)
    return (frames[1] - frames[0]) / (seconds[1] - seconds[0])


def va_figures(predicted, target):
    """{"rmse", "sagr"} per dimension (valence, arousal), each on the faces whose target in it is not zero."""
    out = {}
    for d, name in enumerate(("valence", "arousal")):
        live = target[:, d] != 0
        p, t = predicted[live, d], target[live, d]
        out[name] = {"rmse": float(np.sqrt(np.mean((p - t) ** 2))), "sagr": float(np.mean(np.sign(p) == np.sign(t)))}
    return out


def confusion(truth, guess, classes):
    """(K, K) counts: row = the true class, column = the net's."""
    matrix = np.zeros((len(classes), len(classes)), np.int64)
    np.add.at(matrix, (truth, guess), 1)
    return matrix


def plot_confusion(matrix, classes, path, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    share = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6, 5.2))
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, f"{share[i, j]:.2f}", ha="center", va="center", fontsize=8,
                    color="white" if share[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("the net's class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a smoke test: 200 validation faces, short videos")
    p.add_argument("--out", default=os.path.join(os.path.dirname(HERE), "BENCHMARKS.md"))
    args = p.parse_args(argv)
    reader = nets.load("emotion")
    data = open_dataset(NETS["emotion"].val)
    indices = np.arange(len(data))[:200 if args.quick else None]
    crops = np.stack([data.image(i) for i in indices])
    truth = data.labels[indices]
    if list(data.classes) != reader.classes:
        raise SystemExit(f"bench_emotion: the data's classes {data.classes} differ from the net's {reader.classes}")

    probabilities = reader.predict_proba(crops)
    guess = probabilities.argmax(axis=1)
    matrix = confusion(truth, guess, reader.classes)
    accuracy = float(np.mean(guess == truth))
    figure = os.path.join(os.path.dirname(os.path.abspath(args.out)), "benchmarks", "figures", "emotion_confusion.png")
    plot_confusion(matrix, reader.classes, figure, f"FER-2013 PublicTest, accuracy {accuracy:.3f}")

    table = np.array([VALENCE_AROUSAL[c] for c in reader.classes])
    target = table[truth]
    regressed = va_figures(reader.valence_arousal(crops), target)
    expected = va_figures(probabilities @ table, target)
    commoner = va_figures(np.broadcast_to(np.sign(np.sum(np.sign(target), axis=0)), target.shape), target)

    face = crops[:1]
    box = np.array([[0, 0, face.shape[2], face.shape[1]]], np.float64)
    image = np.repeat(face[0][:, :, None], 3, axis=2)
    one = median_time(lambda: reader.predict_proba(face), 20)[0] * 1e3
    one_va = median_time(lambda: reader.valence_arousal(face), 20)[0] * 1e3
    vote = median_time(lambda: read_faces(reader.predict_proba, reader.input_size, image, box), 5)[0] * 1e3
    one_face = [read_image(a.path) for a in webfaces_validation() if len(a.boxes) == 1][:4]
    cores = os.cpu_count()
    fps = {threads: video_fps(one_face, threads, (4, 12) if args.quick else (20, 80)) for threads in (1, cores)}

    lines = ["## Emotions on FER-2013 (`benchmarks/bench_emotion.py`)", "",
             f"Machine: {machine_line()}. {len(indices)} faces of the PublicTest split (`val/`); one thread.", "",
             f"Accuracy: **{accuracy:.3f}**. Per class (faces, accuracy):", "",
             "| " + " | ".join(reader.classes) + " |", "|" + "---|" * len(reader.classes),
             "| " + " | ".join(f"{matrix[k].sum()}, {matrix[k, k] / max(matrix[k].sum(), 1):.3f}"
                               for k in range(len(reader.classes))) + " |", "",
             "![confusion matrix](benchmarks/figures/emotion_confusion.png)", "",
             "Valence and arousal against the seed's coordinates of each face's class, on faces whose target is "
             "not zero:", "",
             "| | valence RMSE | valence SAGR | arousal RMSE | arousal SAGR |", "|---|---|---|---|---|"]
    for name, figures in (("regressor (`emotion-va.npz`)", regressed), ("classifier's expectation", expected),
                          ("always the commoner sign", commoner)):
        lines.append(f"| {name} | {figures['valence']['rmse']:.2f} | {figures['valence']['sagr']:.3f} | "
                     f"{figures['arousal']['rmse']:.2f} | {figures['arousal']['sagr']:.3f} |")
    lines += ["", "Time per face on one thread (median ms):", "",
              "| classes, one window | valence and arousal, one window | classes, 45-window vote |",
              "|---|---|---|", f"| {one:.1f} | {one_va:.1f} | {vote:.1f} |", "",
              "Video, `detect.py VIDEO --emotion` at 640x480 (detection, one window for classes and for valence and "
              "arousal, one face in view): "
              f"**{fps[1]:.1f}** frames/s on one thread, {fps[cores]:.1f} on {cores}."]
    body = "\n".join(lines)
    print(body)
    write_section(args.out, "bench_emotion", body)


if __name__ == "__main__":
    main()
