"""The shipped keypoints net on the people that train.py holds out of YouTube-68, beside the mean shape.

    python benchmarks/bench_keypoints.py [--quick] [--out BENCHMARKS.md]

- err, the keypoints seed's score: the mean squared error of the coordinates, measured on the frame resized
  to 100x100, and on the face's own box resized to 100x100 (the square on the longer side of its 68 points'
  bounding box, enlarged by 10%); per image, then the mean and the median over the images.
- The held-out people: a tenth of them by a hash of the name (nets.keypoints.person_of), as train.py holds
  out. The mean shape: every frame gets the training frames' mean points, as shares of its sides.
- detect.py's way: the face cascade's box on each held-out frame, the frame about it (nets.keypoints.FRAMING)
  cut and read; scored on the face's box as above, over the frames where the cascade finds the face.
- The framing: the face cascade's box on every tenth training frame against the frame (medians), which
  nets.keypoints.FRAMING holds.
- nets.load("keypoints") reads in two looks: the frame net on the frame, then the fine net on the crop about
  the points it found. The first look alone: the frame net's points (Keypoints.predict(refine=False)).
- Time: ms per face on one thread, a frame given, beside MediaPipe's Face Mesh when the peers are installed
  (benchmarks/install_peers.sh): medians over rounds in which the two take turns; and ours again with every
  convolution on im2col, for the time that Winograd's convolutions save.
"""
import argparse
import os
import sys

if __name__ == "__main__":
    for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[_variable] = "1"

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import nanonet as nn  # noqa: E402
import nets  # noqa: E402
from benchmarks.common import machine_line, median_time, write_section  # noqa: E402
from benchmarks.peers import ExternalPeer, PeerUnavailable  # noqa: E402
from nanonet.data.datasets import split_by_name  # noqa: E402
from nets.keypoints import FRAMING, REGIONS, face_boxes, person_of, points_on_faces, read_data  # noqa: E402
from nets.registry import NETS  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def err(predicted, truth, scale):
    """(N,) the seed's err per image: the mean squared coordinate error, coordinates scaled by `scale` (N, 1, 1)
    or (N, 1, 2), which maps the frame or the face's box to 100x100."""
    return (((predicted - truth) * scale) ** 2).mean(axis=(1, 2))


def found_face(detector, frame, points):
    """The face cascade's box on `frame` nearest the centre of the face's points, or None if it finds none."""
    boxes, _ = detector.detect(frame)
    if not len(boxes):
        return None
    centre = (points.min(axis=0) + points.max(axis=0)) / 2
    return boxes[np.abs(boxes[:, :2] + boxes[:, 2:] / 2 - centre).sum(axis=1).argmin()]


def framing(detector, frames, points):
    """(K, 4): frame width and height over the face cascade's box side, and the frame's centre's offset from the
    box's centre over its side, for the frames where it finds the face (found_face)."""
    rows = []
    for frame, p in zip(frames, points):
        box = found_face(detector, frame, p)
        if box is not None:
            x, y, w, h = box
            height, width = frame.shape[:2]
            rows.append((width / w, height / w, (width / 2 - x - w / 2) / w, (height / 2 - y - h / 2) / w))
    return np.array(rows)


def detected(detector, reader, frames, points):
    """(predicted, truth) points of the frames where the face cascade finds the face, read as detect.py does."""
    predicted, truth = [], []
    for frame, p in zip(frames, points):
        box = found_face(detector, frame, p)
        if box is not None:
            predicted.append(points_on_faces(reader, frame, box[None])[0])
            truth.append(p)
    return np.array(predicted), np.array(truth)


def without_winograd(call):
    """call, with every convolution on im2col and GEMM: the time that Winograd's convolutions save."""
    def run():
        saved, nn.Conv2D.winograd_min_channels = nn.Conv2D.winograd_min_channels, sys.maxsize
        try:
            return call()
        finally:
            nn.Conv2D.winograd_min_channels = saved
    return run


def timings(reader, frame, rounds=5, calls=50):
    """({"ours", "first look", "Face Mesh"?: ms per face}, a note for the line that reports them): medians over
    `rounds` rounds of each round's median over `calls` calls on one frame, the readers taking turns in a
    round; MediaPipe's Face Mesh (468 points, tracking: its landmark net alone) when the peers are installed,
    as a ratio measured side by side."""
    readers = {"ours": lambda: median_time(lambda: reader.predict([frame]), calls)[0] * 1e3,
               "first look": lambda: median_time(lambda: reader.predict([frame], refine=False), calls)[0] * 1e3,
               "im2col": without_winograd(lambda: median_time(lambda: reader.predict([frame]), calls)[0] * 1e3)}
    try:
        mesh = ExternalPeer("Face Mesh", threads=1)
        mesh.run(frame)
        readers["Face Mesh"] = lambda: float(np.median([mesh.run(frame)[2] for _ in range(calls)]))
    except PeerUnavailable as skipped:
        mesh, note = None, f" (no peer beside it: {skipped})"
    per_round = [{name: time_it() for name, time_it in readers.items()} for _ in range(rounds)]
    ms = {name: float(np.median([r[name] for r in per_round])) for name in readers}
    if mesh:
        mesh.close()
        ratio = np.median([r["ours"] / r["Face Mesh"] for r in per_round])
        note = (f"; MediaPipe's Face Mesh ({mesh.version}; 468 points, tracking a face it found in the frame "
                f"before: its landmark net alone, on one core) {ms['Face Mesh']:.2f}, ours {ratio:.2f} times "
                f"its time; medians over {rounds} rounds of {calls} calls, the two taking turns")
    return ms, note


def plot(path, frames, predicted, truth):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, 4, figsize=(10, 5.6))
    for ax, frame, p, t in zip(axes.flat, frames, predicted, truth):
        ax.imshow(frame)
        ax.scatter(t[:, 0], t[:, 1], s=6, c="lime", label="annotated")
        ax.scatter(p[:, 0], p[:, 1], s=6, c="red", label="predicted")
        ax.axis("off")
    axes.flat[0].legend(loc="lower left", fontsize=7)
    fig.suptitle("Keypoints on held-out people: annotated (green), predicted (red)")
    fig.tight_layout()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a tenth of the frames (a smoke test)")
    p.add_argument("--out", default=os.path.join(os.path.dirname(HERE), "BENCHMARKS.md"))
    args = p.parse_args(argv)
    data = read_data(NETS["keypoints"].data)
    train, val = split_by_name(data, 0.1, person_of)
    every = 10 if args.quick else 1
    frames = [val.image(i) for i in range(0, len(val), every)]
    truth = val.keypoints[::every]
    sides = np.array([f.shape[1::-1] for f in frames], np.float64)[:, None, :]
    on_frame, on_face = 100 / sides, 100 / face_boxes(truth)[:, 2][:, None, None]

    reader, detector = nets.load("keypoints"), nets.load("face")
    predicted, one_look = reader.predict(frames), reader.predict(frames, refine=False)
    training = [(train.image(i), train.keypoints[i]) for i in range(0, len(train), 10 * every)]
    shares = np.mean([(k + 0.5) / f.shape[1::-1] for f, k in training], axis=0)
    mean_shape = shares[None] * sides - 0.5
    by_detector, by_detector_truth = detected(detector, reader, frames, truth)
    frame_ratios = np.median(framing(detector, *zip(*training)), axis=0)
    ms, peer_note = timings(reader, frames[0])

    def row(name, guess, frame_scale, face_scale, truth=truth):
        e_face = err(guess, truth, face_scale)
        regions = [err(guess[:, list(r)], truth[:, list(r)], face_scale).mean() for r in REGIONS.values()]
        e_frame = None if frame_scale is None else err(guess, truth, frame_scale)
        frame = " | " if e_frame is None else f"{e_frame.mean():.1f} | {np.median(e_frame):.1f}"
        return (f"| {name} | {frame} | {e_face.mean():.1f} | {np.median(e_face):.1f} | "
                + " | ".join(f"{v:.1f}" for v in regions) + " |")
    people = [len({person_of(d.key(i)) for i in range(len(d))}) for d in (val, data)]
    lines = ["## Facial keypoints on YouTube-68 (`benchmarks/bench_keypoints.py`)", "",
             f"Machine: {machine_line()}. {len(frames)} frames of the {people[0]} people train.py holds out (of "
             f"{people[1]}); err is "
             "the mean squared coordinate error with the frame, or the face's box, resized to 100x100 (the "
             "seed passes at 20, tops at 5); per region on the face's box.", "",
             "| points | err on frame, mean | median | err on face box, mean | median | "
             + " | ".join(REGIONS) + " |",
             "|---|---|---|---|---|" + "---|" * len(REGIONS),
             row("nanonet keypoints, two looks (frame net, then fine net)", predicted, on_frame, on_face),
             row("the frame net's first look alone", one_look, on_frame, on_face),
             row("mean shape (training frames' mean)", mean_shape, on_frame, on_face),
             row(f"detect.py's way: the frame about the face cascade's box ({len(by_detector)} frames it finds)",
                 by_detector, None, 100 / face_boxes(by_detector_truth)[:, 2][:, None, None], by_detector_truth), "",
             f"Ms per face on one thread: {ms['ours']:.2f} ({ms['first look']:.2f} for the first look alone, "
             f"{ms['im2col']:.2f} with every convolution on im2col rather than Winograd's F(2x2, 3x3))"
             + peer_note + ". The training frames about the face cascade's box: "
             f"{frame_ratios[0]:.2f} by {frame_ratios[1]:.2f} box sides, centred {frame_ratios[2]:+.3f}, "
             f"{frame_ratios[3]:+.3f} sides from the box's centre (nets.keypoints.FRAMING: {FRAMING}).", "",
             "![predicted against annotated points](benchmarks/figures/keypoints.png)"]
    # beside the BENCHMARKS.md written, as its link reads
    plot(os.path.join(os.path.dirname(os.path.abspath(args.out)), "benchmarks", "figures", "keypoints.png"),
         frames[:8], predicted[:8], truth[:8])
    body = "\n".join(lines)
    print(body)
    write_section(args.out, "bench_keypoints", body)


if __name__ == "__main__":
    main()
