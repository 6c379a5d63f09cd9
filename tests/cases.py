"""What the tests share: layers under test, each with an input shape small enough for float64 central differences;
geometries of the kernels; untrained detector nets and their model files; a tiny task that a CNN learns, and a
Trainer of one."""
from pathlib import Path

import numpy as np

import nanonet as nn
import nets
from nanonet import runs, serialize
from nets import samples
from nanonet.data.augment import Augment
from nanonet.data.datasets import ArrayDataset
from nanonet.data.iterator import BatchIterator
from nanonet.data.normalize import Normalization
from nanonet.losses import accuracy, softmax_cross_entropy
from nanonet.optim import ExponentialDecay, MomentumSGD
from nanonet.training import Trainer
from nets import cascade
from nets.frg import frgnet_slim


def _rng():
    return np.random.default_rng(1)


def _per_image(conv):
    """A Conv2D that takes the one-GEMM-per-image path even on tiny inputs."""
    conv.per_image_min_pixels = 1
    return conv


LAYER_CASES = {
    "conv3x3": (lambda: nn.Conv2D(3, 4, 3, pad=1, rng=_rng()), (2, 3, 5, 6)),
    "conv5x5_stride2_pad2": (lambda: nn.Conv2D(2, 3, 5, stride=2, pad=2, rng=_rng()), (2, 2, 7, 8)),
    "conv_per_image_gemm": (lambda: _per_image(nn.Conv2D(2, 3, 3, pad=1, rng=_rng())), (2, 2, 5, 4)),
    "conv_rect_nobias": (lambda: nn.Conv2D(2, 3, (2, 3), stride=(1, 2), nobias=True, rng=_rng()), (1, 2, 5, 7)),
    "maxpool_cover_all": (lambda: nn.MaxPool2D(3, 2), (2, 2, 8, 8)),
    "maxpool_pad": (lambda: nn.MaxPool2D(3, 2, pad=1), (1, 2, 7, 6)),
    "maxpool_floor": (lambda: nn.MaxPool2D(2, cover_all=False), (1, 2, 5, 5)),
    "avgpool_cover_all": (lambda: nn.AvgPool2D(3, 2), (2, 2, 8, 8)),
    "avgpool_pad": (lambda: nn.AvgPool2D(3, 2, pad=1), (1, 2, 7, 6)),
    "batchnorm_conv": (lambda: nn.BatchNorm(3), (4, 3, 3, 3)),
    "batchnorm_dense": (lambda: nn.BatchNorm(5), (6, 5)),
    "linear": (lambda: nn.Linear(12, 5, rng=_rng()), (3, 12)),
    "linear_flattens": (lambda: nn.Linear(18, 4, rng=_rng()), (2, 2, 3, 3)),
    "flatten": (lambda: nn.Flatten(), (2, 2, 3, 3)),
    "relu": (lambda: nn.ReLU(), (3, 7)),
    "leaky_relu": (lambda: nn.LeakyReLU(0.2), (3, 7)),
    "sigmoid": (lambda: nn.Sigmoid(), (3, 7)),
    "tanh": (lambda: nn.Tanh(), (3, 7)),
    "softmax": (lambda: nn.Softmax(), (3, 7)),
    "dropout": (lambda: nn.Dropout(0.4, rng=_rng()), (3, 7)),
    "concat": (lambda: nn.Concat(nn.Sequential(nn.Conv2D(2, 3, 3, pad=1, rng=_rng()), nn.ReLU()),
                                 nn.Sequential(nn.AvgPool2D(3, 1, pad=1), nn.Conv2D(2, 2, 1, rng=_rng()))),
               (2, 2, 5, 5)),
}


def away_from_kinks(x):
    """Move entries off 0 so that ReLU-like kinks sit outside the finite-difference step."""
    return np.where(np.abs(x) < 1e-2, 0.1, x)


def tiny_cnn(rng, classes=2):
    """A small net using every parametric layer kind: conv, batch norm, pools, dense, dropout."""
    return nn.Sequential(
        nn.Conv2D(1, 4, 3, pad=1, rng=rng), nn.BatchNorm(4), nn.ReLU(), nn.MaxPool2D(2),
        nn.Conv2D(4, 6, 3, pad=1, rng=rng), nn.LeakyReLU(0.2), nn.AvgPool2D(2),
        nn.Linear(6 * 2 * 2, 16, rng=rng), nn.Tanh(), nn.Dropout(0.2, rng=rng), nn.Linear(16, classes, rng=rng))


CONV_GEOMETRIES = [  # h, w, kh, kw, sy, sx, ph, pw
    (7, 9, 3, 3, 1, 1, 1, 1), (8, 8, 5, 5, 2, 2, 2, 2), (10, 7, 2, 3, 2, 1, 0, 1), (5, 5, 5, 5, 1, 1, 0, 0),
    (6, 11, 1, 1, 3, 2, 0, 0), (11, 10, 5, 3, 2, 2, 0, 0),
]
POOL_GEOMETRIES = [  # size, k, s, p, cover_all
    (64, 5, 2, 0, True), (31, 5, 2, 0, True), (14, 3, 2, 0, True), (9, 3, 2, 1, True), (9, 2, 2, 1, False),
    (10, 2, 2, 1, True), (7, 3, 3, 0, True), (7, 7, 7, 0, True), (6, 2, 1, 0, False), (11, 4, 3, 1, True),
]


NORM = Normalization(np.full((3, 1, 1), 120.0), np.full((3, 1, 1), 60.0))


def untrained_net(seed=0, build=frgnet_slim):
    """An untrained net of the detectors with non-trivial batch-norm statistics."""
    rng = np.random.default_rng(seed)
    model = build(rng)
    for _, layer in model.named_layers():
        if isinstance(layer, nn.BatchNorm):
            layer.avg_mean[:] = rng.normal(size=layer.channels) * 0.1
            layer.avg_var[:] = rng.uniform(0.5, 2, layer.channels)
    return model


def bars(n, rng, size=12):
    """Images of one bright bar, horizontal (class 0) or vertical (class 1), in noise."""
    x = rng.normal(0, 0.3, size=(n, 1, size, size)).astype(np.float32)
    t = rng.integers(0, 2, size=n)
    pos = rng.integers(2, size - 2, size=n)
    for i in range(n):
        if t[i] == 0:
            x[i, 0, pos[i], 2:-2] += 1.5
        else:
            x[i, 0, 2:-2, pos[i]] += 1.5
    return x, t


def make_net(rng):
    return nn.Sequential(
        nn.Conv2D(1, 8, 3, pad=1, rng=rng), nn.BatchNorm(8), nn.ReLU(), nn.MaxPool2D(2),
        nn.Conv2D(8, 8, 3, pad=1, rng=rng), nn.ReLU(), nn.MaxPool2D(2),
        nn.Linear(8 * 3 * 3, 16, rng=rng), nn.ReLU(), nn.Dropout(0.2, rng=rng), nn.Linear(16, 2, rng=rng))


def train_bars(xp=np, seed=0):
    rng = np.random.default_rng(seed)
    x, t = bars(512, rng)
    xv, tv = bars(256, rng)
    net = make_net(rng)
    if xp is not np:
        net.to_gpu()
        x, t, xv, tv = (xp.asarray(a) for a in (x, t, xv, tv))
    opt = MomentumSGD(lr=0.05, momentum=0.9, weight_decay=1e-4).setup(net)
    for _ in range(4):
        order = rng.permutation(len(x))
        for i in range(0, len(x), 32):
            idx = xp.asarray(order[i:i + 32])
            _, gy = softmax_cross_entropy(net.forward(x[idx], train=True), t[idx])
            net.backward(gy)
            opt.update()
    return accuracy(net.predict(xv), tv)


BUILDS = [cascade.net12, cascade.cal12, cascade.net24, cascade.cal24, cascade.net48, cascade.cal48]
SIDES = [12, 12, 24, 24, 48, 48]


def cascade_files(folder, count=6):
    """Model files of the first `count` untrained cascade nets, in CASCADE_STAGES order."""
    paths = []
    for k, (name, build, side) in enumerate(zip(nets.CASCADE_STAGES[:count], BUILDS, SIDES)):
        classes = samples.FACE_CLASSES if k % 2 == 0 else samples.CALIBRATION_CLASSES
        path = folder / f"{name}.npz"
        serialize.save(path, untrained_net(k, build), name, {"classes": classes, "input_size": side}, NORM.arrays())
        paths.append(str(path))
    return paths


def tiny_trainer(out_dir, init_seed=0, seed=0):
    """A Trainer of a tiny CNN on 48 generated 8x8 images of two classes, for 3 epochs, writing to out_dir."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 48)
    images = np.clip(rng.normal(90 + 80 * labels[:, None, None, None], 30, (48, 8, 8, 3)), 0, 255).astype(np.uint8)
    data = ArrayDataset(images, labels, ["a", "b"])
    norm = Normalization(128, 64)
    rng = np.random.default_rng(init_seed)
    train = BatchIterator(data.subset(range(40)), 8, 8, norm, Augment(flip=True, rot90=True), seed=seed)
    val = BatchIterator(data.subset(range(40, 48)), 8, 8, norm, shuffle=False)
    model = nn.Sequential(nn.Conv2D(3, 4, 3, pad=1, rng=rng), nn.BatchNorm(4), nn.ReLU(), nn.MaxPool2D(2),
                          nn.Linear(64, 16, rng=rng), nn.ReLU(), nn.Dropout(0.3, rng=rng), nn.Linear(16, 2, rng=rng))
    opt = MomentumSGD(lr=0.05, momentum=0.9, weight_decay=1e-4).setup(model)
    save = {"arch": "tiny", "config": {"classes": ["a", "b"]}, "normalization": norm.arrays(), "meta": {}}
    return Trainer(model, opt, train, val, 3, save, out_dir=str(out_dir), schedule=ExponentialDecay(0.9),
                   log=lambda line: None, point_every=2)


def epoch_records(run_folder):
    """The epoch records of a run's metrics.jsonl (its points left out)."""
    return [r for r in runs.read_records(Path(run_folder) / runs.METRICS_FILE) if not runs.is_point(r)]
