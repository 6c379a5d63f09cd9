import json
import zipfile

import numpy as np
import pytest

from nanonet import serialize
from nanonet.serialize import ModelFileError
from tests.cases import tiny_cnn


@pytest.fixture
def saved(tmp_path):
    net = tiny_cnn(np.random.default_rng(0))
    net.forward(np.random.default_rng(1).normal(size=(4, 1, 8, 8)).astype(np.float32), train=True)  # BN stats
    path = tmp_path / "tiny.npz"
    serialize.save(path, net, arch="tiny", config={"classes": 2}, meta={"command": "test"},
                   normalization={"mean": np.full((1, 8, 8), 0.5, np.float32)})
    return net, path


def test_round_trip_is_bit_exact(saved):
    net, path = saved
    f = serialize.read(path)
    assert (f.arch, f.config, f.meta) == ("tiny", {"classes": 2}, {"command": "test"})
    other = serialize.load_state(tiny_cnn(np.random.default_rng(9)), f.state)
    for name, a in net.state().items():
        b = other.state()[name]
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), name
    np.testing.assert_array_equal(f.normalization["mean"], 0.5)
    x = np.random.default_rng(2).normal(size=(2, 1, 8, 8)).astype(np.float32)
    assert net.predict(x).tobytes() == other.predict(x).tobytes()


def test_writes_leave_no_temporary_files(saved):
    _, path = saved
    assert [p.name for p in path.parent.iterdir()] == ["tiny.npz"]


def test_truncated_file_is_refused(saved):
    _, path = saved
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(ModelFileError, match="truncated"):
        serialize.read(path)


def test_wrong_shapes_are_refused(saved):
    _, path = saved
    f = serialize.read(path)
    f.state["0/W"] = np.zeros((5, 1, 3, 3), np.float32)
    with pytest.raises(ModelFileError, match=r"0/W has shape \(5, 1, 3, 3\)"):
        serialize.load_state(tiny_cnn(np.random.default_rng(0)), f.state)


def test_missing_and_unexpected_names_are_refused(saved):
    _, path = saved
    f = serialize.read(path)
    f.state["99/W"] = f.state.pop("0/b")
    with pytest.raises(ModelFileError, match="missing 0/b; unexpected 99/W"):
        serialize.load_state(tiny_cnn(np.random.default_rng(0)), f.state)


def test_pickled_object_arrays_are_refused(tmp_path):
    path = tmp_path / "evil.npz"
    header = np.frombuffer(json.dumps({"format": "nanonet-model", "version": 1}).encode(), np.uint8)
    np.savez(path, __header__=header, **{"state/0/W": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(ModelFileError, match="pickled objects"):
        serialize.read(path)


@pytest.mark.parametrize("kind", ["foreign_npz", "npy", "text", "bad_version", "missing"])
def test_foreign_files_are_refused(tmp_path, kind):
    path = tmp_path / "model.npz"
    if kind == "foreign_npz":
        np.savez(path, weights=np.zeros(3))
    elif kind == "npy":
        with open(path, "wb") as f:
            np.save(f, np.zeros(3))
    elif kind == "text":
        path.write_text("hello")
    elif kind == "bad_version":
        header = np.frombuffer(json.dumps({"format": "nanonet-model", "version": 99}).encode(), np.uint8)
        np.savez(path, __header__=header)
    with pytest.raises(ModelFileError, match="model file"):
        serialize.read(path)


def test_archives_are_plain_zip_of_npy(saved):
    _, path = saved
    with zipfile.ZipFile(path) as z:
        assert "__header__.npy" in z.namelist() and "state/0/W.npy" in z.namelist()
