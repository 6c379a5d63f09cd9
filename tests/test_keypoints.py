"""Facial keypoints: the points table, the split by person, the flip table, the reader's coordinates, and the
seed's train_detector / detect API."""
import numpy as np
import pytest
from PIL import Image

from nanonet.data.datasets import DataError, points_folder, read_points_table, split_by_name
from nanonet.data.iterator import BatchIterator
from nets.keypoints import FLIP_PAIRS, POINTS, REGIONS, KeypointReader, detect, person_of, train_detector
from tests.data_files import keypoints_folder


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
    reader.model = SharesModel(shares)     # batch norm folding needs layers; the stand-in has none
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
                       "--out", str(tmp_path / "run")]) == 0
    Image.open(root / "images" / "person1_01.jpg").convert("L").save(root / "images" / "person1_01.jpg")
    found = detect(str(tmp_path / "run" / "best.npz"), str(root / "images"))
    assert sorted(found) == sorted(table)
    assert all(len(v) == 2 * POINTS and all(isinstance(x, float) for x in v) for v in found.values())
    with pytest.raises(DataError, match="no such folder"):
        detect(str(tmp_path / "run" / "best.npz"), str(tmp_path / "nowhere"))
