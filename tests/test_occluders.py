"""Synthetic occluders: each kind covers the lower face from its points, turns with the head, leaves the eyes
and the input alone; training copies of occluded images."""
import dataclasses

import numpy as np
import pytest

from nets.annotations import Annotated, webfaces_box
from nets.occluders import KINDS, FaceFrame, occlude
from nets.samples import occluded_copies, pixels
from tests.data_files import write_image

# an upright face in a 200x200 grey picture: eyes 40 px apart at y 80, nose at y 104, mouth at y 120
UPRIGHT = np.array([[80.0, 80.0], [120.0, 80.0], [100.0, 104.0], [100.0, 120.0]])


def turned(points, degrees, about=(100.0, 100.0)):
    t = np.radians(degrees)
    rotation = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    return (points - about) @ rotation.T + about


def changed(image, faces, kind, seed=0):
    return np.any(occlude(image, faces, np.random.default_rng(seed), kinds=[kind]) != image, axis=2)


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_covers_the_mouth_not_the_eyes_nor_the_input(kind):
    image = np.full((200, 200, 3), 128, np.uint8)
    before = image.copy()
    covered = changed(image, UPRIGHT[None], kind)
    np.testing.assert_array_equal(image, before)
    assert covered[120, 100], f"{kind} leaves the mouth bare"
    assert not covered[70:90, 70:130].any(), f"{kind} reaches the eyes"
    assert covered.sum() > 60, f"{kind} covers almost nothing"


def test_a_face_of_68_points_is_covered_as_its_four_points_would_be():
    points = np.zeros((68, 2))
    points[36:42], points[42:48], points[30], points[48:68] = UPRIGHT[0], UPRIGHT[1], UPRIGHT[2], UPRIGHT[3]
    image = np.full((200, 200, 3), 128, np.uint8)
    np.testing.assert_array_equal(changed(image, points[None], "mask"), changed(image, UPRIGHT[None], "mask"))


def test_the_occluder_turns_with_the_head():
    frame = FaceFrame(turned(UPRIGHT, 90))
    np.testing.assert_allclose(frame([(0, 1)])[0], turned(UPRIGHT, 90)[3])      # b = 1 is the mouth
    image = np.full((200, 200, 3), 128, np.uint8)
    covered = changed(image, turned(UPRIGHT, 90)[None], "mask")
    mouth = np.round(turned(UPRIGHT, 90)[3]).astype(int)
    eyes = np.round(turned(UPRIGHT, 90)[:2]).astype(int)
    assert covered[mouth[1], mouth[0]] and not covered[eyes[:, 1], eyes[:, 0]].any()


def test_every_face_of_a_picture_is_covered_and_a_seed_repeats_the_picture():
    image = np.full((200, 400, 3), 90, np.uint8)
    faces = np.stack([UPRIGHT, UPRIGHT + [200, 0]])
    first = occlude(image, faces, np.random.default_rng(3))
    covered = np.any(first != image, axis=2)
    assert covered[120, 100] and covered[120, 300]
    np.testing.assert_array_equal(first, occlude(image, faces, np.random.default_rng(3)))


def test_occluded_copies_cover_a_share_of_the_images_with_points(tmp_path):
    images = []
    for k in range(40):
        write_image(tmp_path / f"{k}.png", 128, size=200)
        images.append(Annotated(str(tmp_path / f"{k}.png"), webfaces_box(UPRIGHT)[None], UPRIGHT[None]))
    images.append(Annotated(str(tmp_path / "0.png"), webfaces_box(UPRIGHT)[None]))      # no points: never copied
    copies = occluded_copies(images, 0.5, seed=0)
    assert 10 <= len(copies) <= 30 and all(c.keypoints is not None for c in copies)
    assert [c.occluders for c in copies] == [c.occluders for c in occluded_copies(images, 0.5, seed=0)]
    assert occluded_copies(images, 0.0, seed=0) == [] and len(occluded_copies(images, 1.0, seed=0)) == 40
    original, copy = pixels(images[0]), pixels(dataclasses.replace(images[0], occluders=1))
    covered = np.any(original != copy, axis=2)
    assert covered[120, 100] and not covered[:60].any()
    np.testing.assert_array_equal(copy, pixels(dataclasses.replace(images[0], occluders=1)))

