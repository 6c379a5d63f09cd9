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
    """FrgNet64-slim, the shipped anime-face classifier: FrgNet64's shape at a quarter of its width.

    Four convolutions (32, 64, 128, 256 channels) with batch norm and ceil-rounded 3/2 pools take a 64x64
    crop to 256 x 8 x 8; dropout and one dense layer read that map. About 0.4M weights (1.6 MB) and
    0.13 GFLOP per crop, against FrgNet64's 40M and 0.93. The dense head reads an 8x8 map, so the
    detector can run it as an 8x8 convolution over a whole image.
    """
    return nn.Sequential(
        nn.Conv2D(3, 32, 5, pad=2, rng=rng, input_grad=False), nn.BatchNorm(32), nn.ReLU(), nn.MaxPool2D(3, 2),
        nn.Conv2D(32, 64, 3, pad=1, rng=rng), nn.BatchNorm(64), nn.ReLU(), nn.MaxPool2D(3, 2),
        nn.Conv2D(64, 128, 3, pad=1, rng=rng), nn.BatchNorm(128), nn.ReLU(), nn.MaxPool2D(3, 2),
        nn.Conv2D(128, 256, 3, pad=1, rng=rng), nn.BatchNorm(256), nn.LeakyReLU(0.2),
        nn.Dropout(0.5, rng=rng), nn.Linear(256 * 8 * 8, classes, rng=rng))
