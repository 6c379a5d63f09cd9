"""Detect faces: python detect.py IMAGE_OR_FOLDER... [--model face|anime|FILE] [--smile] [--emotion]
[--keypoints] [--json] [--draw DIR] ..."""
import os

# One thread each for BLAS and numba, set before they load: the detectors' matrix products are small, and
# idle threads spinning beside busy ones made detection slower than one thread (bench_batch.py), two to four
# times slower on a busy machine. --workers spreads the images over processes instead.
for _variable in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
os.environ.setdefault("OMP_WAIT_POLICY", "passive")
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")   # a broken video gets our one line, not FFmpeg's too

import json  # noqa: E402
import multiprocessing  # noqa: E402
import sys  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import nets  # noqa: E402
from nanonet.backend import BackendError  # noqa: E402
from nanonet.cli import Parser, one_line_warnings  # noqa: E402
from nanonet.data.datasets import IMAGE_EXTENSIONS  # noqa: E402
from nanonet.data.image import MAX_PIXELS, ImageError, read_image  # noqa: E402
from nanonet.progress import Progress  # noqa: E402
from nanonet.serialize import ModelFileError  # noqa: E402
from nets.detector import METHODS, SMALLEST_FACE  # noqa: E402
from nets.expression import one_per_face, read_faces  # noqa: E402
from nets.keypoints import points_on_faces  # noqa: E402
from nets.video import (Tracks, VideoError, frames, is_video, largest_face_emotions, open_video, overlay,  # noqa: E402
                        plot_timeline, top_moments)

MIN_READ = 24   # faces with a shorter side (px) are too small to read a smile or an emotion from


def image_paths(inputs):
    """Files as given; folders as their image files, sorted. Missing paths are passed on to fail on read."""
    for path in inputs:
        if os.path.isdir(path):
            yield from (os.path.join(path, f) for f in sorted(os.listdir(path)) if f.lower().endswith(IMAGE_EXTENSIONS))
        else:
            yield path


def drawing_paths(paths, folder):
    """Where --draw saves the drawing of each input: FOLDER/NAME in the input's own format (PNG for a format
    Pillow does not write), never one of the inputs and never one path for two inputs (NAME-2.EXT, ...)."""
    writable = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
    inputs = {os.path.realpath(p) for p in paths}
    taken, out = set(), []
    for path in paths:
        stem, ext = os.path.splitext(os.path.basename(path))
        ext = ext if ext.lower() in writable else ".png"
        candidate, n = os.path.join(folder, stem + ext), 1
        while os.path.realpath(candidate) in inputs or candidate in taken:
            n += 1
            candidate = os.path.join(folder, f"{stem}-{n}{ext}")
        taken.add(candidate)
        out.append(candidate)
    return out


def drawing_folder_problem(folder):
    """Why `folder` cannot take the drawings (made if missing), or None."""
    if os.path.exists(folder) and not os.path.isdir(folder):
        return "not a folder"
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        return f"cannot make the folder ({e.strerror or e})"
    return None if os.access(folder, os.W_OK) else "the folder cannot be written"


def draw(image, faces, path):
    """Save `image` with each face's box, score, and smile or emotion label drawn."""
    drawn = overlay(np.ascontiguousarray(image), faces, alpha=0, colour=(0, 255, 0),
                    first=lambda face: f"{face['score']:.2f}")
    Image.fromarray(drawn).save(path)


_detector = None
_readers, _vote, _max_pixels = {}, True, MAX_PIXELS


def _start(model, gpu, options, readers=(), vote=True, max_pixels=MAX_PIXELS, threads=None):
    """Load the detector and the expression readers, in this process or in a worker; a worker runs its
    kernels on one thread."""
    global _detector, _readers, _vote, _max_pixels
    one_line_warnings("detect.py")
    if threads:
        cv2.setNumThreads(threads)
    _detector = nets.load(model, gpu=gpu, **options)
    _readers, _vote, _max_pixels = {name: nets.load(name, gpu=gpu) for name in readers}, vote, max_pixels


def faces_of(image, vote, tracks=None):
    """The faces of one picture as JSON-ready dicts, each with its readers' verdicts ("smile", "emotion") if
    its box is large enough, its "keypoints" if asked for, and with `tracks` (nets.video.Tracks) an "id" kept
    across frames and verdicts smoothed over its last readings; and their boxes (K, 4)."""
    boxes, scores = _detector.detect(image)
    if _readers:    # a face with two boxes gets one reading
        keep = one_per_face(boxes, scores)
        boxes, scores = boxes[keep], scores[keep]
    faces = [{"x": int(round(x)), "y": int(round(y)), "w": int(round(w)), "h": int(round(h)),
              "score": round(float(s), 4)} for (x, y, w, h), s in zip(boxes, scores)]
    ids = tracks.assign(boxes) if tracks else None
    for face, identity in zip(faces, ids or []):
        face["id"] = identity
    readable = [k for k, (_, _, w, h) in enumerate(boxes) if min(w, h) >= MIN_READ]
    if "keypoints" in _readers:
        for face, points in zip(faces, points_on_faces(_readers["keypoints"], image, boxes)):
            face["keypoints"] = np.round(points, 1).tolist()
    for name, reader in _readers.items():
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


def verdict(reader, probabilities, valence_arousal=None):
    """A face's JSON reading: the likeliest class and its probability; with valence and arousal (the emotion
    reader), every class's probability and the two values too."""
    best = int(probabilities.argmax())
    out = {"label": reader.classes[best], "score": round(float(probabilities[best]), 4)}
    if valence_arousal is not None:
        out.update(probabilities={c: round(float(q), 4) for c, q in zip(reader.classes, probabilities)},
                   valence=round(float(valence_arousal[0]), 3), arousal=round(float(valence_arousal[1]), 3))
    return out


def _detect(job):
    """(path, result dict or None, error line or None) for job = (image file, where to draw it or None)."""
    path, drawing = job
    try:
        image = read_image(path, max_pixels=_max_pixels)
    except ImageError as e:
        return path, None, str(e)
    faces, _ = faces_of(image, _vote)
    if drawing:
        try:
            draw(image, faces, drawing)
        except OSError as e:
            return path, None, f"{drawing}: cannot write the drawing ({e.strerror or e})"
    return path, {"image": path, "width": image.shape[1], "height": image.shape[0], "faces": faces}, None


def run_video(source, args):
    """Detect (and read) the faces of every --every-th frame of a video file or camera `source`: a JSON line a
    processed frame, --draw's video with the overlay, --timeline's picture. Returns the exit status."""
    name = f"camera {source}" if isinstance(source, int) else source
    capture = open_video(source)
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0) if not isinstance(source, int) else 0
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    writer, tracks, records, faces, count = None, Tracks(), [], [], 0
    bar = Progress(total, os.path.basename(str(name)), unit="frame") if total > 0 else None
    try:
        for index, seconds, frame, processed in frames(capture, args.every):
            count = index + 1
            if processed:
                faces, _ = faces_of(frame, vote=False, tracks=tracks)
                record = {"video": name, "frame": index, "time": round(seconds, 3), "faces": faces}
                records.append(record)
                print(json.dumps(record), flush=True)
            if args.draw:
                if writer is None:
                    writer = cv2.VideoWriter(args.draw, cv2.VideoWriter_fourcc(*"mp4v"), fps, frame.shape[1::-1])
                    if not writer.isOpened():
                        raise VideoError(f"--draw {args.draw}: cannot write a video there")
                writer.write(np.ascontiguousarray(overlay(frame, faces)[:, :, ::-1]))
            if bar:
                bar.update(1)
    except KeyboardInterrupt:       # a camera runs until Ctrl-C: keep what was read
        pass
    finally:
        if bar:
            bar.close()
        if writer is not None:
            writer.release()
        capture.release()
    if args.timeline:
        timeline(records, args)
    if count == 0:
        raise VideoError(f"{name}: no frame could be read")
    if total and count < total - 1:    # frame counts of some containers are off by one
        print(f"detect.py: {name}: unreadable after frame {count} of {total}; kept what was read",
              file=sys.stderr)
        return 1
    return 0


def timeline(records, args):
    """--timeline: each emotion's probability over time for the largest face, with the top moments of
    --moment, which are also printed."""
    classes = _readers["emotion"].classes
    times, probabilities = largest_face_emotions(records, classes)
    moments = top_moments(times, probabilities, classes.index(args.moment)) if len(times) else []
    plot_timeline(args.timeline, times, probabilities, classes, args.moment, moments)
    print(f"detect.py: top {args.moment} moments: " + (", ".join(f"{t:.2f} s ({p:.2f})" for t, p in moments)
                                                       or "none (no face read)"), file=sys.stderr)


def _reader_gone():
    """The reader of our output has gone (detect.py ... | head): stop quietly, as other command-line tools do."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())   # else the exit's flush fails again
    return 141


def main(argv=None):
    parser = Parser(description=__doc__)
    parser.add_argument("images", nargs="*", metavar="IMAGE",
                        help="image files or folders of them, or video files (.mp4, .avi, .mov, ...)")
    parser.add_argument("--camera", type=int, metavar="N", help="read the video of camera N (Ctrl-C ends it)")
    parser.add_argument("--every", type=int, default=1, metavar="N", help="video: process every Nth frame")
    parser.add_argument("--timeline", metavar="PNG",
                        help="video, with --emotion: plot each emotion's probability over time for the largest "
                             "face, and list the top moments of --moment")
    parser.add_argument("--moment", default="surprise", help="the emotion whose top moments --timeline lists")
    parser.add_argument("--model", default="face",
                        help="face (the CNN cascade, the default), anime (FrgNet64-slim), or a model file")
    parser.add_argument("--gpu", type=int, default=-1, metavar="N", help="GPU number, -1 for the CPU (default)")
    parser.add_argument("--min-size", type=int, metavar="PX",
                        help=f"the smallest window scanned, in pixels, at least {SMALLEST_FACE} (default: the "
                             "detector's: 24 for faces, 48 for anime); calibration may shrink a box found at that "
                             "size to 0.83 of it")
    parser.add_argument("--threshold", type=float, metavar="P",
                        help="lowest face probability kept, 0 to 1 (default: the detector's: 0.5 for faces, 0.9 for "
                             "anime)")
    parser.add_argument("--max-pixels", type=float, default=MAX_PIXELS / 1e6, metavar="M",
                        help="refuse pictures of more than M megapixels, with a line, and go on")
    parser.add_argument("--method", choices=METHODS, help="anime detector: cascade, fcn or windows")
    parser.add_argument("--smile", action="store_true",
                        help="read each face's smile: \"smile\": {\"label\", \"score\"} in the JSON")
    parser.add_argument("--keypoints", action="store_true",
                        help="place the 68 iBUG points on each face: \"keypoints\": [[x, y], ...] in the JSON")
    parser.add_argument("--emotion", action="store_true",
                        help="read each face's emotion, valence and arousal: \"emotion\": {\"label\", \"score\", "
                             "\"probabilities\", \"valence\", \"arousal\"} in the JSON")
    parser.add_argument("--one-window", action="store_true",
                        help="read smiles and emotions from each face's box alone, rather than by the vote of 45 "
                             "windows about it (45 times faster)")
    parser.add_argument("--json", action="store_true", help="one JSON object per image per line")
    parser.add_argument("--draw", metavar="DIR",
                        help="save each image with its boxes drawn into DIR, in its own format, never over an input; "
                             "for a video, the video file to write with the faces overlaid (.mp4)")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="spread the images over N processes, each on one thread (default 1: this process)")
    args = parser.parse_args(argv)
    videos = [p for p in args.images if is_video(p)] + ([args.camera] if args.camera is not None else [])
    if not args.images and args.camera is None:
        parser.error("give images, folders or a video, or --camera N")
    if videos and len(videos) != len(args.images) + (args.camera is not None):
        parser.error("give either pictures or videos, not both at once")
    if videos and len(videos) > 1 and (args.draw or args.timeline):
        parser.error("--draw and --timeline take one video at a time")
    if args.every < 1:
        parser.error(f"--every {args.every}: must be at least 1")
    if args.timeline and not args.emotion:
        parser.error("--timeline plots emotions: add --emotion")
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.min_size is not None and args.min_size < SMALLEST_FACE:
        parser.error(f"--min-size {args.min_size}: the smallest face side must be at least {SMALLEST_FACE} pixels")
    if args.threshold is not None and not 0 <= args.threshold <= 1:
        parser.error(f"--threshold {args.threshold}: a probability lies between 0 and 1")
    if not args.max_pixels > 0:
        parser.error(f"--max-pixels {args.max_pixels}: must be above 0")
    if args.method and args.model == "face":
        parser.error("--method chooses how the anime detector (or a model file's net) scans; the face cascade "
                     "has no such option")
    options = {k: v for k, v in (("min_size", args.min_size), ("threshold", args.threshold),
                                 ("method", args.method)) if v is not None}
    readers = [name for name in ("smile", "emotion", "keypoints") if getattr(args, name)]
    settings = (args.model, args.gpu, options, readers, not args.one_window, args.max_pixels * 1e6)
    if videos:
        try:
            _start(*settings, threads=1)
            classes = _readers["emotion"].classes if args.emotion else []
            if args.timeline and args.moment not in classes:
                raise ValueError(f"--moment {args.moment}: one of {', '.join(classes)}")
            return max(run_video(source, args) for source in videos)
        except (ModelFileError, BackendError, ValueError) as e:
            print(f"detect.py: {e}", file=sys.stderr)
            return 2
        except BrokenPipeError:
            return _reader_gone()
    paths = list(image_paths(args.images))
    if not paths:
        print(f"detect.py: no image files in {', '.join(args.images)}", file=sys.stderr)
        return 2
    problem = args.draw and drawing_folder_problem(args.draw)
    if problem:
        print(f"detect.py: --draw {args.draw}: {problem}", file=sys.stderr)
        return 2
    try:    # here too: a bad model or option fails at once
        _start(*settings, threads=1)
    except (ModelFileError, BackendError, ValueError) as e:
        print(f"detect.py: {e}", file=sys.stderr)
        return 2
    jobs = list(zip(paths, drawing_paths(paths, args.draw) if args.draw else [None] * len(paths)))
    if args.workers > 1 and len(paths) > 1:
        pool = multiprocessing.get_context("spawn").Pool(min(args.workers, len(paths)), _start, settings + (1,))
        results = pool.imap(_detect, jobs, chunksize=4)
    else:
        pool, results = None, map(_detect, jobs)
    failures = 0
    try:
        for path, found, error in results:
            if error:
                print(f"detect.py: {error}", file=sys.stderr)
                failures += 1
            elif args.json:
                print(json.dumps(found), flush=True)
            else:
                faces = found["faces"]
                print(f"{path}: {len(faces)} face{'s' if len(faces) != 1 else ''}"
                      + "".join(f"\n  x {f['x']} y {f['y']} w {f['w']} h {f['h']} score {f['score']:.3f}"
                                + "".join(f" {k} {f[k]['label'] or '(too small)'}" if k != "keypoints" else
                                          f" {len(f[k])} keypoints" for k in readers) for f in faces))
    except BrokenPipeError:
        return _reader_gone()
    finally:
        if pool:
            pool.terminate()
    return 2 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
