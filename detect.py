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

import functools  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import sys  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from nanonet.backend import BackendError  # noqa: E402
from nanonet.cli import Parser  # noqa: E402
from nanonet.data.datasets import IMAGE_EXTENSIONS  # noqa: E402
from nanonet.data.image import MAX_PIXELS  # noqa: E402
from nanonet.progress import Progress  # noqa: E402
from nanonet.serialize import ModelFileError  # noqa: E402
from nets import batch  # noqa: E402
from nets.cascade_detector import CascadeDetector  # noqa: E402
from nets.detector import METHODS, SMALLEST_FACE, SlidingWindowDetector, default_setting  # noqa: E402
from nets.video import (Tracks, VideoError, frames, is_video, largest_face_emotions, open_video, overlay,  # noqa: E402
                        plot_timeline, top_moments)

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


def run_video(session, source, args):
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
                faces, _ = session.faces_of(frame, tracks=tracks, vote=False)
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
        timeline(session, records, args)
    if count == 0:
        raise VideoError(f"{name}: no frame could be read")
    if total and count < total - 1:    # frame counts of some containers are off by one
        print(f"detect.py: {name}: unreadable after frame {count} of {total}; kept what was read",
              file=sys.stderr)
        return 1
    return 0


def timeline(session, records, args):
    """--timeline: each emotion's probability over time for the largest face, with the top moments of
    --moment, which are also printed."""
    classes = session.readers["emotion"].classes
    times, probabilities = largest_face_emotions(records, classes)
    moments = top_moments(times, probabilities, classes.index(args.moment)) if len(times) else []
    plot_timeline(args.timeline, times, probabilities, classes, args.moment, moments)
    print(f"detect.py: top {args.moment} moments: " + (", ".join(f"{t:.2f} s ({p:.2f})" for t, p in moments)
                                                       or "none (no face read)"), file=sys.stderr)


def _reader_gone():
    """The reader of our output has gone (detect.py ... | head): stop quietly, as other command-line tools do."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())   # else the exit's flush fails again
    return 141


def defaults(setting):
    """A setting's defaults for the two shipped detectors, as --help says them."""
    return ", ".join(f"{default_setting(detector, setting):g} for {name}"
                     for name, detector in (("faces", CascadeDetector), ("anime", SlidingWindowDetector)))


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
                             f"detector's: {defaults('min_size')}); calibration may shrink a box found at that size "
                             "to 0.83 of it")
    parser.add_argument("--threshold", type=float, metavar="P",
                        help=f"lowest face probability kept, 0 to 1 (default: the detector's: {defaults('threshold')})")
    parser.add_argument("--tilt", type=float, metavar="DEG",
                        help="also search each picture turned by DEG degrees each way, for heads tilted about that "
                             "far (30 finds most heads tilted by 15 to 45): three searches, and more false positives")
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
    parser.add_argument("--dask", metavar="ADDRESS",
                        help="send the images as tasks to a Dask cluster: a scheduler's tcp://HOST:PORT, or local:N "
                             "for a local cluster of N processes; results come as JSON lines, as they finish")
    parser.add_argument("--out", metavar="FILE", help="write the JSON lines to FILE rather than to the screen")
    parser.add_argument("--resume", action="store_true",
                        help="with --out: skip the images FILE already holds, and append the others")
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
    if args.dask and args.workers > 1:
        parser.error("--dask spreads the images over the cluster's workers: leave out --workers")
    if args.resume and not args.out:
        parser.error("--resume continues the results of --out FILE: give it")
    if videos and (args.dask or args.out):
        parser.error("--dask and --out take pictures; a video prints its JSON lines")
    if args.min_size is not None and args.min_size < SMALLEST_FACE:
        parser.error(f"--min-size {args.min_size}: the smallest face side must be at least {SMALLEST_FACE} pixels")
    if args.threshold is not None and not 0 <= args.threshold <= 1:
        parser.error(f"--threshold {args.threshold}: a probability lies between 0 and 1")
    if args.tilt is not None and not 0 < args.tilt <= 90:
        parser.error(f"--tilt {args.tilt:g}: an angle in degrees above 0, at most 90")
    if not args.max_pixels > 0:
        parser.error(f"--max-pixels {args.max_pixels}: must be above 0")
    if args.method and args.model == "face":
        parser.error("--method chooses how the anime detector (or a model file's net) scans; the face cascade "
                     "has no such option")
    options = {k: v for k, v in (("min_size", args.min_size), ("threshold", args.threshold),
                                 ("method", args.method)) if v is not None}
    if args.tilt:
        options["tilts"] = (-args.tilt, args.tilt)
    readers = [name for name in ("smile", "emotion", "keypoints") if getattr(args, name)]
    settings = (args.model, args.gpu, options, readers, not args.one_window, args.max_pixels * 1e6)
    if videos:
        try:
            session = batch.start(settings)
            classes = session.readers["emotion"].classes if args.emotion else []
            if args.timeline and args.moment not in classes:
                raise ValueError(f"--moment {args.moment}: one of {', '.join(classes)}")
            return max(run_video(session, source, args) for source in videos)
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
        batch.start(settings)
    except (ModelFileError, BackendError, ValueError) as e:
        print(f"detect.py: {e}", file=sys.stderr)
        return 2
    jobs = list(zip(paths, drawing_paths(paths, args.draw) if args.draw else [None] * len(paths)))
    try:
        output, done = open_output(args.out, args.resume)
    except (OSError, ValueError) as e:
        print(f"detect.py: --out {args.out}: {getattr(e, 'strerror', None) or e}", file=sys.stderr)
        return 2
    try:
        return report([job for job in jobs if job[0] not in done], settings, args, output)
    except ValueError as e:         # a --dask address that answers nothing
        print(f"detect.py: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return _reader_gone()
    finally:
        if output is not sys.stdout:
            output.close()


def open_output(path, resume):
    """(where the results go, the images it already holds): the screen; a new FILE; or with --resume, FILE
    to append to, its images skipped (a last line cut short by a stop is dropped, and its image read again)."""
    if not path:
        return sys.stdout, set()
    if not resume:
        if os.path.exists(path):
            raise ValueError("it already holds results; pass --resume to continue it, or choose another file")
        return open(path, "x"), set()
    done = set()
    data = open(path, "rb").read() if os.path.exists(path) else b""
    complete = data[:data.rfind(b"\n") + 1]
    for line in complete.splitlines():
        try:
            done.add(json.loads(line)["image"])
        except (ValueError, KeyError, TypeError):
            pass
    output = open(path, "a")
    output.truncate(len(complete))      # only a last line cut short by a stop: its image runs again
    return output, done


def report(jobs, settings, args, output):
    """Run the jobs (image file, drawing or None) here, in --workers processes or on a --dask cluster, and
    write each result as it comes: a JSON line (--json, --out, --dask) or a summary. Returns the exit status."""
    pool = client = None
    if args.dask:
        client = batch.dask_client(args.dask)
        results = batch.on_cluster(client, settings, jobs)
    elif args.workers > 1 and len(jobs) > 1:
        pool = multiprocessing.get_context("spawn").Pool(min(args.workers, len(jobs)), batch.start, (settings,))
        results = pool.imap(functools.partial(batch.picture, settings), jobs, chunksize=4)
    else:
        results = map(functools.partial(batch.picture, settings), jobs)
    as_json = args.json or args.out or args.dask
    failures = 0
    try:
        for path, found, error in results:
            if error:
                print(f"detect.py: {error}", file=sys.stderr)
                failures += 1
            elif as_json:
                print(json.dumps(found), file=output, flush=True)
            else:
                print(summary(path, found["faces"]), file=output, flush=True)
    finally:
        if pool:
            pool.terminate()
        if client:
            client.close()
    return 2 if failures else 0


def summary(path, faces):
    """A picture's faces as lines to read."""
    def readings(face):     # smile and emotion labels, the number of keypoints
        return "".join(f" {k} {v['label'] or '(too small)'}" if k != "keypoints" else f" {len(v)} keypoints"
                       for k, v in face.items() if isinstance(v, (dict, list)))
    return f"{path}: {len(faces)} face{'s' if len(faces) != 1 else ''}" + "".join(
        f"\n  x {f['x']} y {f['y']} w {f['w']} h {f['h']} score {f['score']:.3f}" + readings(f) for f in faces)


if __name__ == "__main__":
    sys.exit(main())
