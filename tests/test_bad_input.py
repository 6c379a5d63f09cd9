"""Bad input and faults: odd pictures, broken model files and annotations, nonsense options, crashes at every
checkpoint write. Each gets one clear line or a correct result, never a traceback, a hang or a silent wrong
answer; nothing is overwritten or lost."""
import io
import json
import subprocess
import sys
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import nets
from nanonet import runs, serialize
from nets.annotations import read_keypoints_csv, read_webfaces, readable
from nanonet.data.datasets import DataError, ListDataset
from nanonet.data.image import ImageError, ImageWarning, read_image
from nanonet.serialize import ModelFileError
from nanonet.training import Diverged
from nets.registry import load_model
from tests.cases import cascade_files, tiny_trainer
from tests.data_files import WEBFACES_CSV, class_folders, train_py, webfaces_folder, write_image

ROOT = Path(__file__).resolve().parents[1]
SMILE = ROOT / "nets" / "weights" / "smile.npz"


def _detect(*args):
    return subprocess.run([sys.executable, str(ROOT / "detect.py"), *map(str, args)], capture_output=True,
                          text=True, timeout=300)


# -- pictures ------------------------------------------------------------------------------------------

def test_deep_pictures_are_scaled_to_8_bits_not_clipped(tmp_path):
    ramp = np.linspace(0, 65535, 64 * 64).reshape(64, 64).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "grey16.png")
    Image.fromarray(ramp).save(tmp_path / "grey16.tif")
    Image.fromarray(ramp.astype(np.float32) / 65535).save(tmp_path / "float.tif")
    for name in ("grey16.png", "grey16.tif", "float.tif"):
        a = read_image(tmp_path / name)
        assert a.dtype == np.uint8 and a.shape == (64, 64, 3)
        assert a.min() == 0 and a.max() == 255 and 120 <= a.mean() <= 135, name   # a ramp, not black or white


def test_exif_orientation_is_applied(tmp_path):
    picture = np.zeros((20, 40, 3), np.uint8)
    picture[:, :10] = 255                       # the left quarter bright
    image = Image.fromarray(picture)
    exif = image.getexif()
    exif[0x0112] = 6                            # stored sideways: turn 90 degrees clockwise to view
    image.save(tmp_path / "phone.jpg", exif=exif, quality=95)
    upright = read_image(tmp_path / "phone.jpg")
    assert upright.shape == (40, 20, 3)
    assert upright[:10].mean() > 200 and upright[-10:].mean() < 50     # the bright part is now on top


def test_a_multi_page_picture_gives_its_first_page_and_says_so(tmp_path):
    pages = [Image.fromarray(np.full((8, 8), v, np.uint8)) for v in (10, 200)]
    pages[0].save(tmp_path / "pages.tif", save_all=True, append_images=pages[1:])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert read_image(tmp_path / "pages.tif").max() == 10
    assert any(issubclass(w.category, ImageWarning) and "2 pages" in str(w.message) for w in caught)
    result = _detect(tmp_path / "pages.tif")
    assert result.returncode == 0 and "detect.py: warning: " in result.stderr and "2 pages" in result.stderr


def test_an_oversized_picture_is_refused_in_one_line_and_the_run_goes_on(tmp_path):
    Image.fromarray(np.zeros((300, 400, 3), np.uint8)).save(tmp_path / "a_big.png")
    Image.fromarray(np.zeros((100, 100, 3), np.uint8)).save(tmp_path / "b_small.png")
    with pytest.raises(ImageError, match="above the limit"):
        read_image(tmp_path / "a_big.png", max_pixels=100_000)
    result = _detect(tmp_path, "--max-pixels", "0.1", "--json")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "a_big.png: 400x300 is 0.12 Mpixel, above the limit" in result.stderr
    assert [json.loads(line)["image"] for line in result.stdout.splitlines()] == [str(tmp_path / "b_small.png")]


def test_a_path_object_is_a_picture_to_read():
    boxes, scores = nets.load("face").detect(ROOT / "examples" / "astronaut.jpg")
    assert len(boxes) == 1 and scores[0] > 0.9


# -- detection options ---------------------------------------------------------------------------------

@pytest.mark.parametrize("option", [["--min-size", "0"], ["--min-size", "-3"], ["--threshold", "nan"],
                                    ["--threshold", "2"], ["--threshold", "-1"], ["--workers", "0"],
                                    ["--max-pixels", "0"], ["--method", "fcn"]])
def test_detect_py_refuses_nonsense_options_in_one_line(option):
    result = _detect(ROOT / "examples" / "astronaut.jpg", *option)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("detect.py: ") and option[0] in result.stderr


@pytest.mark.parametrize("name", ["face", "anime"])
@pytest.mark.parametrize("option", [dict(min_size=0), dict(min_size=1), dict(threshold=float("nan")),
                                    dict(threshold=2), dict(nms_iou=-0.1), dict(scale_step=1.0)])
def test_detectors_refuse_settings_that_would_hang_or_mean_nothing(name, option):
    with pytest.raises(ValueError, match=next(iter(option))):
        nets.load(name, **option)


def test_detect_py_empty_folder_and_bad_draw_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    result = _detect(tmp_path / "empty")
    assert result.returncode == 2 and result.stderr.strip() == f"detect.py: no image files in {tmp_path / 'empty'}"
    (tmp_path / "file").write_text("")
    result = _detect(ROOT / "examples" / "astronaut.jpg", "--draw", tmp_path / "file")
    assert result.returncode == 2 and result.stderr.strip() == f"detect.py: --draw {tmp_path / 'file'}: not a folder"


def test_help_shows_defaults():
    from nets.cascade_detector import CascadeDetector
    from nets.detector import default_setting
    shown = " ".join(_detect("--help").stdout.split())
    assert "(default: 200.0)" in shown
    assert f"{default_setting(CascadeDetector, 'threshold'):g} for faces, 0.85 for anime" in shown
    assert "(default: 0)" in train_py("--help").stdout


# -- model files ---------------------------------------------------------------------------------------

def _rewritten(path, out, header=None, arrays=None):
    """A copy of model file `path` with its header's fields and its arrays replaced."""
    with np.load(path, allow_pickle=False) as f:
        contents = {k: f[k] for k in f.files}
    old = json.loads(contents["__header__"].tobytes())
    new = header(old) if callable(header) else old
    contents["__header__"] = np.frombuffer(json.dumps(new).encode(), np.uint8)
    contents.update(arrays or {})
    np.savez(out, **contents)
    return out


MALFORMED = {
    "a JSON list": dict(header=lambda h: [h]),
    "config null": dict(header=lambda h: {**h, "config": None}),
    "arch a list": dict(header=lambda h: {**h, "arch": ["smile"]}),
    "input_size -5": dict(header=lambda h: {**h, "config": {**h["config"], "input_size": -5}}),
    "input_size '12'": dict(header=lambda h: {**h, "config": {**h["config"], "input_size": "48"}}),
    "classes null": dict(header=lambda h: {**h, "config": {**h["config"], "classes": None}}),
    "no mean": dict(arrays={"norm/mean": None}),
    "mean of a wrong shape": dict(arrays={"norm/mean": np.zeros((5, 2, 2), np.float32)}),
    "NaN normalisation": dict(arrays={"norm/std": np.full((3, 1, 1), np.nan, np.float32)}),
    "NaN weights": dict(arrays={"state/2/gamma": np.full(64, np.nan, np.float32)}),
}


@pytest.mark.parametrize("problem", MALFORMED)
def test_malformed_model_files_get_one_line(tmp_path, problem):
    change = dict(MALFORMED[problem])
    arrays = change.get("arrays") or {}
    if any(v is None for v in arrays.values()):      # an entry left out
        with np.load(SMILE) as f:
            kept = {k: f[k] for k in f.files if k not in arrays}
        np.savez(tmp_path / "bad.npz", **kept)
    else:
        _rewritten(SMILE, tmp_path / "bad.npz", change.get("header"), arrays)
    with pytest.raises(ModelFileError):
        load_model(tmp_path / "bad.npz")
    result = _detect(ROOT / "examples" / "astronaut.jpg", "--model", tmp_path / "bad.npz")
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_a_huge_declared_array_is_refused_before_it_is_read(tmp_path):
    with zipfile.ZipFile(tmp_path / "huge.npz", "w", zipfile.ZIP_DEFLATED) as z:
        header = json.dumps({"format": "nanonet-model", "version": 1, "arch": "smile", "config": {}, "meta": {}})
        buffer = io.BytesIO()
        np.save(buffer, np.frombuffer(header.encode(), np.uint8))
        z.writestr("__header__.npy", buffer.getvalue())
        buffer = io.BytesIO()
        np.lib.format.write_array_header_1_0(buffer, {"descr": "<f4", "fortran_order": False,
                                                      "shape": (100_000, 100_000)})
        z.writestr("state/0/W.npy", buffer.getvalue() + b"\0" * 1000)
    start = time.perf_counter()
    with pytest.raises(ModelFileError, match="declares 40 GB"):
        serialize.read(tmp_path / "huge.npz")
    assert time.perf_counter() - start < 5


def test_cascade_files_in_the_wrong_order_are_refused(tmp_path):
    paths = cascade_files(tmp_path, 4)
    with pytest.raises(ModelFileError, match="holds a cal12 net where the cascade's files take a net12"):
        nets.load_cascade([paths[1], paths[0]])


# -- annotations and data sets -------------------------------------------------------------------------

@pytest.mark.parametrize("row,message", [("a.jpg,nan,20,40,20,30,30,30,40", "finite"),
                                         ("a.jpg,inf,20,40,20,30,30,30,40", "finite"),
                                         ("a.jpg,1e30,20,40,20,30,30,30,40", "finite"),
                                         ("a.jpg,20,20,20,20,20,20,20,20", "in one place")])
def test_impossible_webfaces_coordinates_are_refused(tmp_path, row, message):
    csv = WEBFACES_CSV.splitlines()[0] + "\n" + row + "\n"
    with pytest.raises(DataError, match=message):
        read_webfaces(webfaces_folder(tmp_path / "wf", csv=csv))


def test_a_non_image_among_annotated_images_is_one_line_or_skipped(tmp_path):
    folder = webfaces_folder(tmp_path / "wf")
    (folder / "images" / "b.jpg").write_bytes(b"not a picture")
    images = read_webfaces(folder)
    assert [Path(a.path).name for a in readable(images)] == ["a.jpg"]
    common = ("--net", "net12", "--data", str(folder), "--val", str(folder), "--fast")
    result = train_py(*common)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "b.jpg" in result.stderr
    skipped = train_py(*common, "--skip-bad")
    assert "skipping" in skipped.stderr and "Traceback" not in skipped.stderr


def test_a_label_typo_in_a_list_file_is_refused(tmp_path):
    for k in range(3):
        write_image(tmp_path / f"{k}.png", 100)
    (tmp_path / "list.txt").write_text("0.png 0\n1.png 1\n2.png 5\n")
    with pytest.raises(DataError, match="no image has label 2, 3, 4"):
        ListDataset(tmp_path / "list.txt")


def test_a_corrupt_validation_image_stops_the_run_before_training(tmp_path):
    train, val = class_folders(tmp_path / "train", per_class=4, size=16), class_folders(tmp_path / "val", per_class=2)
    (val / "face" / "0.png").write_bytes(b"broken")
    result = train_py("--net", "smile", "--data", str(train), "--val", str(val), "--out", str(tmp_path / "run"))
    assert result.returncode == 2 and "0.png" in result.stderr and "epoch 1" not in result.stderr + result.stdout


def test_keypoint_rows_need_finite_numbers(tmp_path):
    write_image(tmp_path / "a.png", 100)
    (tmp_path / "points.csv").write_text("file,p_x,p_y\na.png,nan,3\n")
    with pytest.raises(DataError, match="finite"):
        read_keypoints_csv(tmp_path / "points.csv")


# -- training faults -----------------------------------------------------------------------------------

def test_out_naming_a_file_is_refused_before_any_work(tmp_path):
    data = class_folders(tmp_path / "set", per_class=4, size=16)
    (tmp_path / "taken").write_text("")
    result = train_py("--net", "smile", "--data", str(data), "--val", "0.5", "--out", str(tmp_path / "taken"))
    assert result.returncode == 2 and result.stderr.strip() == f"train.py: --out {tmp_path / 'taken'}: not a folder"


def test_a_diverging_run_stops_with_a_line_and_writes_no_best_model(tmp_path):
    trainer = tiny_trainer(tmp_path)
    trainer.loss = lambda y, t: (float("nan"), y * 0)
    with pytest.raises(Diverged, match="the loss is nan at epoch 1, batch 1"):
        trainer.run()
    assert not (tmp_path / "best.npz").exists() and not (tmp_path / "last.npz").exists()


def test_a_crash_at_every_checkpoint_write_resumes_to_the_same_weights(tmp_path, monkeypatch):
    """Each write of an epoch's end (best.npz, last.npz, metrics.jsonl) is cut off in turn, its temporary file
    left behind as a kill would leave it; resuming from what is on disk ends on the uninterrupted weights,
    with best.npz holding what last.npz names, and metrics.jsonl a record per epoch and each point once."""
    straight = tiny_trainer(tmp_path / "straight")
    straight.run()
    writes = []
    real_write = serialize.atomic_write

    def counted(path, write):
        writes.append(Path(path).name)
        real_write(path, write)
    monkeypatch.setattr(serialize, "atomic_write", counted)
    tiny_trainer(tmp_path / "count").run()
    monkeypatch.setattr(serialize, "atomic_write", real_write)
    for crash in range(len(writes)):
        out = tmp_path / f"crash{crash}"
        seen = []

        def dying(path, write):
            seen.append(path)
            if len(seen) - 1 == crash:
                (Path(path).parent / f".tmp-killed-{Path(path).name}").write_bytes(b"half")
                raise KeyboardInterrupt
            real_write(path, write)
        monkeypatch.setattr(serialize, "atomic_write", dying)
        with pytest.raises(KeyboardInterrupt):
            tiny_trainer(out).run()
        monkeypatch.setattr(serialize, "atomic_write", real_write)
        if (out / "last.npz").exists():     # resumed: the weights come from the checkpoint, not the seed
            resumed = tiny_trainer(out, init_seed=99).resume(out / "last.npz")
        else:                               # nothing to resume: the same run again
            resumed = tiny_trainer(out)
        assert resumed.run() == "finished"
        for name, a in straight.model.state().items():
            assert a.tobytes() == resumed.model.state()[name].tobytes(), (crash, writes[crash], name)
        best = serialize.read(out / "best.npz").meta["training"]
        assert best["best"] == resumed.best == straight.best
        records = runs.read_records(out / "metrics.jsonl")
        assert [r["epoch"] for r in records if not runs.is_point(r)] == [1, 2, 3]
        points = [(r["epoch"], r["batch"]) for r in records if runs.is_point(r)]
        assert points == sorted(set(points))       # none written twice by the run and its resumption
        assert not list(out.glob(".tmp-*"))
