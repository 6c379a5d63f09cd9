"""One `.npz` per model: parameters, buffers, input normalisation, and a JSON header.

Layout of the archive (never pickled: it is read with allow_pickle=False):
    __header__      uint8 bytes of JSON: format, version, arch, config, meta
    state/<name>    every parameter and buffer of the model ('0/W', '1/avg_mean', ...)
    norm/<key>      the input normalisation ('mean', 'std', ...) computed on the training set
    extra/<key>     anything else a caller keeps beside the weights (optimizer slots in a checkpoint)

Writes are atomic: a temporary file in the same folder, fsync, then rename over the target, so a crash
leaves either the old file or the new one, never half of one.
"""
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field

import numpy as np

from nanonet.backend import to_cpu

FORMAT = "nanonet-model"
VERSION = 1
MAX_ARRAY_BYTES = 1 << 30     # what one array of a model file may declare (FrgNet64's largest: 154 MB)
MAX_TOTAL_BYTES = 2 << 30


class ModelFileError(ValueError):
    """A model file that cannot be used: unreadable, foreign, or not matching the model."""


@dataclass
class ModelFile:
    arch: str
    config: dict
    meta: dict
    state: dict
    normalization: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)


def atomic_write(path, write):
    """Call write(file) on a temporary file beside `path`, then move it into place."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix="-" + os.path.basename(path))
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes files private; a model file is an ordinary file
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def save(path, model, arch, config=None, normalization=None, meta=None, extra=None, compress=False):
    """Write `model`'s parameters and buffers, with its architecture's name and config, to `path`."""
    header = {"format": FORMAT, "version": VERSION, "arch": arch, "config": config or {}, "meta": meta or {}}
    arrays = {"__header__": np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)}
    for prefix, group in (("state", model.state()), ("norm", normalization or {}), ("extra", extra or {})):
        arrays.update((f"{prefix}/{k}", to_cpu(v)) for k, v in group.items())
    savez = np.savez_compressed if compress else np.savez
    atomic_write(path, lambda f: savez(f, **arrays))


def read(path):
    """Read a model file into a ModelFile; ModelFileError with a one-line reason if it is not one."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelFileError(f"{path}: no such model file")
    with open(path, "rb") as f:
        if f.read(4) != b"PK\x03\x04":
            raise ModelFileError(f"{path}: not a nanonet model file (not an .npz archive)")
    _check_declared_sizes(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except ValueError as e:
        if "pickle" in str(e):
            raise ModelFileError(f"{path}: refused: the model file holds pickled objects, which nanonet never loads")
        raise ModelFileError(f"{path}: corrupted model file ({e})")
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise ModelFileError(f"{path}: unreadable or truncated model file ({e})")
    if "__header__" not in arrays:
        raise ModelFileError(f"{path}: not a nanonet model file (no header)")
    try:
        header = json.loads(arrays.pop("__header__").tobytes().decode())
    except (ValueError, UnicodeDecodeError):
        raise ModelFileError(f"{path}: corrupted model file (its header is not JSON)")
    if not isinstance(header, dict):
        raise ModelFileError(f"{path}: corrupted model file (its header is not a JSON object)")
    if header.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a nanonet model file (format {header.get('format')!r})")
    if header.get("version") != VERSION:
        raise ModelFileError(f"{path}: model file format version {header.get('version')}, "
                             f"this nanonet reads version {VERSION}")
    for key, kind in (("arch", str), ("config", dict), ("meta", dict)):
        if not isinstance(header.get(key, {} if kind is dict else None), kind):
            raise ModelFileError(f"{path}: corrupted model file (its header's {key} is not a {kind.__name__})")
    groups = {"state": {}, "norm": {}, "extra": {}}
    for key, a in arrays.items():
        prefix, _, name = key.partition("/")
        if prefix not in groups or not name:
            raise ModelFileError(f"{path}: unexpected entry {key!r} in model file")
        groups[prefix][name] = a
    return ModelFile(arch=header.get("arch"), config=header.get("config", {}), meta=header.get("meta", {}),
                     state=groups["state"], normalization=groups["norm"], extra=groups["extra"])


def _check_declared_sizes(path):
    """ModelFileError if an array of the archive declares more than MAX_ARRAY_BYTES (or all of them more than
    MAX_TOTAL_BYTES), read from the .npy headers alone: a small compressed file may declare gigabytes."""
    total = 0
    try:
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                with z.open(info) as f:
                    version = np.lib.format.read_magic(f)
                    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                        np.lib.format.read_array_header_2_0
                    shape, _, dtype = read_header(f, max_header_size=10000)
                size = int(np.prod(shape, dtype=object)) * dtype.itemsize
                total += size
                if size > MAX_ARRAY_BYTES or total > MAX_TOTAL_BYTES:
                    raise ModelFileError(f"{path}: {info.filename} declares {size / 1e9:.3g} GB; a model file's "
                                         f"arrays may hold at most {MAX_ARRAY_BYTES / 1e9:.3g} GB each")
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, TypeError) as e:
        raise ModelFileError(f"{path}: unreadable, truncated or corrupted model file ({e})")


def load_state(model, state, source="model file"):
    """Copy `state` into `model` after checking that names, shapes and kinds match exactly."""
    expected = {name: a for name, a in model.state().items()}
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''}")
        if unexpected:
            parts.append(f"unexpected {', '.join(unexpected[:4])}{' ...' if len(unexpected) > 4 else ''}")
        raise ModelFileError(f"{source} does not fit this model: {'; '.join(parts)}")
    for name, a in expected.items():
        got = state[name]
        if got.shape != a.shape:
            raise ModelFileError(f"{source} does not fit this model: {name} has shape {got.shape}, "
                                 f"the model needs {a.shape}")
        if got.dtype.kind != "f":
            raise ModelFileError(f"{source}: {name} holds {got.dtype}, not floating-point numbers")
        if not np.isfinite(got).all():
            raise ModelFileError(f"{source}: {name} holds values that are not finite (NaN or infinity)")
    model.set_state(state)
    return model
