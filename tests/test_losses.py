import numpy as np
import pytest

from nanonet.gradcheck import numerical_grad
from nanonet.losses import accuracy, mean_squared_error, sigmoid_binary_cross_entropy, softmax_cross_entropy, wing

rng = np.random.default_rng(0)


def _check(loss_fn, x, t):
    _, gx = loss_fn(x, t)
    np.testing.assert_allclose(gx, numerical_grad(lambda: loss_fn(x, t)[0], x), atol=1e-7, rtol=1e-5)


def test_softmax_cross_entropy_value_and_gradient():
    x, t = rng.normal(size=(5, 4)), np.array([0, 3, 1, 1, 2])
    loss, _ = softmax_cross_entropy(x, t)
    p = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    assert loss == pytest.approx(-np.log(p[np.arange(5), t]).mean())
    _check(softmax_cross_entropy, x, t)
    assert np.isfinite(softmax_cross_entropy(np.array([[1e4, -1e4]]), np.array([1]))[0])


def test_class_weighted_softmax_cross_entropy_is_the_weighted_mean_and_its_gradient():
    x, t, w = rng.normal(size=(6, 3)), np.array([0, 2, 1, 1, 0, 2]), np.array([0.5, 2.0, 1.0])
    loss, _ = softmax_cross_entropy(x, t, w)
    p = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    each = -np.log(p[np.arange(6), t])
    assert loss == pytest.approx((w[t] * each).sum() / w[t].sum())
    assert loss != pytest.approx(each.mean())
    _check(lambda x_, t_: softmax_cross_entropy(x_, t_, w), x, t)
    # equal weights are the plain mean
    assert softmax_cross_entropy(x, t, np.full(3, 7.0))[0] == pytest.approx(softmax_cross_entropy(x, t)[0])


def test_sigmoid_binary_cross_entropy_value_and_gradient():
    x, t = rng.normal(size=(4, 3)) * 3, rng.integers(0, 2, size=(4, 3)).astype(np.float64)
    s = 1 / (1 + np.exp(-x))
    assert sigmoid_binary_cross_entropy(x, t)[0] == pytest.approx((-t * np.log(s) - (1 - t) * np.log(1 - s)).mean())
    _check(sigmoid_binary_cross_entropy, x, t)
    assert np.isfinite(sigmoid_binary_cross_entropy(np.array([1e4, -1e4]), np.array([0.0, 1.0]))[0])


def test_mean_squared_error_value_and_gradient():
    x, t = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    assert mean_squared_error(x, t)[0] == pytest.approx(((x - t) ** 2).mean())
    _check(mean_squared_error, x, t)


def test_wing_loss_value_gradient_and_shape():
    # errors on both sides of the width, none at the kink or at 0, where the loss has no derivative
    d = np.array([[-0.3, -0.05, -0.01, 0.002], [0.006, 0.03, 0.07, 1.5]])
    t = rng.normal(size=d.shape)
    w, e = 0.04, 0.008
    c = w - w * np.log(1 + w / e)
    slow = [w * np.log(1 + abs(v) / e) if abs(v) < w else abs(v) - c for v in d.ravel()]
    assert wing(t + d, t)[0] == pytest.approx(np.mean(slow))
    _check(wing, t + d, t)
    # continuous at the width, and steeper than squared error near 0
    below, above = wing(np.array([w - 1e-9]), np.zeros(1))[0], wing(np.array([w + 1e-9]), np.zeros(1))[0]
    assert below == pytest.approx(above, abs=1e-8)
    assert abs(wing(np.array([0.001]), np.zeros(1))[1][0]) > abs(mean_squared_error(np.array([0.001]), np.zeros(1))[1][0])
    with pytest.raises(ValueError, match="shape"):
        wing(np.zeros((2, 3)), np.zeros((3, 2)))


def test_accuracy():
    assert accuracy(np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]]), np.array([1, 1, 1])) == pytest.approx(2 / 3)


def test_bad_labels_are_refused():
    with pytest.raises(ValueError, match="labels must lie"):
        softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match="shape"):
        softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 1, 2]))
