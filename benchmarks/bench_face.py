"""The CNN cascade face detector against OpenCV's Haar (default, alt2) and LBP frontal cascades and the optional
peers (dlib HOG, MTCNN, BlazeFace: benchmarks/install_peers.sh): recall against false positives per image on
the held-out WebFaces images, single-threaded time per 640x480 image, and every detector's boxes on the
README's example picture. Beside them: recall on pictures unlike WebFaces (the YouTube-68 frames of the people no
net trained on), with faces partly hidden, and detections on pictures without faces.

    python benchmarks/bench_face.py [--model face] [--timing 40] [--out BENCHMARKS.md]
    python benchmarks/bench_face.py --review     # candidates for MISSED_FACES, as pictures in benchmarks/out

The validation images are those train.py holds out of ../shared/data/faces-webfaces (a tenth, by a hash of
the file name), which no stage of the cascade trained on. A detection finds a face when their IoU is at
least 0.5 (OpenCV's Haar boxes have the same scale and centre as our face boxes: median side ratio 0.97).
The annotations miss many faces (crowds, backgrounds, profiles, faces in pictures), which every detector that
finds them is charged with as false positives. MISSED_FACES lists the detections that overlap no annotated
face, pooled over all the detectors here (ours scoring at least REVIEW_FLOOR), each looked at and marked a
face or not; a detection on one marked a face (IoU >= 0.5) counts neither as a hit nor as a false positive
(nets/evaluation.py), and the table gives false positives both ways. `--review` draws the pooled detections
that no listed box explains, numbered, for the next look (after a detector changes).
All detectors look for faces of at least 24 pixels (dlib's HOG detector cannot: it finds faces from about 80);
the cascades run with scaleFactor 1.1 and minNeighbors 5, the peers at their defaults. Figures are written
to benchmarks/figures/ beside --out.
Each detector's discrete ROC sweeps its score (the last net's face probability; a cascade's level weight)
over the detections it returns at its own settings (ours with its final threshold at 0); its operating point,
the run at its defaults, is marked. Times are medians over validation images resized to 640x480, the
detectors taking turns on each image, one thread each, in 3 rounds (the median of the round medians).
"""
import os

# single-threaded, like the cascades; numba's OpenMP pool too, which otherwise keeps a second thread busy. Only
# when run: a process that imports this module may have started numba's threads already
if __name__ == "__main__":
    for _variable in ("OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS", "OMP_NUM_THREADS"):
        os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import csv  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import nets  # noqa: E402
from benchmarks import peers  # noqa: E402
from benchmarks.common import machine_line, webfaces_validation, write_section  # noqa: E402
from nanonet.kernels.nms import iou  # noqa: E402
from nanonet.data.image import read_image  # noqa: E402
from nanonet.kernels.windows import extract_windows  # noqa: E402
from nanonet.plot import line_chart  # noqa: E402
from nets.evaluation import Tally  # noqa: E402
from nets.keypoints import head_turn, person_of  # noqa: E402
from nets.occluders import KINDS, occlude  # noqa: E402
from nets.registry import NETS  # noqa: E402
from nets.stages import as_rgb  # noqa: E402
from nets.training import landmark_faces  # noqa: E402

MIN_SIZE = 24
STAGE_THRESHOLDS = [dict(threshold12=a, threshold24=b) for a, b in ((0.3, 0.12), (0.25, 0.15), (0.25, 0.12),
                                                                    (0.2, 0.15))]
FINAL_THRESHOLDS = (0.3, 0.4, 0.5, 0.55, 0.6, 0.7, 0.8, 0.9)
REVIEW_FLOOR = 0.5
OURS = "nanonet face (CNN cascade)"
MIRROR = ", the 24- and 48-nets and the 12- and 24-calibration nets reading each crop's mirror image too"
MOVED = (", the 48-net judging each window also where the 48-cal net moves it (its score the mean of the "
         "two readings)")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "astronaut.jpg")
FALSE_POSITIVES = os.path.join(ROOT, "benchmarks", "out", "face_false_positives.png")
# detections in the held-out images that overlap no annotated face, as x, y, w, h, each marked a face (one
# that the annotations miss) or not (see the module's docstring)
MISSED_FACES = os.path.join(ROOT, "benchmarks", "webfaces_missed_faces.csv")
REVIEW = os.path.join(ROOT, "benchmarks", "out", "face_review")
# scikit-image's bundled pictures that show no person (camera and astronaut do)
NO_PEOPLE = ("brick", "cat", "cell", "clock", "coffee", "coins", "colorwheel", "grass", "gravel", "horse",
             "hubble_deep_field", "immunohistochemistry", "logo", "moon", "page", "retina", "rocket",
             "stereo_motorcycle", "text")
# a face's person and body, in face sides from its box's corner (x, y): x - w, y - 0.5 h, 3 w wide and 8 h
# high; x - w, y + 1.2 h, 3 w wide and 4 h high
PERSON, BODY = (-1.0, -0.5, 3.0, 8.0), (-1.0, 1.2, 3.0, 4.0)
SIDE_EDGES = (0, 24, 32, 48, 96, np.inf)
TURN_EDGES = (0, 0.2, 0.6, np.inf)      # nets.keypoints.head_turn: facing the camera, turned, turned far
KEYPOINTS = NETS["keypoints"].data


def missed_faces(path=MISSED_FACES, faces_only=True):
    """{image file name: float (G, 4) boxes} of the faces the annotations miss (or, with faces_only=False,
    of every box looked at)."""
    boxes = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row["face"] == "yes" or not faces_only:
                boxes.setdefault(row["file"], []).append([float(row[k]) for k in "xywh"])
    return {name: np.array(b) for name, b in boxes.items()}


def ignored_in(a, missed):
    return missed.get(os.path.basename(a.path), np.zeros((0, 4)))


def tally(detector, images, missed):
    """(Tally, median ms per image at the images' own sizes) of a peers.Detector."""
    result, times = Tally(), []
    for a in images:
        boxes, scores, ms = detector.run(read_image(a.path))
        times.append(ms)
        result.add(boxes, scores, a.boxes, ignore=ignored_in(a, missed))
    return result, statistics.median(times)


def occluded_tally(detector, images, missed, seed=0):
    """Tally of a peers.Detector on the images with every annotated face partly covered by an occluder
    (nets.occluders), each image's the same for every detector."""
    result = Tally()
    for k, a in enumerate(images):
        image = occlude(read_image(a.path), a.keypoints, np.random.default_rng([seed, k]))
        boxes, scores, _ = detector.run(image)
        result.add(boxes, scores, a.boxes, ignore=ignored_in(a, missed))
    return result


def unlike_webfaces():
    """The YouTube-68 frames of the people that the keypoints nets hold out, whom no net trained on, as annotated
    faces (one a frame, boxed from its points by WebFaces' rule); [] without the data set."""
    return landmark_faces(KEYPOINTS, held_out=True) if os.path.exists(KEYPOINTS) else []


def turned_tally(detector, frames, turns):
    """(recall, false positives a frame), then the recall on the frames of each head turn (`turns`: each frame's
    bin of TURN_EDGES) of a peers.Detector on annotated frames of one face each."""
    result = Tally()
    for a in frames:
        boxes, scores, _ = detector.run(read_image(a.path))
        result.add(boxes, scores, a.boxes)
    found = ~np.isnan(np.concatenate(result.found + [np.zeros(0)]))     # a frame's face found, by the tally's match
    return (*result.at(), *(found[turns == k].mean() if (turns == k).any() else np.nan
                            for k in range(len(TURN_EDGES) - 1)))


def skimage_pictures():
    """{name: RGB uint8 picture} of the pictures scikit-image ships that show no person ({} without it)."""
    try:
        import skimage.data
    except ImportError:
        return {}
    pictures = {}
    for name in NO_PEOPLE:
        picture = getattr(skimage.data, name)()
        picture = np.asarray(picture[0] if isinstance(picture, tuple) else picture)   # a stereo pair's left
        pictures[name] = as_rgb(picture.astype(np.uint8) * 255 if picture.dtype == bool else picture)
    return pictures


def clipped(face, part, shape):
    """The `part` (dx, dy, width, height in face sides) of face (x, y, w, h), as the (x0, y0, x1, y1) of it
    inside an image of `shape`, in whole pixels."""
    x, y, w, h = face[0] + part[0] * face[2], face[1] + part[1] * face[3], part[2] * face[2], part[3] * face[3]
    return (max(int(x), 0), max(int(y), 0), min(int(np.ceil(x + w)), shape[1]), min(int(np.ceil(y + h)), shape[0]))


def faceless_regions(image, faces, least=96):
    """Regions (x0, y0, x1, y1) of `image` far from every person: the strips left of, right of and above
    every face's person (PERSON: the face's box widened to its shoulders and run down to its knees), at
    least `least` pixels both ways."""
    height, width = image.shape[:2]
    if not len(faces):
        return [(0, 0, width, height)]
    people = np.array([clipped(face, PERSON, image.shape) for face in faces])
    left, top = people[:, 0].min(), people[:, 1].min()
    right = people[:, 2].max()
    strips = [(0, 0, left, height), (right, 0, width, height), (0, 0, width, top)]
    return [(x0, y0, x1, y1) for x0, y0, x1, y1 in strips if x1 - x0 >= least and y1 - y0 >= least]


def body_regions(image, faces, least=48):
    """Regions (x0, y0, x1, y1) below each face where its body shows (BODY: three face widths wide, from its
    chin down four face heights), at least `least` pixels both ways and touching no face of `faces`."""
    regions = []
    for face in faces:
        x0, y0, x1, y1 = clipped(face, BODY, image.shape)
        if x1 - x0 >= least and y1 - y0 >= least and iou(np.array([x0, y0, x1 - x0, y1 - y0]), faces).max() == 0:
            regions.append((x0, y0, x1, y1))
    return regions


def faceless_sets(images, missed):
    """{set name: [RGB uint8 pictures]} that hold no face: scikit-image's pictures without people, the
    held-out WebFaces images' regions far from any person, and their regions of people's bodies below the
    faces (clothing, hands, accessories). A face marked missed counts as a face here too."""
    far, bodies = [], []
    for a in images:
        image = read_image(a.path)
        faces = np.concatenate([a.boxes, ignored_in(a, missed)]).reshape(-1, 4)
        far += [image[y0:y1, x0:x1] for x0, y0, x1, y1 in faceless_regions(image, faces)]
        bodies += [image[y0:y1, x0:x1] for x0, y0, x1, y1 in body_regions(image, faces)]
    sets = {"scikit-image pictures without people": list(skimage_pictures().values()),
            "WebFaces regions far from any person": far, "WebFaces regions of bodies below the faces": bodies}
    return {name: pictures for name, pictures in sets.items() if pictures}     # none without scikit-image


def false_alarms(detector, pictures):
    """Detections per picture of `detector` (peers.Detector) on faceless `pictures`."""
    return sum(len(detector.detect(picture)[1]) for picture in pictures) / max(len(pictures), 1)


def tuning_table(model, images, missed, faceless):
    """Markdown lines: for each STAGE_THRESHOLDS point and each of FINAL_THRESHOLDS, our recall and false
    positives per image on the held-out images and detections per picture on each `faceless` set, with the
    median ms per held-out image: what the defaults are picked on."""
    rows = []
    for point in STAGE_THRESHOLDS:
        sweep = nets.load(model, min_size=MIN_SIZE, threshold=0.0, **point).detect
        result, ms = tally(peers.Detector(OURS, sweep), images, missed)
        scores = [[sweep(picture)[1] for picture in pictures] for pictures in faceless.values()]
        for t in FINAL_THRESHOLDS:
            alarms = " | ".join(f"{np.mean([np.sum(s >= t) for s in found]):.3f}" for found in scores)
            rows.append(f"| {point['threshold12']:g} | {point['threshold24']:g} | {t:g} | "
                        "{:.3f} | {:.3f} | ".format(*result.at(t)) + f"{alarms} | {ms:.1f} |")
    return ["Tuning our thresholds on the same pictures (faces the annotations miss not counted; median ms per "
            "held-out image at its own size, up to 640 pixels a side):", "",
            "| 12-net | 24-net | 48-net | recall | false positives / image | " + " | ".join(faceless) + " | ms |",
            "|---|---|---|---|---|" + "---|" * (len(faceless) + 1), *rows]


def timings(detectors, images, count, rounds=3):
    """ms per 640x480 image of each detector: the median over `rounds` rounds of each round's median, with
    the min and max of the round medians. In a round the detectors take turns image by image."""
    pictures = [cv2.resize(read_image(a.path), (640, 480), interpolation=cv2.INTER_AREA) for a in images[:count]]
    medians = {name: [] for name in detectors}
    for _ in range(rounds):
        times = {name: [] for name in detectors}
        for image in pictures:
            for name, detector in detectors.items():
                times[name].append(detector.run(image)[2])
        for name, t in times.items():
            medians[name].append(statistics.median(t))
    return {name: (statistics.median(m), min(m), max(m)) for name, m in medians.items()}


def tiled(panels, columns):
    """One picture of equal-sized panels, `columns` a row, the last row padded with white."""
    panels = panels + [np.full_like(panels[0], 255)] * (-len(panels) % columns)
    return np.vstack([np.hstack(panels[i:i + columns]) for i in range(0, len(panels), columns)])


def panel(image, box, faces, label, side=96):
    """`box` (red) cut from `image` with half its side of context around it, the annotated `faces` there
    (green), `label` below."""
    x, y, w, h = box
    margin = w / 2
    picture = extract_windows(image, np.array([[x - margin, y - margin, w + 2 * margin, h + 2 * margin]]),
                              side)[0]
    scale = side / (w + 2 * margin)
    for (fx, fy, fw, fh), colour in [*((f, (0, 200, 0)) for f in faces), (box, (230, 0, 0))]:
        left, top = (fx - x + margin) * scale, (fy - y + margin) * scale
        cv2.rectangle(picture, (round(left), round(top)), (round(left + fw * scale), round(top + fh * scale)),
                      colour, 1)
    picture = cv2.copyMakeBorder(picture, 0, 14, 0, 0, cv2.BORDER_CONSTANT, value=(255, 255, 255))
    cv2.putText(picture, label, (2, side + 11), cv2.FONT_HERSHEY_SIMPLEX, 0.33, (0, 0, 0), 1, cv2.LINE_AA)
    return picture


def operating_point(detector, images, missed, picture, columns=12):
    """The Tally of `detector` at its own settings. Each of its false positives is drawn into `picture`, so
    that one can see what they are."""
    result, panels = Tally(), []
    for a in images:
        image = read_image(a.path)
        boxes, scores = detector.detect(image)
        result.add(boxes, scores, a.boxes, ignore=ignored_in(a, missed))
        false = result.false()
        panels += [panel(image, box, a.boxes, f"{score:.2f} {box[2]:.0f}px")
                   for box, score in zip(boxes[false], scores[false])]
    if panels:
        os.makedirs(os.path.dirname(picture), exist_ok=True)
        cv2.imwrite(picture, cv2.cvtColor(tiled(panels, columns), cv2.COLOR_RGB2BGR))
    return result


def unexplained(detections, faces, looked):
    """Clusters of the detections {detector name: (K, 4) boxes} of one image that overlap no annotated face
    (IoU < 0.3) and no box looked at before, `looked` (IoU < 0.5); detections overlapping by 0.4 or more join
    one cluster. Returns [(median box, sorted detector names)]."""
    def overlaps(box, boxes, least):
        return len(boxes) and iou(box, boxes).max() >= least

    pool = [(name, box) for name, boxes in detections.items() for box in boxes
            if not overlaps(box, faces, 0.3) and not overlaps(box, looked, 0.5)]
    cluster = list(range(len(pool)))
    for i in range(len(pool)):
        for j in range(i):
            if iou(pool[i][1], pool[j][1][None])[0] >= 0.4:
                old, new = cluster[i], cluster[j]
                cluster = [new if c == old else c for c in cluster]
    return [(np.median([box for (_, box), c in zip(pool, cluster) if c == k], axis=0),
             sorted({name for (name, _), c in zip(pool, cluster) if c == k})) for k in dict.fromkeys(cluster)]


def review(detectors, images, looked, path=REVIEW, columns=8, rows=5):
    """Draw every cluster of `unexplained` detections of detectors {name: detect}, numbered, into
    path_NN.png, and list them in path.csv (number, file, median box, detectors): the rows belong in
    MISSED_FACES, marked a face or not."""
    panels, listed = [], []
    for a in images:
        image = read_image(a.path)
        detections = {name: np.asarray(detect(image)[0], np.float64).reshape(-1, 4)
                      for name, detect in detectors.items()}
        for box, names in unexplained(detections, a.boxes, ignored_in(a, looked)):
            panels.append(panel(image, box, a.boxes, f"{len(listed)} {box[2]:.0f}px", side=128))
            listed.append((os.path.basename(a.path), *np.round(box, 1), "; ".join(names)))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".csv", "w", newline="") as f:
        csv.writer(f).writerows([("number", "file", "x", "y", "w", "h", "detectors"),
                                 *((k, *row) for k, row in enumerate(listed))])
    for page, start in enumerate(range(0, len(panels), columns * rows)):
        cv2.imwrite(f"{path}_{page:02d}.png",
                    cv2.cvtColor(tiled(panels[start:start + columns * rows], columns), cv2.COLOR_RGB2BGR))
    return listed


def boxes_picture(detectors, path, side=256):
    """One panel per detector: its boxes on the example picture, its name above."""
    image = read_image(EXAMPLE)
    scale = side / max(image.shape[:2])
    panels = []
    for name, detector in detectors.items():
        panel = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        panel = cv2.copyMakeBorder(panel, 22, 0, 0, 0, cv2.BORDER_CONSTANT, value=(255, 255, 255))
        for x, y, w, h in (detector.detect(image)[0] * scale).round().astype(int):
            cv2.rectangle(panel, (x, y + 22), (x + w, y + h + 22), (0, 220, 0), 2)
        cv2.putText(panel, name[:34], (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
        panels.append(panel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    cv2.imwrite(path, cv2.cvtColor(tiled(panels, 4), cv2.COLOR_RGB2BGR))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="face", help="face (the shipped cascade)")
    parser.add_argument("--images", type=int,
                        help="the first N validation images (and YouTube-68 frames) only (default: all)")
    parser.add_argument("--timing", type=int, default=30, help="validation images to time at 640x480")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "BENCHMARKS.md"))
    parser.add_argument("--review", action="store_true",
                        help="draw the detections that neither the annotations nor MISSED_FACES explain into "
                             f"{REVIEW}_NN.png")
    args = parser.parse_args(argv)
    if not os.path.exists(NETS["net12"].data):
        print("bench_face.py: ../shared/data is not here; nothing to measure")
        return 0
    cv2.setNumThreads(1)
    images, missed = webfaces_validation()[:args.images], missed_faces()
    if args.review:
        others, _ = peers.face_peers(MIN_SIZE, threads=1)
        pooled = {f"{OURS} {p['threshold12']:g}/{p['threshold24']:g}":
                  nets.load(args.model, min_size=MIN_SIZE, threshold=REVIEW_FLOOR, **p).detect for p in STAGE_THRESHOLDS}
        listed = review({**pooled, **{p.name: p.detect for p in others}}, images, missed_faces(faces_only=False))
        print(f"{len(listed)} clusters of detections that no annotated face or listed box explains: {REVIEW}.csv "
              f"and {REVIEW}_NN.png; add them to {os.path.relpath(MISSED_FACES, ROOT)}, each marked a face or not")
        return 0
    ours = nets.load(args.model, min_size=MIN_SIZE)
    sweep = nets.load(args.model, min_size=MIN_SIZE, threshold=0.0)   # every score: the ROC
    others, notes = peers.face_peers(MIN_SIZE, threads=1)
    detectors = {OURS: peers.Detector(OURS, ours.detect), **{p.name: p for p in others}}
    tallies = {name: tally(peers.Detector(name, sweep.detect) if name == OURS else detector, images, missed)[0]
               for name, detector in detectors.items()}
    times = timings(detectors, images, args.timing)
    figures = os.path.join(os.path.dirname(os.path.abspath(args.out)), "benchmarks", "figures")  # beside --out
    boxes_picture(detectors, os.path.join(figures, "face_boxes.png"))
    points = {OURS: operating_point(ours, images, missed, FALSE_POSITIVES)}
    default = points[OURS]
    occluded = {name: occluded_tally(detector, images, missed).at() for name, detector in detectors.items()}
    faceless = faceless_sets(images, missed)
    alarms = {name: [false_alarms(detector, pictures) for pictures in faceless.values()]
              for name, detector in detectors.items()}
    frames = unlike_webfaces()[:args.images]
    turns = np.digitize(head_turn([a.keypoints[0] for a in frames]), TURN_EDGES) - 1
    unlike = {name: turned_tally(detector, frames, turns) for name, detector in detectors.items()}
    for p in others:
        getattr(p, "close", lambda: None)()
    haar_ms = times["haarcascade_frontalface_default"][0]

    rows, panels = [], []
    for ignoring in (True, False):
        series, marks = {}, {}
        for name, result in tallies.items():
            _, r, f = result.roc(ignoring=ignoring)
            series[name] = (list(f), list(r))
            marks[name] = points.get(name, result).at(ignoring=ignoring)[::-1]
        panels.append(dict(title=("faces the annotations miss not counted" if ignoring else "the annotations alone"),
                           xlabel="false positives per image", ylabel="recall (IoU >= 0.5)", series=series,
                           marks=marks, xlim=(0, 0.5), ylim=(0, 1)))
    line_chart(os.path.join(figures, "face_roc.png"), panels, size=(620, 460))
    for name, result in tallies.items():
        (recall, fppi), (_, raw) = (points.get(name, result).at(ignoring=i) for i in (True, False))
        ms, lo, hi = times[name]
        rows.append(f"| {name} | {recall:.3f} | {fppi:.3f} | {raw:.3f} | {ms:.1f} ({lo:.0f}-{hi:.0f}) | "
                    f"{haar_ms / ms:.2f} |")

    by_side = []
    for name, result in tallies.items():
        cells = " | ".join(f"{recall:.3f}" for _, recall in points.get(name, result).recall_by_side(SIDE_EDGES))
        by_side.append(f"| {name} | {cells} |")
    counts = " | ".join(f"{n}" for n, _ in default.recall_by_side(SIDE_EDGES))
    sides = [f"{lo:g}-{hi:g} px" if np.isfinite(hi) else f"{lo:g} px and more" for lo, hi in
             zip(SIDE_EDGES[:-1], SIDE_EDGES[1:])]
    sides[0] = f"under {SIDE_EDGES[1]} px"
    own_recall = {name: points.get(name, tallies[name]).at()[0] for name in detectors}     # at its own settings
    occluded_rows = [f"| {name} | {own_recall[name]:.3f} | {occluded[name][0]:.3f} | "
                     f"{occluded[name][1]:.3f} |" for name in detectors]
    alarm_rows = [f"| {name} | {own_recall[name]:.3f} | "
                  + " | ".join(f"{a:.3f}" for a in alarms[name]) + " |" for name in detectors]
    unlike_rows = [f"| {name} | {own_recall[name]:.3f} | "
                   + " | ".join(f"{v:.3f}" for v in unlike[name]) + " |" for name in detectors]
    turn_counts = np.bincount(turns, minlength=len(TURN_EDGES) - 1)
    frame_sides = [a.boxes[0, 2] for a in frames] or [0]
    setting = ours.settings

    def listed(*names):
        return ", ".join(f"{setting[name]:g}" for name in names)
    body = "\n".join([
        "## Faces: the CNN cascade against OpenCV's cascades (`benchmarks/bench_face.py`)", "",
        f"Machine: {machine_line()}; one thread each. {len(images)} held-out WebFaces images with "
        f"{sum(len(a.boxes) for a in images)} annotated faces, and {sum(len(missed.get(os.path.basename(a.path), ())) for a in images)} "
        f"faces that the annotations miss (`{os.path.relpath(MISSED_FACES, ROOT)}`: found among every detector's "
        "detections that hit no annotated face, and looked at one by one); a detection on one of those counts "
        "neither as a hit nor as a false positive, and the column 'annotations alone' counts it as a false "
        f"positive. Minimum face {MIN_SIZE} px; "
        f"our thresholds {listed('threshold12', 'threshold24', 'threshold')} (12-, 24-, 48-net), NMS "
        f"{listed('nms12', 'nms24', 'nms_iou')} (then {setting['nested']:g} over the smaller box's area), scale "
        f"step {setting['scale_step']}, windows every "
        f"{setting['stride']} px at 12x12 (every {ours.stages[0].net.stride} px for windows of at least "
        f"{setting['fine_from']:g} of the picture's short side){MIRROR if setting['mirror'] else ''}"
        f"{', the 48-cal net too' if setting['mirror_cal48'] else ''}"
        f"{MOVED if setting['judge_moved'] else ''}. Times: the "
        f"median over 3 rounds of each round's median over {min(args.timing, len(images))} images resized to "
        "640x480 (min-max of the round medians); in a round the detectors take turns on each image.", "",
        "| detector | recall | false positives / image | false positives / image, annotations alone | "
        "ms / 640x480 image | speed vs Haar |",
        "|---|---|---|---|---|---|", *rows, "",
        "![ROC](benchmarks/figures/face_roc.png)", "",
        "Recall by the annotated face's side, each detector at its own settings (faces in each range: "
        f"{counts}):", "",
        "| detector | " + " | ".join(sides) + " |", "|---|" + "---|" * len(sides), *by_side, "",
        "Faces partly hidden: every annotated face of the held-out images covered by a synthetic "
        f"{', '.join(KINDS[:-1])} or {KINDS[-1]} (`nets/occluders.py`, painted from the face's four points below "
        "its eyes; the same pictures for every detector), each detector at its own settings:", "",
        "| detector | recall | recall, faces occluded | false positives / image, faces occluded |",
        "|---|---|---|---|", *occluded_rows, "",
        "Detections per picture on pictures that hold no face, all of them false: "
        + "; ".join(f"{len(pictures)} {name}" for name, pictures in faceless.items())
        + " (a face's person: its box widened to 3 sides and run down to 8; its body: 3 sides wide from 1.2 "
        "sides below its top, 4 sides high, touching no face). The recall is on the held-out WebFaces faces, "
        "as above:", "",
        "| detector | recall | " + " | ".join(faceless) + " |", "|---|---|" + "---|" * len(faceless),
        *alarm_rows, "",
        f"Pictures unlike WebFaces: the {len(frames)} YouTube-68 frames of the "
        f"{len({person_of(a.path) for a in frames})} people that the keypoints nets hold out, whom no net trained on "
        "(video frames cut about one face, at most 160 px a side; the face boxed from its points by WebFaces' "
        f"rule, {np.median(frame_sides):.0f} px at the median, {min(frame_sides):.0f} to {max(frame_sides):.0f}). "
        "The recall is on the held-out WebFaces faces, as above; then on the frames by how far the head is "
        "turned (the nose tip's offset from the middle of the jaw's ends, as a fraction of half their distance: "
        f"under {TURN_EDGES[1]:g} facing the camera, {TURN_EDGES[2]:g} and more three-quarter views to profiles; "
        f"frames: {' | '.join(map(str, turn_counts))}):", "",
        "| detector | recall | recall, YouTube-68 frames | false positives / frame | facing | turned | turned far |",
        "|---|---|---|---|---|---|---|",
        *unlike_rows, "",
        *(f"Skipped: {note}.\n" for note in notes),
        f"`{os.path.relpath(FALSE_POSITIVES, ROOT)}` shows our {round(default.at()[1] * len(images))} false "
        "positives at the default threshold, each with the annotated faces near it (not committed: it is cut "
        "from the data set).", "",
        "Every detector's boxes on the README's example picture (NASA, public domain):", "",
        "![boxes](benchmarks/figures/face_boxes.png)"])
    body += "\n".join(["", "", *tuning_table(args.model, images, missed, faceless)])
    write_section(args.out, "bench_face", body)
    print(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
