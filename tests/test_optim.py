import math

import numpy as np
import pytest

import nanonet as nn
from nanonet import optim


def _one_param_model(w):
    layer = nn.Linear(len(w), 1, nobias=True, rng=np.random.default_rng(0)).astype(np.float64)
    layer.W.data = np.array([w], dtype=np.float64)
    return layer


@pytest.mark.parametrize("name", optim.OPTIMIZERS)
def test_every_optimizer_minimises_a_quadratic(name):
    model = _one_param_model([3.0, -2.0])
    opt = optim.OPTIMIZERS[name](lr=0.05).setup(model)
    for _ in range(500):
        model.W.grad = 2 * model.W.data  # d/dw of |w|^2
        opt.update()
    assert np.abs(model.W.data).max() < 0.05


def test_one_step_by_hand():
    g = np.array([[0.5, -1.0]])
    cases = {
        "sgd": lambda w: w - 0.1 * g,
        "momentum": lambda w: w - 0.1 * g,
        "nesterov": lambda w: w + 0.9 * (-0.1 * g) - 0.1 * g,
        "adam": lambda w: w - 0.1 * g / (np.abs(g) + 1e-8),
        "rmsprop": lambda w: w - 0.1 * g / (np.sqrt(0.01 * g * g) + 1e-8),
    }
    for name, expected in cases.items():
        model = _one_param_model([1.0, 2.0])
        opt = optim.OPTIMIZERS[name](lr=0.1).setup(model)
        model.W.grad = g.copy()
        opt.update()
        np.testing.assert_allclose(model.W.data, expected(np.array([[1.0, 2.0]])), err_msg=name)


@pytest.mark.parametrize("name", ["momentum", "nesterov"])
def test_momentum_follows_a_two_step_trajectory_by_hand(name):
    """Two steps with gradients g1, g2 (lr 0.1, momentum 0.9): the second step carries 0.9 of the first's
    velocity, which plain SGD would not."""
    g1, g2 = np.array([[1.0, -2.0]]), np.array([[0.5, 0.5]])
    v1 = -0.1 * g1                      # [-0.1, 0.2]
    v2 = 0.9 * v1 - 0.1 * g2            # [-0.14, 0.13]
    w0 = np.array([[1.0, 2.0]])
    if name == "momentum":
        expected = [w0 + v1, w0 + v1 + v2]                              # [[0.9, 2.2]], [[0.76, 2.33]]
    else:
        expected = [w0 + 0.9 * v1 - 0.1 * g1, w0 + 0.9 * v1 - 0.1 * g1 + 0.9 * v2 - 0.1 * g2]
    model = _one_param_model(w0[0])
    opt = optim.OPTIMIZERS[name](lr=0.1, momentum=0.9).setup(model)
    for g, w in zip((g1, g2), expected):
        model.W.grad = g.copy()
        opt.update()
        np.testing.assert_allclose(model.W.data, w, rtol=1e-12)
    np.testing.assert_allclose(expected[1], [[0.76, 2.33]] if name == "momentum" else expected[1])


def test_weight_decay_adds_l2_gradient():
    model = _one_param_model([1.0, -2.0])
    opt = optim.SGD(lr=0.1, weight_decay=0.5).setup(model)
    model.W.grad = np.zeros((1, 2))
    opt.update()
    np.testing.assert_allclose(model.W.data, [[0.95, -1.9]])


def test_state_round_trip_continues_identically():
    def run(steps, restore_after=None):
        model = _one_param_model([1.0, -1.0])
        opt = optim.Adam(lr=0.1).setup(model)
        for i in range(steps):
            if i == restore_after:
                saved_w, saved = model.W.data.copy(), {k: np.copy(v) for k, v in opt.state().items()}
                model = _one_param_model([0.0, 0.0])
                model.W.data = saved_w
                opt = optim.Adam(lr=0.1).setup(model)
                opt.set_state(saved)
            model.W.grad = np.array([[np.sin(i), np.cos(i)]])
            opt.update()
        return model.W.data
    np.testing.assert_array_equal(run(10), run(10, restore_after=4))


def test_schedules():
    assert optim.ExponentialDecay(0.97)(2) == pytest.approx(0.97 ** 2)
    assert [optim.StepDecay(3, 0.1)(e) for e in (0, 2, 3, 6)] == pytest.approx([1, 1, 0.1, 0.01])
    cosine = optim.CosineDecay(5, floor=0.1)
    assert cosine(0) == 1 and cosine(4) == pytest.approx(0.1) and cosine(2) == pytest.approx(0.55)
    assert math.isclose(cosine(10), 0.1)


@pytest.mark.parametrize("nesterov", [False, True])
def test_fused_momentum_kernel_matches_array_operations(nesterov):
    rng = np.random.default_rng(0)
    w, g, v = (rng.normal(size=(7, 5)).astype(np.float32) for _ in range(3))
    expected = [w.copy(), g, v.copy()]
    optim.momentum_step(*expected, 0.01, 0.9, 1e-3, nesterov)
    optim.momentum_step_cpu(w, g, v, 0.01, 0.9, 1e-3, nesterov)
    np.testing.assert_allclose(w, expected[0], rtol=1e-6)
    np.testing.assert_allclose(v, expected[2], rtol=1e-6)
