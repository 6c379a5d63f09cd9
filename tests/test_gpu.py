"""The CuPy path: every layer, kernel and optimizer against the verified CPU results, and the detectors and
train.py on the GPU. (Each layer's gradient check on the GPU is in test_layers.py, beside the CPU's.)"""
from pathlib import Path

import numpy as np
import pytest

import nanonet as nn
from nanonet import optim
from nanonet.backend import to_cpu
from nanonet.kernels import im2col as conv
from nanonet.kernels import pool
from tests.cases import (epoch_records, CONV_GEOMETRIES, LAYER_CASES, NORM, POOL_GEOMETRIES, away_from_kinks, tiny_cnn, train_bars,
                         untrained_net)
from tests.data_files import train_py
from tests.conftest import requires_gpu

pytestmark = requires_gpu


def _run(layer, x, r, reset):
    reset()
    y = layer.forward(x, True)
    gx = layer.backward(r)
    return [to_cpu(y), to_cpu(gx)] + [to_cpu(p.grad) for _, p in layer.named_params()]


@pytest.mark.parametrize("name", LAYER_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layer_on_gpu_matches_cpu(name, dtype):
    import cupy
    make, shape = LAYER_CASES[name]
    rng = np.random.default_rng(0)
    x = away_from_kinks(rng.normal(size=shape)).astype(dtype)
    cpu = make().astype(dtype)
    gpu = make().astype(dtype).to_gpu()
    y = cpu.forward(x, True)
    r = rng.normal(size=y.shape).astype(dtype)

    def reset_for(layer):
        def reset():
            if hasattr(layer, "rng"):
                layer.rng = np.random.default_rng(7)
        return reset
    expected = _run(cpu, x, r, reset_for(cpu))
    got = _run(gpu, cupy.asarray(x), cupy.asarray(r), reset_for(gpu))
    tol = 1e-4 if dtype == np.float32 else 1e-10
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g, e, rtol=tol, atol=tol)


@pytest.mark.parametrize("geometry", CONV_GEOMETRIES)
def test_im2col_kernels_on_gpu_match_references(geometry):
    import cupy
    h, w, kh, kw, sy, sx, ph, pw = geometry
    x = np.random.default_rng(0).normal(size=(2, 3, h, w))
    col = conv.im2col(cupy.asarray(x), kh, kw, sy, sx, ph, pw)
    np.testing.assert_array_equal(to_cpu(col), conv.im2col_reference(x, kh, kw, sy, sx, ph, pw))
    np.testing.assert_allclose(to_cpu(conv.col2im(col, h, w, sy, sx, ph, pw)),
                               conv.col2im_reference(to_cpu(col), h, w, sy, sx, ph, pw), rtol=1e-12)


@pytest.mark.parametrize("geometry", POOL_GEOMETRIES)
def test_pooling_kernels_on_gpu_match_the_cpu(geometry):
    import cupy
    size, k, s, p, cover_all = geometry
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, size, size + 1))
    y, argmax = pool.max_pool_forward(cupy.asarray(x), k, k, s, s, p, p, cover_all)
    np.testing.assert_array_equal(to_cpu(y), pool.max_pool_reference(x, k, k, s, s, p, p, cover_all))
    gy = rng.normal(size=y.shape)
    _, cpu_argmax = pool.max_pool_forward(x, k, k, s, s, p, p, cover_all)
    np.testing.assert_allclose(to_cpu(pool.max_pool_backward(cupy.asarray(gy), argmax, size, size + 1,
                                                             k, k, s, s, p, p)),
                               pool.max_pool_backward(gy, cpu_argmax, size, size + 1, k, k, s, s, p, p), rtol=1e-12)
    np.testing.assert_allclose(to_cpu(pool.avg_pool_forward(cupy.asarray(x), k, k, s, s, p, p, cover_all)),
                               pool.avg_pool_reference(x, k, k, s, s, p, p, cover_all), rtol=1e-12)
    np.testing.assert_allclose(to_cpu(pool.avg_pool_backward(cupy.asarray(gy), size, size + 1, k, k, s, s, p, p)),
                               pool.avg_pool_backward(gy, size, size + 1, k, k, s, s, p, p), rtol=1e-12)


@pytest.mark.parametrize("name", optim.OPTIMIZERS)
def test_every_optimizer_steps_on_gpu_as_on_the_cpu(name):
    def steps(on_gpu):
        model = nn.Linear(5, 3, rng=np.random.default_rng(0)).astype(np.float64)
        if on_gpu:
            model.to_gpu()
        opt = optim.OPTIMIZERS[name](lr=0.05, weight_decay=1e-3).setup(model)
        grads = np.random.default_rng(1)
        for _ in range(5):
            for _, p in model.named_params():
                p.grad = model.xp.asarray(grads.normal(size=p.data.shape))
            opt.update()
        return [to_cpu(p.data) for _, p in model.named_params()]
    for gpu, cpu in zip(steps(True), steps(False)):
        np.testing.assert_allclose(gpu, cpu, rtol=1e-10)


def test_model_moves_between_devices_and_saves_from_gpu(tmp_path):
    from nanonet import serialize
    net = tiny_cnn(np.random.default_rng(0)).to_gpu()
    serialize.save(tmp_path / "m.npz", net, arch="tiny")
    back = serialize.load_state(tiny_cnn(np.random.default_rng(1)), serialize.read(tmp_path / "m.npz").state)
    for name, a in net.to_cpu().state().items():
        np.testing.assert_array_equal(a, back.state()[name])


def test_tiny_cnn_learns_on_gpu():
    import cupy
    assert train_bars(xp=cupy) > 0.95


def test_detector_on_gpu_matches_cpu():
    from nets.detector import Classifier, SlidingWindowDetector
    image = np.random.default_rng(0).integers(0, 256, (150, 200, 3)).astype(np.uint8)
    cpu = SlidingWindowDetector(Classifier(untrained_net(), NORM, 0, 64), threshold=0.0).detect(image)
    gpu = SlidingWindowDetector(Classifier(untrained_net().to_gpu(), NORM, 0, 64), threshold=0.0).detect(image)
    np.testing.assert_allclose(gpu[1], cpu[1], atol=1e-4)


def test_device_names():
    from nanonet.backend import device_name
    assert device_name(-1) == "CPU"
    assert isinstance(device_name(0), str) and device_name(0)


@pytest.mark.parametrize("name", ["face", "anime"])
def test_shipped_detectors_on_gpu_match_the_cpu(name):
    import nets
    image = str(Path(__file__).resolve().parents[1] / "examples" / "astronaut.jpg")
    cpu_boxes, cpu_scores = nets.load(name, threshold=0.3).detect(image)
    gpu_boxes, gpu_scores = nets.load(name, gpu=0, threshold=0.3).detect(image)
    assert len(cpu_boxes) == len(gpu_boxes) > 0
    np.testing.assert_allclose(gpu_boxes, cpu_boxes, atol=0.05)
    np.testing.assert_allclose(gpu_scores, cpu_scores, atol=1e-3)


def test_train_py_trains_on_the_gpu(tmp_path):
    from nanonet import serialize
    from tests.data_files import class_folders
    data = class_folders(tmp_path / "set", per_class=8, size=64)
    out = tmp_path / "run"
    args = ["--net", "frg64", "--data", str(data), "--val", "0.3", "--batch", "4", "--out", str(out), "--gpu", "0"]
    result = train_py(*args, "--epochs", "1")
    assert result.returncode == 0, result.stderr
    assert serialize.read(out / "best.npz").meta["command"].endswith("--gpu 0 --epochs 1")
    resumed = train_py(*args, "--epochs", "2", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert len(epoch_records(out)) == 2
