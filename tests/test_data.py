import numpy as np
import pytest

from nanonet.data.augment import OUTLINE, Augment, cel_shaded, hflip, rot90
from nanonet.data.datasets import (ArrayDataset, ConcatDataset, DataError, FolderDataset, ListDataset, open_dataset,
                                   split_by_name)
from nanonet.data.image import ImageError, read_image
from nanonet.data.iterator import BatchIterator
from nanonet.data.normalize import Normalization
from tests.data_files import class_folders, write_image, zip_of


@pytest.fixture
def folders(tmp_path):
    return class_folders(tmp_path / "set")


def test_folder_and_zip_read_the_same_images(folders, tmp_path):
    on_disk, zipped = FolderDataset(folders), open_dataset(zip_of(folders, tmp_path / "set.zip"))
    assert on_disk.classes == zipped.classes == ["face", "nonface"]
    assert list(on_disk.labels) == list(zipped.labels) == [0] * 6 + [1] * 6
    for i in range(len(on_disk)):
        assert on_disk.key(i) == zipped.key(i)
        np.testing.assert_array_equal(on_disk.image(i), zipped.image(i))
    assert on_disk.image(0).shape == (8, 8, 3)  # the grey image comes back with three channels


def test_list_file(folders):
    (folders / "list.txt").write_text("# path label\nface/1.png 0\nnonface/2.png 1\n\nface/3.png 0\n")
    ds = ListDataset(folders / "list.txt", classes=["face", "nonface"])
    assert list(ds.labels) == [0, 1, 0] and ds.key(1) == "nonface/2.png"
    np.testing.assert_array_equal(ds.image(1), read_image(folders / "nonface" / "2.png"))


def test_arrays():
    ds = ArrayDataset(np.zeros((3, 4, 4), np.uint8), [0, 1, 1])
    assert ds.image(0).shape == (4, 4, 3) and ds.classes == ["0", "1"]


@pytest.mark.parametrize("problem,message", [
    ("empty_class", "class folder holds no images"),
    ("one_class", "need at least 2"),
    ("missing_listed", "does not exist"),
    ("label_range", "outside 0..1"),
    ("bad_line", "expected 'path label'"),
    ("empty_list", "holds no images"),
])
def test_bad_data_sets_name_the_file(tmp_path, folders, problem, message):
    if problem == "empty_class":
        (folders / "other").mkdir()
        path = folders
    elif problem == "one_class":
        path = tmp_path / "one"
        (path / "a").mkdir(parents=True)
        write_image(path / "a" / "x.png", 10)
    else:
        lines = {"missing_listed": "face/99.png 0\n", "label_range": "face/1.png 0\nface/2.png 5\n",
                 "bad_line": "face/1.png\n", "empty_list": "# nothing\n"}[problem]
        path = folders / "list.txt"
        path.write_text(lines)
    with pytest.raises(DataError, match=message) as e:
        open_dataset(path) if problem != "label_range" else ListDataset(path, classes=["a", "b"])
    assert "\n" not in str(e.value)


def test_unreadable_image_stops_or_is_skipped(folders):
    (folders / "face" / "3.png").write_bytes(b"not a png")
    ds = FolderDataset(folders)
    norm = Normalization(0, 1)
    with pytest.raises(ImageError, match="3.png"):
        list(BatchIterator(ds, 4, 8, norm, prefetch=False).epoch(0))
    it = BatchIterator(ds, 4, 8, norm, skip_bad=True)
    assert sum(len(t) for _, t in it.epoch(0)) == 11 and len(it.skipped) == 1


def test_split_depends_on_file_names_only(folders, tmp_path):
    a = split_by_name(FolderDataset(folders), 0.4)
    b = split_by_name(open_dataset(zip_of(folders, tmp_path / "z.zip")), 0.4)
    assert [a[1].key(i) for i in range(len(a[1]))] == [b[1].key(i) for i in range(len(b[1]))]
    assert len(a[0]) + len(a[1]) == 12 and 0 < len(a[1]) < 12


def test_normalization_mean_image_and_channels():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(20, 4, 5, 3)).astype(np.uint8)
    norm = Normalization.fit(iter(images), "mean_image")
    x = images.transpose(0, 3, 1, 2).astype(np.float64)
    np.testing.assert_allclose(norm.mean, x.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(norm.std, (x - x.mean(axis=0)).std(), rtol=1e-5)
    out = norm(images)
    assert out.dtype == np.float32 and out.shape == (20, 3, 4, 5) and abs(out.mean()) < 1e-5
    channel = Normalization.fit(iter(images), "channel")
    np.testing.assert_allclose(channel.std.ravel(), x.std(axis=(0, 2, 3)), rtol=1e-5)
    for kind in (norm, channel, Normalization(100, 50)):     # the numba kernel against array operations
        for batch in (images, images[:, :, ::-1]):
            np.testing.assert_array_equal(kind(batch), kind.reference(batch))


def _face(w=40, h=30):
    """An image whose left half is red, with keypoints: left eye, right eye, nose (x, y)."""
    image = np.zeros((h, w, 3), np.uint8)
    image[:, : w // 2, 0] = 255
    return image, np.array([[10.0, 8.0], [28.0, 9.0], [19.0, 16.0]])


def _colour_at(image, point):
    x, y = np.round(point).astype(int)
    return tuple(image[y, x])


def test_flip_keeps_keypoints_on_the_same_anatomy():
    image, points = _face()
    flipped, moved = hflip(image, points, flip_pairs=[(0, 1)])
    assert moved[0, 0] < moved[1, 0]  # the 'left eye' is still the one on the left
    np.testing.assert_allclose(moved[2], [40 - 1 - 19.0, 16.0])  # the nose mirrors in place
    np.testing.assert_allclose(hflip(*hflip(image, points, [(0, 1)]), [(0, 1)])[1], points)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_rotations_carry_keypoints_with_the_pixels(k):
    image, points = _face()
    image[8, 10] = image[9, 28] = image[16, 19] = (1, 2, 3)  # mark the keypoints' pixels
    rotated, moved = rot90(image, k, points)
    for p in moved:
        assert _colour_at(rotated, p) == (1, 2, 3)


def test_affine_carries_keypoints():
    image, points = _face(64, 64)
    from nanonet.data.augment import affine
    _, moved = affine(image, angle=90, keypoints=points)
    np.testing.assert_allclose(moved[0], [8.0, 63 - 10.0], atol=1e-6)


def test_augmentation_is_deterministic_for_a_seed():
    image = np.random.default_rng(0).integers(0, 256, (16, 16, 3)).astype(np.uint8)
    augment = Augment(flip=True, rot90=True, rotate=10, scale=0.1, shift=0.1, brightness=20, contrast=0.2,
                      jpeg=(40, 1.0))
    a, _ = augment(image, np.random.default_rng(5))
    b, _ = augment(image, np.random.default_rng(5))
    c, _ = augment(image, np.random.default_rng(6))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c) and a.shape == image.shape and a.dtype == np.uint8


def test_grey_turns_an_image_into_its_luma_in_every_channel_with_its_probability():
    image = np.random.default_rng(0).integers(0, 256, (16, 16, 3)).astype(np.uint8)
    luma = np.clip(np.rint(image.astype(float) @ [0.299, 0.587, 0.114]), 0, 255)
    greyed, _ = Augment(grey=1.0)(image, np.random.default_rng(1))
    assert greyed.shape == image.shape and greyed.dtype == np.uint8
    assert np.abs(greyed.astype(float) - luma[:, :, None]).max() <= 1
    turned = [not np.array_equal(Augment(grey=0.3)(image, np.random.default_rng(seed))[0], image)
              for seed in range(400)]
    assert 0.2 < np.mean(turned) < 0.4
    # off, it draws nothing: the other steps draw as before
    plain = Augment(flip=True, shift=0.1)
    np.testing.assert_array_equal(plain(image, np.random.default_rng(2))[0],
                                  Augment(flip=True, shift=0.1, grey=0.0)(image, np.random.default_rng(2))[0])


def test_cel_shaded_draws_flat_colours_with_dark_outlines_the_same_each_time():
    rng = np.random.default_rng(0)
    image = np.zeros((60, 80, 3), np.uint8)
    image[:, :40] = [200, 40, 40]                                   # two areas, red and blue, shaded with noise
    image[:, 40:] = [40, 60, 200]
    image = np.clip(image + rng.normal(0, 6, image.shape), 0, 255).astype(np.uint8)
    kept = image.copy()
    drawn = cel_shaded(image, colours=4)
    np.testing.assert_array_equal(image, kept)                      # the input stays untouched
    np.testing.assert_array_equal(drawn, cel_shaded(image, colours=4))
    assert drawn.shape == image.shape and drawn.dtype == np.uint8
    assert len(np.unique(drawn.reshape(-1, 3), axis=0)) <= 4 + 1    # the colours and the outline
    outline = (drawn == OUTLINE).all(axis=2)
    assert outline[:, 38:42].any(axis=1).all()                      # an outline on every row of the edge
    assert not outline[:, :30].any() and not outline[:, 50:].any()  # no outline within a flat area
    left, right = drawn[5:-5, 5:30].reshape(-1, 3), drawn[5:-5, 50:75].reshape(-1, 3)
    assert abs(left.astype(int) - [200, 40, 40]).max() <= 8 and abs(right.astype(int) - [40, 60, 200]).max() <= 8


def test_batches_are_the_same_with_and_without_prefetch(folders):
    ds, norm = FolderDataset(folders), Normalization(100, 50)
    make = lambda prefetch: BatchIterator(ds, 5, 6, norm, Augment(rot90=True), seed=3, prefetch=prefetch)  # noqa: E731
    threaded, plain = list(make(True).epoch(2)), list(make(False).epoch(2))
    assert len(threaded) == 3 and threaded[0][0].shape == (5, 3, 6, 6)
    for (x1, t1), (x2, t2) in zip(threaded, plain):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(t1, t2)
    assert not np.array_equal(make(False).order(3), make(False).order(2))  # a new order each epoch
    resumed = list(make(True).epoch(2, start=1))
    np.testing.assert_array_equal(resumed[0][0], plain[1][0])


def test_an_empty_data_set_is_refused():
    with pytest.raises(ValueError, match="empty"):
        BatchIterator(ArrayDataset(np.zeros((1, 2, 2), np.uint8), [0]).subset([]), 2, 2, None)


def test_concatenated_data_sets(folders):
    a = FolderDataset(folders)
    b = ArrayDataset(np.full((2, 8, 8, 3), 7, np.uint8), [1, 1], a.classes)
    joined = ConcatDataset([a, b])
    assert len(joined) == 14 and list(joined.labels[-3:]) == [1, 1, 1]
    np.testing.assert_array_equal(joined.image(12), b.image(0))
    np.testing.assert_array_equal(joined.image(3), a.image(3))
    assert joined.key(13) == "1:1" and joined.name(0) == a.name(0)
    with pytest.raises(DataError, match="classes differ"):
        ConcatDataset([a, ArrayDataset(np.zeros((1, 2, 2), np.uint8), [0], ["x", "y"])])


def test_keypoints_move_with_their_image_through_augmentation_and_resizing():
    """A dot at each keypoint: after flips, rotations, shifts, scaling and the resize to the net's input, each
    target still points at a dot; and as a flip swaps the left and right points, point 0 stays the left one."""
    from nanonet.data.augment import Augment
    from nanonet.data.datasets import ArrayDataset, PointsDataset
    from nanonet.data.iterator import BatchIterator
    from nanonet.data.normalize import Normalization
    rng = np.random.default_rng(0)
    images = np.zeros((8, 60, 80, 3), np.uint8)
    points = np.zeros((8, 2, 2))
    for k in range(8):
        points[k] = [[rng.integers(25, 35), rng.integers(20, 40)], [rng.integers(45, 55), rng.integers(20, 40)]]
        for x, y in points[k].astype(int):
            images[k, y - 1:y + 2, x - 1:x + 2] = 255
    data = PointsDataset(ArrayDataset(images, np.zeros(8, np.int64)), points)
    augment = Augment(flip=True, rotate=15, scale=0.1, shift=0.05, flip_pairs=((0, 1),))
    batches = BatchIterator(data, 8, 40, Normalization(0, 1), augment, seed=1, prefetch=False)
    (x, t), = batches.epoch(0)
    assert t.shape == (8, 4) and t.dtype == np.float32
    for image, original, target in zip(x[:, 0], points, t.reshape(8, 2, 2) * 40):
        for px, py in target:
            y, x_ = int(round(py)), int(round(px))
            assert image[max(y - 1, 0):y + 2, max(x_ - 1, 0):x_ + 2].max() > 60
        assert target[0, 0] < target[1, 0]              # the left point is still point 0
    plain = BatchIterator(data, 8, 40, Normalization(0, 1), None, shuffle=False, prefetch=False)
    (_, t0), = plain.epoch(0)
    np.testing.assert_allclose(t0.reshape(8, 2, 2), (points + 0.5) / [80, 60] - 0.5 / 40, rtol=1e-6)


def test_crop_about_points_keeps_them_on_their_pixels():
    from nanonet.data.augment import about_points
    image = np.zeros((120, 100, 3), np.uint8)
    points = np.array([[30.0, 40], [70, 45], [50, 90]])
    for x, y in points.astype(int):
        image[y - 1:y + 2, x - 1:x + 2] = 255
    for margin, shift, scale in [(1.4, (0, 0), 1.0), (1.2, (0.1, -0.05), 0.9), (2.5, (0.0, 0.2), 1.1)]:
        crop, moved = about_points(image, points, margin, shift, scale)
        side = 50 * margin * scale             # the points span 40 by 50 px
        assert crop.shape[:2] == (round(side),) * 2
        inside = [(x, y) for x, y in moved if 0 <= x < crop.shape[1] - 0.5 and 0 <= y < crop.shape[0] - 0.5]
        assert len(inside) >= 2
        for x, y in inside:
            yi, xi = int(round(y)), int(round(x))
            assert crop[max(yi - 1, 0):yi + 2, max(xi - 1, 0):xi + 2].max() > 100, (margin, x, y)
        np.testing.assert_allclose((moved.min(axis=0) + moved.max(axis=0)) / 2,
                                   (side / 2 - np.array(shift) * side) * crop.shape[0] / side, atol=0.6)
    crop, moved = Augment(crop_points=(1.4, 0.0, 0.0))(image, np.random.default_rng(0), points)
    assert crop.shape[:2] == (70, 70) and moved.min() > 0 and moved.max() < 70
