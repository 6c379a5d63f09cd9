"""FrgNet: the face / non-face classifier of the original Chainer anime-face detector."""
import nanonet as nn
from nanonet.kernels.pool import pool_outsize


def frgnet(rng, size=64, classes=2):
    """FrgNet64 (size=64) or FrgNet128 (size=128), layer for layer as the original.

    Pools round up (Chainer's cover_all), so a 64x64 input gives 64 -> 31 -> 14 -> 7 and the first dense
    layer reads 384 * 7 * 7 = 18816 features.
    """
    side = size
    for k in (5, 5, 3):
        side = pool_outsize(side, k, 2, 0, cover_all=True)
    return nn.Sequential(
        nn.Conv2D(3, 96, 5, pad=2, rng=rng, input_grad=False), nn.BatchNorm(96), nn.ReLU(), nn.MaxPool2D(5, 2),
        nn.Conv2D(96, 128, 5, pad=2, rng=rng), nn.BatchNorm(128), nn.ReLU(), nn.MaxPool2D(5, 2),
        nn.Conv2D(128, 256, 3, pad=1, rng=rng), nn.ReLU(), nn.MaxPool2D(3, 2),
        nn.Conv2D(256, 384, 3, pad=1, rng=rng), nn.LeakyReLU(0.2),
        nn.Linear(384 * side * side, 2048, rng=rng), nn.LeakyReLU(0.2), nn.Dropout(0.5, rng=rng),
        nn.Linear(2048, classes, rng=rng))


def frgnet_slim(rng, classes=2):
    """FrgNet64-slim, the shipped anime-face classifier, shaped for a fast sliding-window detector.

    A stride-2 first convolution and 16, 32, 64, 128 channels take a 64x64 crop to 128 x 2 x 2
    (64 -> 30 -> 28 -> 14 -> 12 -> 6 -> 4 -> 2), read by dropout and one dense layer: 0.1M weights
    (0.4 MB) and 7 kFLOP per input pixel, against FrgNet64's 40M weights and 0.23 MFLOP per pixel.
    The convolutions are unpadded and the pools 2x2 on even sizes, so over a whole image the net's output
    cell (i, j) is exactly its output for the 64x64 window at (16 i, 16 j): the fully convolutional
    detector and the crop-by-crop one score the same windows the same way.
    """
    return nn.Sequential(
        nn.Conv2D(3, 16, 5, stride=2, rng=rng, input_grad=False), nn.BatchNorm(16), nn.ReLU(),
        nn.Conv2D(16, 32, 3, rng=rng), nn.BatchNorm(32), nn.ReLU(), nn.MaxPool2D(2, cover_all=False),
        nn.Conv2D(32, 64, 3, rng=rng), nn.BatchNorm(64), nn.ReLU(), nn.MaxPool2D(2, cover_all=False),
        nn.Conv2D(64, 128, 3, rng=rng), nn.BatchNorm(128), nn.LeakyReLU(0.2), nn.MaxPool2D(2, cover_all=False),
        nn.Dropout(0.5, rng=rng), nn.Linear(128 * 2 * 2, classes, rng=rng))


def anime24(rng, classes=45):
    """The anime detector's 24x24 nets: the calibration net (45 classes, which of Li et al.'s patterns moved a
    face to this window) and the second stage (2 classes, face or not).

    24 -> conv 5x5 -> 20 -> pool 2 -> 10 -> conv 3x3 -> 8 -> pool 2 -> 4 -> dense 128 -> dense: 77k weights
    and 0.85M multiply-adds a window, a tenth of the classifier's cost, as each reads every window the first
    stage proposes.
    """
    return nn.Sequential(
        nn.Conv2D(3, 16, 5, rng=rng, input_grad=False), nn.BatchNorm(16), nn.ReLU(), nn.MaxPool2D(2, cover_all=False),
        nn.Conv2D(16, 32, 3, rng=rng), nn.BatchNorm(32), nn.ReLU(), nn.MaxPool2D(2, cover_all=False),
        nn.Linear(32 * 4 * 4, 128, rng=rng), nn.ReLU(), nn.Linear(128, classes, rng=rng))


def anime12(rng, classes=2):
    """The anime detector's first stage: a 12x12 face / non-face net cheap enough to scan a whole pyramid.

    12 -> conv 3x3 -> 10 -> pool 2 -> 5 -> conv 3x3 -> 3 -> dense; over a scene the dense layer is a 3x3
    convolution and output cell (i, j) is the 12x12 window at (2 i, 2 j). 3 kFLOP per pixel at a fifth of
    FrgNet64-slim's resolution: it only has to let faces through, FrgNet64-slim then judges its windows.
    """
    return nn.Sequential(
        nn.Conv2D(3, 16, 3, rng=rng, input_grad=False), nn.BatchNorm(16), nn.ReLU(), nn.MaxPool2D(2, cover_all=False),
        nn.Conv2D(16, 32, 3, rng=rng), nn.BatchNorm(32), nn.ReLU(),
        nn.Linear(32 * 3 * 3, classes, rng=rng))
