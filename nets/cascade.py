"""The six nets of Li et al.'s CNN cascade (CVPR 2015): 12/24/48 face classifiers and calibration nets.

The 24- and 48-nets are multi-resolution: a branch sees the input downsampled by 2 (average pooling) and
runs the next smaller net's trunk, whose dense features join the big trunk's before the last layer. The
branches train together with the rest. One change from the paper: the 48-calibration net pools after its
second convolution too, which shrinks its dense layer from 5.3M to 1.3M weights, so that all six nets
ship in under 20 MB. The calibration nets carry no dropout (see cal24). The slim nets take the full ones'
places for less time: net24s has half the 24-net's filters, net48s and cal48s MTCNN's O-Net trunk.
"""
import nanonet as nn
from nets.samples import CALIBRATION_PATTERNS

CALIBRATION_CLASSES = len(CALIBRATION_PATTERNS)  # 45: five scales times three x and three y offsets


def _trunk12(rng):
    # 12 -> conv 3x3 -> 10 -> pool 3/2 -> 5
    return [nn.Conv2D(3, 16, 3, rng=rng), nn.MaxPool2D(3, 2), nn.ReLU()]


def net12_features(rng):
    return nn.Sequential(*_trunk12(rng), nn.Linear(16 * 5 * 5, 16, rng=rng), nn.ReLU())


def net24_features(rng, width=64):
    # 24 -> conv 5x5 -> 20 -> pool 3/2 -> 10
    big = nn.Sequential(nn.Conv2D(3, width, 5, rng=rng), nn.MaxPool2D(3, 2), nn.ReLU(),
                        nn.Linear(width * 10 * 10, 128, rng=rng), nn.ReLU(), nn.Dropout(0.5, rng=rng))
    return nn.Concat(big, nn.Sequential(nn.AvgPool2D(2), net12_features(rng)))        # 128 + 16


def net48_features(rng):
    # 48 -> conv 5x5 -> 44 -> pool 3/2 -> 22 -> conv 5x5 -> 18 -> pool 3/2 -> 9
    big = nn.Sequential(nn.Conv2D(3, 64, 5, rng=rng), nn.MaxPool2D(3, 2), nn.BatchNorm(64), nn.ReLU(),
                        nn.Conv2D(64, 64, 5, rng=rng), nn.BatchNorm(64), nn.ReLU(), nn.MaxPool2D(3, 2),
                        nn.Linear(64 * 9 * 9, 256, rng=rng), nn.ReLU(), nn.Dropout(0.5, rng=rng))
    return nn.Concat(big, nn.Sequential(nn.AvgPool2D(2), net24_features(rng)))        # 256 + 144


def _slim48_trunk(rng):
    # MTCNN's O-Net trunk, a third of the 48-net's multiply-adds:
    # 48 -> conv 3x3 -> 46 -> pool 3/2 -> 23 -> conv 3x3 -> 21 -> pool 3/2 -> 10 -> conv 3x3 -> 8 -> pool 2 -> 4
    # -> conv 2x2 -> 3; batch norm right after each convolution, where inference folds it into the weights
    layers, channels = [], 3
    for width, ksize, pool in ((32, 3, 3), (64, 3, 3), (64, 3, 2)):
        layers += [nn.Conv2D(channels, width, ksize, rng=rng), nn.BatchNorm(width), nn.ReLU(),
                   nn.MaxPool2D(pool, 2)]
        channels = width
    return layers + [nn.Conv2D(64, 128, 2, rng=rng), nn.BatchNorm(128), nn.ReLU()]


def net48s_features(rng):
    big = nn.Sequential(*_slim48_trunk(rng), nn.Linear(128 * 3 * 3, 256, rng=rng), nn.ReLU(),
                        nn.Dropout(0.5, rng=rng))
    return nn.Concat(big, nn.Sequential(nn.AvgPool2D(2), net24_features(rng)))        # 256 + 144


def net12(rng, classes=2):
    return nn.Sequential(net12_features(rng), nn.Linear(16, classes, rng=rng))


def cal12(rng, classes=CALIBRATION_CLASSES):
    return nn.Sequential(*_trunk12(rng), nn.Linear(16 * 5 * 5, 128, rng=rng), nn.ReLU(),
                         nn.Linear(128, classes, rng=rng))


def net24(rng, classes=2):
    return nn.Sequential(net24_features(rng), nn.Linear(128 + 16, classes, rng=rng))


def net24s(rng, classes=2):
    # half the 24-net's filters: half its multiply-adds, for the stage that reads the most windows after the 12-net
    return nn.Sequential(net24_features(rng, width=32), nn.Linear(128 + 16, classes, rng=rng))


def cal24(rng, classes=CALIBRATION_CLASSES):
    # no dropout: on these 64 units it held the net at 22% accuracy after 5 epochs (7% on training batches)
    return nn.Sequential(nn.Conv2D(3, 32, 5, rng=rng), nn.MaxPool2D(3, 2), nn.ReLU(),
                         nn.Linear(32 * 10 * 10, 64, rng=rng), nn.ReLU(), nn.Linear(64, classes, rng=rng))


def net48(rng, classes=2):
    return nn.Sequential(net48_features(rng), nn.Linear(256 + 144, classes, rng=rng))


def net48s(rng, classes=2):
    return nn.Sequential(net48s_features(rng), nn.Linear(256 + 144, classes, rng=rng))


def cal48s(rng, classes=CALIBRATION_CLASSES):
    return nn.Sequential(*_slim48_trunk(rng), nn.Linear(128 * 3 * 3, 256, rng=rng), nn.ReLU(),
                         nn.Linear(256, classes, rng=rng))


def cal48(rng, classes=CALIBRATION_CLASSES):
    # no dropout, as in cal24: calibration is a fine-grained choice among neighbouring patterns
    return nn.Sequential(nn.Conv2D(3, 64, 5, rng=rng), nn.MaxPool2D(3, 2), nn.BatchNorm(64), nn.ReLU(),
                         nn.Conv2D(64, 64, 5, rng=rng), nn.BatchNorm(64), nn.ReLU(), nn.MaxPool2D(3, 2),
                         nn.Linear(64 * 9 * 9, 256, rng=rng), nn.ReLU(), nn.Linear(256, classes, rng=rng))
