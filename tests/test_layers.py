import numpy as np
import pytest

import nanonet as nn
from nanonet.backend import to_gpu
from nanonet.gradcheck import check_layer
from nanonet.kernels.pool import avg_pool_reference, max_pool_reference
from nanonet.layers.conv import conv2d_reference
from nanonet.layers.dense import linear_reference
from nanonet.layers.norm import batch_norm_reference
from tests.cases import LAYER_CASES, away_from_kinks, tiny_cnn
from tests.conftest import requires_gpu


@pytest.mark.parametrize("device", ["cpu", pytest.param("gpu", marks=requires_gpu)])
@pytest.mark.parametrize("name", LAYER_CASES)
def test_gradients_match_central_differences(name, device):
    make, shape = LAYER_CASES[name]
    layer = make().astype(np.float64)
    x = away_from_kinks(np.random.default_rng(0).normal(size=shape))
    if device == "gpu":
        layer, x = layer.to_gpu(), to_gpu(x)
    reset = None
    if isinstance(layer, nn.Dropout):
        def reset():
            layer.rng = np.random.default_rng(7)
    check_layer(layer, x, train=True, reset=reset)


def test_batchnorm_gradients_in_eval_mode():
    layer = nn.BatchNorm(3).astype(np.float64)
    layer.avg_mean[:] = [0.5, -1, 2]
    layer.avg_var[:] = [2, 0.5, 1]
    check_layer(layer, np.random.default_rng(0).normal(size=(4, 3, 2, 2)), train=False)


def test_small_net_gradients_input_and_every_parameter():
    net = tiny_cnn(np.random.default_rng(0)).astype(np.float64)
    x = away_from_kinks(np.random.default_rng(1).normal(size=(3, 1, 8, 8)))

    def reset():
        net[9].rng = np.random.default_rng(3)
    check_layer(net, x, train=True, reset=reset)


def _rand(*shape, dtype=np.float64):
    return np.random.default_rng(0).normal(size=shape).astype(dtype)


@pytest.mark.parametrize("stride,pad", [(1, 0), (2, 1), ((1, 2), (2, 0))])
def test_conv_forward_matches_reference(stride, pad):
    layer = nn.Conv2D(3, 5, (3, 2), stride=stride, pad=pad, rng=np.random.default_rng(0))
    layer.b.data[:] = np.arange(5)
    x = _rand(2, 3, 6, 7, dtype=np.float32)
    np.testing.assert_allclose(layer.forward(x), conv2d_reference(x, layer.W.data, layer.b.data, stride, pad),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("n,size,pad", [(1, 9, 1), (3, 8, 0), (1, 3, 1)])
def test_conv_in_evaluation_takes_winograd_and_follows_its_weights(n, size, pad):
    rng = np.random.default_rng(0)
    layer = nn.Conv2D(16, 5, 3, pad=pad, rng=rng)
    layer.b.data[:] = np.arange(5)
    x = _rand(n, 16, size, size, dtype=np.float32)
    takes = layer._takes_winograd(n, size + 2 * pad - 2, size + 2 * pad - 2)
    assert takes == (n * ((size + 2 * pad - 1) // 2) ** 2 >= layer.winograd_min_tiles)
    np.testing.assert_allclose(layer.forward(x), conv2d_reference(x, layer.W.data, layer.b.data, 1, pad),
                               rtol=1e-4, atol=1e-4)
    assert (layer._winograd is not None) == takes
    layer.forward(x, train=True)            # a training step changes W in place: the transform must follow
    layer.W.data *= 2
    np.testing.assert_allclose(layer.forward(x), conv2d_reference(x, layer.W.data, layer.b.data, 1, pad),
                               rtol=1e-4, atol=1e-4)
    layer.W.data = layer.W.data[::-1].copy()    # new weights
    np.testing.assert_allclose(layer.forward(x), conv2d_reference(x, layer.W.data, layer.b.data, 1, pad),
                               rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("n", [1, 4])
def test_linear_in_evaluation_follows_its_weights(n):
    layer = nn.Linear(6, 4, rng=np.random.default_rng(0))
    x = _rand(n, 6, dtype=np.float32)
    np.testing.assert_allclose(layer.forward(x), linear_reference(x, layer.W.data, layer.b.data), rtol=1e-5)
    layer.forward(x, train=True)            # a training step changes W in place: the kept W^T must follow
    layer.W.data *= 2
    np.testing.assert_allclose(layer.forward(x), linear_reference(x, layer.W.data, layer.b.data), rtol=1e-5)
    layer.W.data = layer.W.data[::-1].copy()    # new weights
    np.testing.assert_allclose(layer.forward(x), linear_reference(x, layer.W.data, layer.b.data), rtol=1e-5)


def test_linear_forward_matches_reference():
    layer = nn.Linear(6, 4, rng=np.random.default_rng(0))
    layer.b.data[:] = 1
    x = _rand(3, 6, dtype=np.float32)
    np.testing.assert_allclose(layer.forward(x), linear_reference(x, layer.W.data, layer.b.data), rtol=1e-5)


def test_pool_layers_match_references():
    x = _rand(2, 3, 9, 8)
    np.testing.assert_array_equal(nn.MaxPool2D(3, 2, pad=1).forward(x), max_pool_reference(x, 3, 3, 2, 2, 1, 1, True))
    np.testing.assert_allclose(nn.AvgPool2D(3, 2).forward(x), avg_pool_reference(x, 3, 3, 2, 2, 0, 0, True))


def test_batchnorm_training_and_running_statistics():
    layer = nn.BatchNorm(3, decay=0.9).astype(np.float64)
    layer.gamma.data[:] = [1, 2, 3]
    layer.beta.data[:] = [0, -1, 1]
    x = _rand(5, 3, 2, 2) * 3 + 1
    y = layer.forward(x, train=True)
    np.testing.assert_allclose(y, batch_norm_reference(x, layer.gamma.data, layer.beta.data, layer.eps))
    m = x.shape[0] * 4
    np.testing.assert_allclose(layer.avg_mean, 0.1 * x.mean(axis=(0, 2, 3)))
    np.testing.assert_allclose(layer.avg_var, 0.9 + 0.1 * x.var(axis=(0, 2, 3)) * m / (m - 1))
    evaluated = layer.forward(x, train=False)
    expected = (x - layer.avg_mean[:, None, None]) / np.sqrt(layer.avg_var[:, None, None] + layer.eps)
    np.testing.assert_allclose(evaluated, expected * layer.gamma.data[:, None, None] + layer.beta.data[:, None, None])


def test_activations_match_formulas():
    x = _rand(4, 5) * 5
    np.testing.assert_array_equal(nn.ReLU().forward(x), np.maximum(x, 0))
    np.testing.assert_array_equal(nn.LeakyReLU(0.1).forward(x), np.where(x > 0, x, 0.1 * x))
    np.testing.assert_allclose(nn.Sigmoid().forward(x), 1 / (1 + np.exp(-x)))
    np.testing.assert_allclose(nn.Tanh().forward(x), np.tanh(x))
    s = nn.Softmax().forward(x)
    np.testing.assert_allclose(s, np.exp(x) / np.exp(x).sum(axis=1, keepdims=True))
    assert np.isfinite(nn.Sigmoid().forward(np.array([[-1e4, 1e4]]))).all()


def test_dropout_scales_in_training_and_passes_through_in_evaluation():
    x = np.ones((200, 100), dtype=np.float32)
    layer = nn.Dropout(0.25, rng=np.random.default_rng(0))
    assert layer.forward(x, train=False) is x
    y = layer.forward(x, train=True)
    assert set(np.unique(y)) == {0, np.float32(1 / 0.75)}
    assert abs((y == 0).mean() - 0.25) < 0.01
    again = nn.Dropout(0.25, rng=np.random.default_rng(0)).forward(x, train=True)
    np.testing.assert_array_equal(y, again)


def test_initialisation_is_reproducible_from_the_callers_seed():
    a = tiny_cnn(np.random.default_rng(5)).state()
    b = tiny_cnn(np.random.default_rng(5)).state()
    c = tiny_cnn(np.random.default_rng(6)).state()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["0/W"], c["0/W"])
    assert a["0/W"].dtype == np.float32


def test_layers_without_a_generator_are_refused():
    with pytest.raises(TypeError, match="default_rng"):
        nn.Conv2D(1, 1, 3)
    with pytest.raises(TypeError, match="default_rng"):
        nn.Dropout(0.5)


@pytest.mark.parametrize("layer,shape", [
    (lambda: nn.Conv2D(3, 4, 3, rng=np.random.default_rng(0)), (2, 4, 5, 5)),
    (lambda: nn.Linear(10, 2, rng=np.random.default_rng(0)), (2, 9)),
    (lambda: nn.BatchNorm(3), (2, 4)),
    (lambda: nn.MaxPool2D(2), (2, 4)),
])
def test_wrong_input_shapes_get_a_clear_error(layer, shape):
    with pytest.raises(ValueError, match="expects"):
        layer().forward(np.zeros(shape, dtype=np.float32))


def test_parameter_names_follow_the_graph():
    net = nn.Sequential(nn.Conv2D(1, 2, 3, rng=np.random.default_rng(0)), nn.BatchNorm(2),
                        nn.Concat(nn.Sequential(nn.ReLU()), nn.Sequential(nn.Conv2D(2, 2, 1, nobias=True,
                                                                                   rng=np.random.default_rng(0)))))
    assert list(net.state()) == ["0/W", "0/b", "1/gamma", "1/beta", "2/1/0/W", "1/avg_mean", "1/avg_var"]


@pytest.mark.parametrize("shape", [(4, 3, 5, 2), (6, 5)])
def test_batchnorm_numba_kernels_match_array_operations(shape):
    from nanonet.kernels import batchnorm as bn
    rng = np.random.default_rng(0)
    x3 = rng.normal(size=shape).reshape(shape[0], shape[1], -1) * 2 + 1
    gamma, beta, gy3 = rng.normal(size=shape[1]), rng.normal(size=shape[1]), rng.normal(size=x3.shape)
    fast, slow = bn.batch_norm_forward(x3, gamma, beta, 2e-5), bn.batch_norm_forward_xp(x3, gamma, beta, 2e-5)
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    _, mean, _, inv_std = slow
    for a, b in zip(bn.batch_norm_backward(gy3, x3, gamma, mean, inv_std),
                    bn.batch_norm_backward_xp(gy3, x3, gamma, mean, inv_std)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_first_layer_can_skip_its_input_gradient():
    rng = np.random.default_rng(0)
    full, first = (nn.Conv2D(2, 3, 3, rng=np.random.default_rng(0), input_grad=flag) for flag in (True, False))
    x, gy = rng.normal(size=(2, 2, 5, 5)), rng.normal(size=(2, 3, 3, 3))
    full.forward(x, True)
    first.forward(x, True)
    assert full.backward(gy) is not None and first.backward(gy) is None
    np.testing.assert_array_equal(full.W.grad, first.W.grad)
