"""A tiny CNN learns a generated task: the layers, losses and optimizer work together."""
import numpy as np

import nanonet as nn
from nanonet.losses import accuracy, softmax_cross_entropy
from nanonet.optim import MomentumSGD


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


def train(xp=np, seed=0):
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


def test_tiny_cnn_learns_bars_above_95_percent():
    assert train() > 0.95
