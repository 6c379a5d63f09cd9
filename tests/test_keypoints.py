"""Facial keypoints: the points table, the split by person, the flip table, the reader's coordinates, and the
seed's train_detector / detect API."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import nets
from nanonet import serialize
from nanonet.data.datasets import DataError, points_folder, read_points_table, split_by_name
from nanonet.data.iterator import BatchIterator
from nets.keypoints import (FLIP_PAIRS, FRAMING, POINTS, REGIONS, KeypointReader, Keypoints, detect, frame_about,
                           person_of, points_on_faces, train_detector)
from tests.data_files import ROOT, keypoints_folder


def test_points_table_reads_rows_after_a_header_and_refuses_bad_ones(tmp_path):
    path = tmp_path / "k.csv"
    path.write_text("file,x0,y0,x1,y1\na.jpg,1,2,3,4\nb.jpg,5,6,7.5,8\n")
    table = read_points_table(path)
    assert list(table) == ["a.jpg", "b.jpg"] and table["b.jpg"].tolist() == [[5, 6], [7.5, 8]]
    for rows, message in [("a.jpg,1,2,3\n", "x, y pairs"), ("a.jpg,1,2\nb.jpg,1,2,3,4\n", "fields"),
                          ("a.jpg,1,nan\n", "finite"), ("a.jpg,1,2\na.jpg,3,4\n", "twice"), ("", "no rows")]:
        path.write_text(rows)
        with pytest.raises(DataError, match=message):
            read_points_table(path)


def test_points_folder_names_missing_images_and_uneven_points(tmp_path):
    root, table = keypoints_folder(tmp_path / "set", people=2, frames=2, points=3)
    data = points_folder(root / "images", table)
    assert len(data) == 4 and data.keypoints.shape == (4, 3, 2) and data.classes == []
    with pytest.raises(DataError, match="no such image"):
        points_folder(root / "images", {**table, "gone.jpg": [1, 2, 3, 4, 5, 6]})
    with pytest.raises(DataError, match="x, y pairs"):
        points_folder(root / "images", {**table, "person0_00.jpg": [1, 2, 3]})
    with pytest.raises(DataError, match="different numbers"):
        points_folder(root / "images", {**table, "person0_00.jpg": [1, 2, 3, 4]})


def test_validation_holds_out_whole_people():
    assert person_of("train_Abdel_Aziz_Al-Hakim_00.jpg") == person_of("test_Abdel_Aziz_Al-Hakim_41.jpg") == \
        "Abdel_Aziz_Al-Hakim"
    assert person_of("images/Ann_Smith_3.png") == "Ann_Smith"


def test_split_by_person_never_parts_a_persons_frames(tmp_path):
    root, table = keypoints_folder(tmp_path / "set", people=12, frames=3, points=2)
    train, val = split_by_name(points_folder(root / "images", table), 0.3, person_of)
    people = [{person_of(d.key(i)) for i in range(len(d))} for d in (train, val)]
    assert people[0] and people[1] and not people[0] & people[1] and len(train) + len(val) == 36
    assert len(val) % 3 == 0


def test_flip_table_mirrors_the_ibug_points():
    partner = dict(FLIP_PAIRS + [(b, a) for a, b in FLIP_PAIRS])
    assert len(partner) == 2 * len(FLIP_PAIRS) and max(partner) < POINTS     # each point in one pair at most
    centre = {8, 27, 28, 29, 30, 33, 51, 57, 62, 66}
    assert set(range(POINTS)) - set(partner) == centre
    assert all(a in REGIONS[r] and b in REGIONS[r] for a, b in FLIP_PAIRS for r in REGIONS if a in REGIONS[r])
    assert sorted(i for r in REGIONS.values() for i in r) == list(range(POINTS))


class SharesModel:
    """Stands in for a net: gives back the shares the batch iterator made of each frame's points."""
    xp = np

    def __init__(self, shares):
        self.shares = shares

    def predict(self, x):
        return self.shares[:len(x)]


def test_reader_gives_points_back_in_each_frames_own_pixels(tmp_path):
    sizes = [(40, 40), (30, 52), (120, 70)]
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, (h, w, 3)).astype(np.uint8) for h, w in sizes]
    points = [rng.uniform(0, [w - 1, h - 1], (5, 2)) for h, w in sizes]
    for k, frame in enumerate(frames):
        Image.fromarray(frame).save(tmp_path / f"f{k}.png")
    data = points_folder(tmp_path, {f"f{k}.png": p for k, p in enumerate(points)})
    batches = BatchIterator(data, 3, 24, lambda x: x, shuffle=False, prefetch=False)
    shares = np.stack([batches.sample(i, 0)[1] for i in range(3)])
    reader = KeypointReader(SharesModel(shares), lambda x: x, 24, [f"v{i}" for i in range(10)])
    np.testing.assert_allclose(reader.predict(frames), np.stack(points), atol=1e-4)


def test_seed_api_trains_fast_and_detects_every_image(tmp_path):
    root, table = keypoints_folder(tmp_path / "set", people=5, frames=2, points=14)
    Image.open(root / "images" / "person0_00.jpg").convert("L").save(root / "images" / "person0_00.jpg")
    model = train_detector(table, str(root / "images"), fast_train=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set"]      # nothing written
    points = model.predict([np.zeros((30, 40), np.uint8), np.zeros((50, 20, 3), np.uint8)])
    assert points.shape == (2, 14, 2) and np.isfinite(points).all()


def test_detect_reads_a_model_file_over_a_folder_grey_images_too(tmp_path):
    import train
    root, table = keypoints_folder(tmp_path / "set", people=4, frames=2, points=POINTS)
    assert train.main(["--net", "keypoints", "--data", str(root), "--val", "0.3", "--epochs", "1", "--batch", "4",
                       "--loss", "wing", "--out", str(tmp_path / "run")]) == 0
    assert serialize.read(str(tmp_path / "run" / "best.npz")).meta["settings"]["loss"] == "wing"
    Image.open(root / "images" / "person1_01.jpg").convert("L").save(root / "images" / "person1_01.jpg")
    found = detect(str(tmp_path / "run" / "best.npz"), str(root / "images"))
    assert sorted(found) == sorted(table)
    assert all(len(v) == 2 * POINTS and all(isinstance(x, float) for x in v) for v in found.values())
    with pytest.raises(DataError, match="no such folder"):
        detect(str(tmp_path / "run" / "best.npz"), str(tmp_path / "nowhere"))


def test_a_classifier_refuses_a_regression_loss(capsys):
    import train
    assert train.main(["--net", "smile", "--loss", "wing", "--fast"]) == 2
    assert "smile is a classifier" in capsys.readouterr().err


class CentreReader:
    """Stands in for a KeypointReader: puts one point at the middle of every frame it is given."""
    input_size, output_names = 24, ["x0", "y0"]

    def predict(self, frames):
        assert frames.shape[1:] == (24, 24, 3)
        return np.full((len(frames), 1, 2), 11.5)


def test_points_on_faces_map_the_cut_frame_back_to_the_picture():
    image = np.zeros((200, 300, 3), np.uint8)
    boxes = np.array([[100.0, 50, 40, 40], [-10, 150, 60, 60]])
    points = points_on_faces(CentreReader(), image, boxes)
    frames = np.array([frame_about(b) for b in boxes])
    np.testing.assert_allclose(points[:, 0], frames[:, :2] + frames[:, 2:] / 2 - 0.5)
    width, height, dx, dy = FRAMING
    np.testing.assert_allclose(frames[0], [120 + dx * 40 - width * 20, 70 + dy * 40 - height * 20, width * 40,
                                           height * 40])
    assert points_on_faces(CentreReader(), image, np.zeros((0, 4))).shape == (0, 1, 2)


def test_detect_py_gives_each_face_68_points_and_draws_them(tmp_path):
    if not all(os.path.exists(os.path.join(nets.WEIGHTS, f)) for f in nets.shipped_files("keypoints")):
        pytest.skip("no shipped keypoints model")
    image = ROOT / "examples" / "astronaut.jpg"
    result = subprocess.run([sys.executable, str(ROOT / "detect.py"), str(image), "--keypoints", "--json",
                             "--draw", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    faces = json.loads(result.stdout.splitlines()[0])["faces"]
    assert faces and all(len(f["keypoints"]) == POINTS for f in faces)
    for f in faces:     # the points lie about the face's box
        xs, ys = np.array(f["keypoints"]).T
        assert f["x"] - f["w"] / 2 < np.median(xs) < f["x"] + 1.5 * f["w"]
        assert f["y"] - f["h"] / 2 < np.median(ys) < f["y"] + 1.5 * f["h"]
    assert list(tmp_path.iterdir())


class FixedLook:
    """Stands in for one net's look: the same points, in its input's pixels, for every picture."""

    def __init__(self, points, input_size=24, margin=None):
        self.points, self.input_size, self.margin = np.asarray(points, float), input_size, margin
        self.output_names = [f"v{i}" for i in range(self.points.size)]
        self.seen = []

    def predict(self, pictures):
        self.seen.append([np.shape(p) for p in pictures])
        return np.repeat(self.points[None], len(pictures), axis=0)


def test_second_look_reads_the_crop_about_the_first_looks_points():
    first = FixedLook([[10.0, 20], [50, 20], [30, 60]])          # spans 40 x 40 px, centred at (30, 40)
    fine = FixedLook([[11.5, 11.5], [0, 0], [23, 23]], input_size=24, margin=1.5)
    reader = Keypoints(first, fine)
    frames = [np.zeros((100, 90, 3), np.uint8), np.zeros((70, 80), np.uint8)]
    points = reader.predict(frames)
    assert fine.seen == [[(24, 24, 3)] * 2]
    # the crop: the 60 px square about (30, 40), from (0, 10), read at 24 px: a pixel is 2.5 of the frame's
    np.testing.assert_allclose(points[0], [[29.5, 39.5], [0.75, 10.75], [58.25, 68.25]], atol=1e-9)
    np.testing.assert_allclose(points[1], points[0])
    np.testing.assert_allclose(reader.predict(frames, refine=False), first.predict(frames))


def test_head_turn_is_the_noses_offset_from_the_middle_of_the_jaw_as_a_fraction_of_its_half_width():
    from nets.keypoints import head_turn
    points = np.zeros((3, 68, 2))
    points[:, 0, 0], points[:, 16, 0] = 10, 50           # the jaw's ends 40 px apart: half of it 20 px
    points[:, 30, 0] = [30, 40, 5]                         # the nose tip: in the middle, 10 px right, beyond the left end
    np.testing.assert_allclose(head_turn(points), [0.0, 0.5, 1.25])
    np.testing.assert_allclose(head_turn(points[0]), [0.0])    # one face's (68, 2) points
