"""The CuPy path: every layer's forward and backward on the GPU against the verified CPU results."""
import numpy as np
import pytest

from nanonet.backend import to_cpu
from tests.cases import LAYER_CASES, away_from_kinks, tiny_cnn
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


def test_model_moves_between_devices_and_saves_from_gpu(tmp_path):
    from nanonet import serialize
    net = tiny_cnn(np.random.default_rng(0)).to_gpu()
    serialize.save(tmp_path / "m.npz", net, arch="tiny")
    back = serialize.load_state(tiny_cnn(np.random.default_rng(1)), serialize.read(tmp_path / "m.npz").state)
    for name, a in net.to_cpu().state().items():
        np.testing.assert_array_equal(a, back.state()[name])


def test_tiny_cnn_learns_on_gpu():
    import cupy
    from tests.test_training import train
    assert train(xp=cupy) > 0.95


def test_detector_on_gpu_matches_cpu():
    from nets.detector import Classifier, SlidingWindowDetector
    from tests.test_detector import NORM, _slim
    image = np.random.default_rng(0).integers(0, 256, (150, 200, 3)).astype(np.uint8)
    cpu = SlidingWindowDetector(Classifier(_slim(), NORM, 0, 64), threshold=0.0).detect(image)
    gpu = SlidingWindowDetector(Classifier(_slim().to_gpu(), NORM, 0, 64), threshold=0.0).detect(image)
    np.testing.assert_allclose(gpu[1], cpu[1], atol=1e-4)


def test_device_names():
    from nanonet.backend import device_name
    assert device_name(-1) == "CPU"
    assert isinstance(device_name(0), str) and device_name(0)
