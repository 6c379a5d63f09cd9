"""The image pyramid that detectors scan and cut windows from: window sides, levels resized from octaves,
crops cut from the smallest level that still holds a window at the crop's side."""
import cv2
import numpy as np

from nanonet.kernels.windows import extract_windows


def window_sizes(height, width, min_size, scale_step):
    """Window sides min_size, min_size * scale_step, ... up to the image's short side."""
    sizes, size = [], float(min_size)
    while size <= min(height, width):
        sizes.append(size)
        size *= scale_step
    return sizes


def scan_pyramid(net, image, sizes, threshold, every=1, crops=False):
    """net.scan_level() at each window side of `sizes` (ascending), one result per side, on the levels of
    pyramid(), reading every `every`-th window of the net's grid (an int, or one for each side): resized
    from an octave, area averaging reads a few pixels per output pixel, not the whole image. Each level was
    once resized from the one before, but the blur of a dozen 1.25x steps made large faces look unlike the
    nets' training crops, each resized once, and both detectors found fewer faces."""
    shapes = [net.level_shape(*image.shape[:2], size) for size in sizes]
    per_size = every if np.iterable(every) else [every] * len(sizes)
    return [net.scan_level(level, image.shape, threshold, k, crops)
            for level, k in zip(pyramid(image, shapes), per_size)]


def pyramid(image, shapes):
    """The image resized to each of `shapes` ((width, height), shrinking), each from the smallest of its
    octaves (the image halved in turn) that is not yet twice that size: a generator."""
    octave = image
    for shape in shapes:
        while octave.shape[1] >= 2 * shape[0] and octave.shape[0] >= 2 * shape[1]:
            octave = halved(octave)
        yield resize(octave, shape)


def resize(image, shape):
    """image resized to shape (width, height): area averaging to shrink, bilinear to enlarge."""
    shrink = shape[0] < image.shape[1]
    return cv2.resize(image, shape, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def pyramid_windows(levels, boxes, size):
    """uint8 (K, size, size, 3) crops of boxes (K, 4) in levels[0]'s coordinates, each cut from the smallest of
    `levels` (the image, then ever smaller copies of it) on which the box still spans `size` pixels."""
    height, width = levels[0].shape[:2]
    scales = [np.array([level.shape[1] / width, level.shape[0] / height] * 2) for level in levels]
    choice = np.zeros(len(boxes), np.int64)
    for k, scale in enumerate(scales):     # levels shrink: the last that fits wins
        choice[np.minimum(boxes[:, 2] * scale[0], boxes[:, 3] * scale[1]) >= size] = k
    crops = np.empty((len(boxes), size, size, 3), np.uint8)
    for k in np.unique(choice):
        chosen = choice == k
        crops[chosen] = extract_windows(levels[k], boxes[chosen] * scales[k], size)
    return crops


def octaves(image, smallest):
    """image, then copies of it halved in turn while both sides stay at least `smallest`: levels for
    pyramid_windows."""
    levels = [image]
    while min(levels[-1].shape[:2]) >= 2 * smallest:
        levels.append(halved(levels[-1]))
    return levels


def halved(image):
    """image at half its width and height (rounded down), each pixel the mean of 2x2."""
    return cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2), interpolation=cv2.INTER_AREA)


def joined(results, *empty):
    """Per-scale tuples of arrays (boxes, scores, ...) joined column by column; `empty` holds each column's
    empty array, which is all there is when no scale gave a result."""
    return tuple(np.concatenate([r[k] for r in results] + [e]) for k, e in enumerate(empty))
