"""ONNX export: every shipped net runs in onnxruntime as in nanonet, to 1e-4, its normalisation built in."""
import json
import subprocess
import sys

import numpy as np
import pytest

import nanonet as nn
import nets
from nanonet.data.normalize import Normalization
from tests.data_files import ROOT

onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed")
ort = pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")


def run_onnx(proto_or_path, pictures):
    """onnxruntime's output for uint8 pictures (N, S, S, 3), given as the files take them."""
    source = proto_or_path.SerializeToString() if hasattr(proto_or_path, "SerializeToString") else str(proto_or_path)
    session = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
    return session.run(None, {"image": pictures.transpose(0, 3, 1, 2).astype(np.float32)})[0]


def test_every_layer_kind_exports_as_it_computes():
    from nets.export import to_onnx
    rng = np.random.default_rng(0)
    model = nn.Sequential(
        nn.Conv2D(3, 6, 3, stride=2, pad=1, rng=rng), nn.BatchNorm(6), nn.LeakyReLU(0.1),
        nn.MaxPool2D(3, 2),                                    # ceil rounding: 8 -> 4
        nn.Concat(nn.Sequential(nn.AvgPool2D(2), nn.Tanh(), nn.Flatten()),
                  nn.Sequential(nn.Conv2D(6, 4, 1, rng=rng), nn.Sigmoid(), nn.Flatten())),
        nn.Dropout(0.5, rng=rng), nn.Linear(6 * 2 * 2 + 4 * 4 * 4, 5, rng=rng), nn.ReLU(), nn.Linear(5, 3, rng=rng))
    norm = model[1]
    norm.avg_mean[:] = rng.normal(size=6)
    norm.avg_var[:] = rng.uniform(0.5, 2, 6)
    normalization = Normalization(rng.uniform(90, 140, (3, 16, 16)), 60.0)
    pictures = rng.integers(0, 256, (4, 16, 16, 3)).astype(np.uint8)
    expected = model.predict(normalization(pictures))
    np.testing.assert_allclose(run_onnx(to_onnx(model, normalization, 16, False, "t"), pictures), expected, atol=1e-4)
    probabilities = run_onnx(to_onnx(model, normalization, 16, True, "t"), pictures)
    np.testing.assert_allclose(probabilities, nn.layers.activation.softmax(expected, axis=1), atol=1e-5)


@pytest.mark.parametrize("name", list(nets.SHIPPED))
def test_shipped_nets_run_in_onnxruntime_as_in_nanonet(name, tmp_path):
    from nanonet.layers.activation import softmax
    from nets.registry import load_model
    result = subprocess.run([sys.executable, "-m", "nets.export", name, str(tmp_path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    about = json.loads((tmp_path / f"{name}.json").read_text())
    assert [d["file"] for d in about["nets"]] == [f.replace(".npz", ".onnx") for f in nets.shipped_files(name)]
    assert ("settings" in about) == (name in nets.DETECTORS)
    for f, described in zip(nets.shipped_files(name), about["nets"]):
        model, normalization, _ = load_model(ROOT / "nets" / "weights" / f)
        size = described["input_size"]
        pictures = np.random.default_rng(1).integers(0, 256, (6, size, size, 3)).astype(np.uint8)
        expected = model.predict(normalization(pictures))
        expected = softmax(expected, axis=1) if "classes" in described else expected
        np.testing.assert_allclose(run_onnx(tmp_path / described["file"], pictures), expected, atol=1e-4)


def test_export_refuses_an_unknown_model_in_one_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "nets.export", "nothing", str(tmp_path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
