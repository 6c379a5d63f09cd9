"""Augmentations on uint8 (H, W, 3) images, with keypoints (K, 2) in pixel (x, y) carried along.

Each draw comes from the Generator passed in, so one seed gives one augmented image.
"""
import cv2
import numpy as np

from nanonet.kernels.windows import extract_windows

OUTLINE = 25  # cel_shaded's outline colour: near black, as inked lines are


def hflip(image, keypoints=None, flip_pairs=()):
    """Mirror left-right. Left and right keypoints (index pairs) swap, so 'left eye' stays a left eye."""
    image = image[:, ::-1]
    if keypoints is not None:
        keypoints = keypoints.copy()
        keypoints[:, 0] = image.shape[1] - 1 - keypoints[:, 0]
        for a, b in flip_pairs:
            keypoints[[a, b]] = keypoints[[b, a]]
    return np.ascontiguousarray(image), keypoints


def rot90(image, k, keypoints=None):
    """Rotate by k * 90 degrees counter-clockwise."""
    for _ in range(k % 4):
        h, w = image.shape[:2]
        image = np.rot90(image)
        if keypoints is not None:
            keypoints = np.stack([keypoints[:, 1], w - 1 - keypoints[:, 0]], axis=1)
    return np.ascontiguousarray(image), keypoints


def affine(image, angle=0.0, scale=1.0, shift=(0.0, 0.0), keypoints=None):
    """Rotate by `angle` degrees and scale about the centre, then shift by (dx, dy) pixels; borders reflect."""
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, scale)
    m[:, 2] += shift
    image = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    if keypoints is not None:
        keypoints = keypoints @ m[:, :2].T + m[:, 2]
    return image, keypoints


def squares_about(points, margin):
    """(N, 4) windows x, y, side, side: the square about the centre of each set of points' (N, P, 2) bounding
    box, its side `margin` times the box's longer side."""
    low, high = points.min(axis=1), points.max(axis=1)
    side = (high - low).max(axis=1, keepdims=True) * margin
    return np.concatenate([(low + high) / 2 - side / 2, side, side], axis=1)


def about_points(image, keypoints, margin, shift=(0.0, 0.0), scale=1.0):
    """The square about the keypoints' bounding box (squares_about), its side `margin` times the box's longer
    side times `scale`, its centre the box's moved by `shift` (fractions of that side); edge pixels repeated
    outside the image. The crop keeps the image's resolution (its side in pixels is the window's, rounded)."""
    window = squares_about(keypoints[None], margin * scale)[0]
    side = max(window[2], 1.0)
    x, y = window[:2] + window[2] / 2 + np.asarray(shift) * side - side / 2
    size = max(int(round(side)), 1)
    crop = extract_windows(image, np.array([[x, y, side, side]]), size)[0]
    # a crop pixel o samples the image at x + (o + 0.5) * side / size - 0.5 (extract_windows)
    return crop, (keypoints - [x, y] + 0.5) * size / side - 0.5


def brightness_contrast(image, brightness=0.0, contrast=1.0):
    """image * contrast + brightness (in 0..255 units) about the image's mean, clipped to uint8."""
    x = image.astype(np.float32)
    mean = x.mean()
    return np.clip((x - mean) * contrast + mean + brightness, 0, 255).astype(np.uint8)


def grey(image):
    """The image's luma (ITU-R BT.601 weights, as OpenCV's RGB2GRAY) in all three channels."""
    return np.repeat(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[:, :, None], 3, axis=2)


def cel_shaded(image, colours=8):
    """uint8 (H, W, 3) image drawn as an illustration is: flat areas of `colours` colours with dark outlines.
    Mean-shift filtering flattens the shading, k-means picks the colours (started from luma quantiles, so the
    result is the same on every run), and Canny's edges between the flat areas become the outlines."""
    flat = cv2.pyrMeanShiftFiltering(np.ascontiguousarray(image), 8, 24)
    luma = cv2.cvtColor(flat, cv2.COLOR_RGB2GRAY).ravel()
    first = np.searchsorted(np.quantile(luma, np.linspace(0, 1, colours + 1)[1:-1]), luma).astype(np.int32)
    _, labels, centres = cv2.kmeans(flat.reshape(-1, 3).astype(np.float32), colours, first[:, None].copy(),
                                    (cv2.TERM_CRITERIA_MAX_ITER, 10, 1.0), 1, cv2.KMEANS_USE_INITIAL_LABELS)
    flat = centres.round().astype(np.uint8)[labels.ravel()].reshape(image.shape)
    outlines = cv2.Canny(flat, 50, 150) > 0      # the strongest of the three channels: edges between hues too
    flat[outlines] = OUTLINE
    return flat


def jpeg(image, quality):
    """Re-compress as JPEG at `quality` (1-100): the blocking and ringing of web images."""
    ok, data = cv2.imencode(".jpg", image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return cv2.imdecode(data, cv2.IMREAD_COLOR)[:, :, ::-1].copy()


class Augment:
    """A random pipeline: each enabled step draws its parameters from the rng given per image.

    flip: mirror with probability 1/2; rot90: rotate by a random multiple of 90 degrees (the anime data);
    rotate: max degrees; scale: max relative change; shift: max fraction of the side; brightness: max
    shift in 0..255 units; contrast: max relative change; grey: the probability of turning the image grey;
    jpeg: (lowest quality, probability); crop_points: (margin, shift, scale), first of all, cut the square
    about the keypoints (about_points), moved by up to `shift` of its side and rescaled by up to `scale`.
    """

    def __init__(self, flip=False, rot90=False, rotate=0.0, scale=0.0, shift=0.0, brightness=0.0,
                 contrast=0.0, grey=0.0, jpeg=None, flip_pairs=(), crop_points=None):
        self.flip, self.rot90, self.rotate, self.scale, self.shift = flip, rot90, rotate, scale, shift
        self.brightness, self.contrast, self.grey = brightness, contrast, grey
        self.jpeg, self.flip_pairs, self.crop_points = jpeg, flip_pairs, crop_points

    def __call__(self, image, rng, keypoints=None):
        if self.crop_points:
            margin, shift, scale = self.crop_points
            image, keypoints = about_points(image, keypoints, margin, rng.uniform(-shift, shift, 2),
                                            1 + rng.uniform(-scale, scale))
        if self.flip and rng.random() < 0.5:
            image, keypoints = hflip(image, keypoints, self.flip_pairs)
        if self.rot90:
            image, keypoints = rot90(image, int(rng.integers(4)), keypoints)
        if self.rotate or self.scale or self.shift:
            h, w = image.shape[:2]
            image, keypoints = affine(
                image, rng.uniform(-self.rotate, self.rotate), 1 + rng.uniform(-self.scale, self.scale),
                (rng.uniform(-self.shift, self.shift) * w, rng.uniform(-self.shift, self.shift) * h), keypoints)
        if self.brightness or self.contrast:
            image = brightness_contrast(image, rng.uniform(-self.brightness, self.brightness),
                                        1 + rng.uniform(-self.contrast, self.contrast))
        if self.grey and rng.random() < self.grey:
            image = grey(image)
        if self.jpeg and rng.random() < self.jpeg[1]:
            image = jpeg(image, rng.integers(self.jpeg[0], 96))
        return image, keypoints
