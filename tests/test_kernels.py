import os
import subprocess
import sys

import numpy as np
import pytest

from nanonet.kernels import im2col as conv
from nanonet.kernels import pool, winograd
from nanonet.layers.conv import conv2d_reference
from tests.cases import CONV_GEOMETRIES, POOL_GEOMETRIES


@pytest.mark.parametrize("geometry", CONV_GEOMETRIES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_im2col_and_col2im_match_references(geometry, dtype):
    h, w, *args = geometry
    x = np.random.default_rng(0).normal(size=(2, 3, h, w)).astype(dtype)
    col = conv.im2col(x, *args)
    np.testing.assert_array_equal(col, conv.im2col_reference(x, *args))
    kh, kw, sy, sx, ph, pw = args
    np.testing.assert_allclose(conv.col2im(col, h, w, sy, sx, ph, pw),
                               conv.col2im_reference(col, h, w, sy, sx, ph, pw), rtol=1e-6)


@pytest.mark.parametrize("geometry", CONV_GEOMETRIES)
def test_col2im_is_the_adjoint_of_im2col(geometry):
    h, w, kh, kw, sy, sx, ph, pw = geometry
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, h, w))
    c = rng.normal(size=conv.im2col(x, kh, kw, sy, sx, ph, pw).shape)
    lhs = (conv.im2col(x, kh, kw, sy, sx, ph, pw) * c).sum()
    rhs = (x * conv.col2im(c, h, w, sy, sx, ph, pw)).sum()
    assert lhs == pytest.approx(rhs, rel=1e-12)


@pytest.mark.parametrize("n,c,o,h,w,pad", [(2, 3, 4, 7, 8, 0), (1, 5, 6, 9, 9, 1), (3, 2, 3, 3, 3, 0),
                                           (2, 4, 5, 4, 6, 1), (1, 3, 2, 32, 32, 1)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_winograd_transforms_match_references_and_convolve(n, c, o, h, w, pad, dtype):
    rng = np.random.default_rng(0)
    x, W, b = rng.normal(size=(n, c, h, w)).astype(dtype), rng.normal(size=(o, c, 3, 3)), rng.normal(size=o)
    tiles = winograd.winograd_tiles(x, pad)
    np.testing.assert_allclose(tiles, winograd.winograd_tiles_reference(x, pad), rtol=1e-6, atol=1e-6)
    products = winograd.winograd_weights(W.astype(dtype)) @ tiles
    oh, ow = h + 2 * pad - 2, w + 2 * pad - 2
    y = winograd.winograd_outputs(products, b, n, oh, ow)
    np.testing.assert_allclose(y, winograd.winograd_outputs_reference(products, b, n, oh, ow), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(y, conv2d_reference(x, W, b, 1, pad), rtol=1e-4, atol=1e-4)


def test_winograd_planes_lie_an_odd_number_of_cache_lines_apart():
    for rows, cols in [(24, 256), (1, 1), (16, 64), (3, 100)]:
        stride = winograd.planes(rows, cols, np.float32).strides[0] // 4
        assert stride >= rows * cols and stride % 16 == 0 and stride // 16 % 2 == 1


@pytest.mark.parametrize("geometry", POOL_GEOMETRIES)
def test_pooling_matches_references(geometry):
    size, k, s, p, cover_all = geometry
    x = np.random.default_rng(0).normal(size=(2, 3, size, size + 1))
    y, argmax = pool.max_pool_forward(x, k, k, s, s, p, p, cover_all)
    np.testing.assert_array_equal(y, pool.max_pool_reference(x, k, k, s, s, p, p, cover_all))
    assert argmax.min() >= 0 and argmax.max() < k * k
    np.testing.assert_array_equal(pool.max_pool_forward(x, k, k, s, s, p, p, cover_all, argmax=False)[0], y)
    np.testing.assert_allclose(pool.avg_pool_forward(x, k, k, s, s, p, p, cover_all),
                               pool.avg_pool_reference(x, k, k, s, s, p, p, cover_all), rtol=1e-12)
    gy = np.random.default_rng(1).normal(size=y.shape)
    h, w = x.shape[2:]
    np.testing.assert_allclose(pool.max_pool_backward(gy, argmax, h, w, k, k, s, s, p, p),
                               pool.max_pool_backward_reference(x, gy, k, k, s, s, p, p), rtol=1e-12)
    np.testing.assert_allclose(pool.avg_pool_backward(gy, h, w, k, k, s, s, p, p),
                               pool.avg_pool_backward_reference(gy, h, w, k, k, s, s, p, p), rtol=1e-12)


def test_cover_all_gives_frgnet_sizes():
    assert [pool.pool_outsize(64, 5, 2, 0, True), pool.pool_outsize(31, 5, 2, 0, True),
            pool.pool_outsize(14, 3, 2, 0, True)] == [31, 14, 7]
    assert pool.pool_outsize(64, 5, 2, 0, False) == 30


def test_every_window_holds_a_real_pixel():
    # k=2, s=2, p=1 on 4 pixels: Chainer's rounding alone would add a window lying wholly in padding.
    assert pool.pool_outsize(4, 2, 2, 1, True) == 3
    y, _ = pool.max_pool_forward(np.ones((1, 1, 4, 4)), 2, 2, 2, 2, 1, 1, True)
    assert np.isfinite(y).all()


def test_too_small_inputs_are_refused():
    with pytest.raises(ValueError, match="smaller than"):
        conv.im2col(np.zeros((1, 1, 2, 2)), 3, 3, 1, 1, 0, 0)
    with pytest.raises(ValueError, match="smaller than"):
        pool.max_pool_forward(np.zeros((1, 1, 2, 2)), 3, 3, 1, 1, 0, 0, False)


def test_im2col_fills_a_transposed_buffer_and_col2im_reads_one():
    x = np.random.default_rng(0).normal(size=(3, 2, 6, 5))
    buffer = np.empty((2, 3, 3, 3, 6, 5))  # (C, kh, kw, N, oh, ow)
    view = conv.im2col(x, 3, 3, 1, 1, 1, 1, out=buffer.transpose(3, 0, 1, 2, 4, 5))
    np.testing.assert_array_equal(view, conv.im2col_reference(x, 3, 3, 1, 1, 1, 1))
    np.testing.assert_allclose(conv.col2im(view, 6, 5, 1, 1, 1, 1), conv.col2im_reference(view, 6, 5, 1, 1, 1, 1))
    with pytest.raises(ValueError, match="out has shape"):
        conv.im2col(x, 3, 3, 1, 1, 0, 0, out=buffer.transpose(3, 0, 1, 2, 4, 5))


def test_openmp_threads_sleep_when_idle_beside_a_multi_threaded_blas_unless_the_user_says_otherwise():
    show = [sys.executable, "-c", "import nanonet, os; print(os.environ.get('OMP_WAIT_POLICY'))"]
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OPENBLAS_NUM_THREADS")}

    def policy(**extra):
        return subprocess.run(show, env=dict(env, **extra), capture_output=True, text=True).stdout.strip()
    assert policy() == "PASSIVE"
    assert policy(OMP_WAIT_POLICY="ACTIVE") == "ACTIVE"
    assert policy(OPENBLAS_NUM_THREADS="1") == "None"
