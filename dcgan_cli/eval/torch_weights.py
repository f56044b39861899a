"""Reading a PyTorch state dict (`torch.save(model.state_dict(), FILE)`) into numpy, without torch.

Both of torch.save's layouts are read: the zip archive (torch >= 1.6: data.pkl plus one file per
storage) and the older single stream (magic number, protocol, system info, the pickled dict, the
storage keys, then each storage's element count and bytes). The pickle may name only an ordered
dict, tensor rebuilders and storage types; anything else is refused, so a weights file can never
run code.
"""

from __future__ import annotations

import collections
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
          "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
          "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_}


class NotAStateDict(ValueError):
    """The file is not a PyTorch state dict this reader understands."""


class _Storage:
    def __init__(self, dtype, numel: int):
        self.dtype = np.dtype(dtype)
        self.numel = numel
        self.array: np.ndarray | None = None  # filled once the storage's bytes are read


class _Tensor:
    def __init__(self, storage: _Storage, offset: int, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def to_numpy(self) -> np.ndarray:
        flat = self.storage.array
        if flat is None:
            raise NotAStateDict("a tensor's storage is missing from the file")
        itemsize = flat.dtype.itemsize
        end = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride)) + 1 if all(self.size) else self.offset
        if end > len(flat):
            raise NotAStateDict("a tensor reaches past the end of its storage")
        if not self.size:  # a scalar, such as BatchNorm's num_batches_tracked
            return np.array(flat[self.offset])
        view = np.lib.stride_tricks.as_strided(flat[self.offset:], self.size, [s * itemsize for s in self.stride])
        return np.array(view)  # a copy: the strided view must not outlive its storage's layout


def _rebuild_tensor(storage, offset, size, stride, *unused):
    return _Tensor(storage, offset, size, stride)


def _rebuild_parameter(data, *unused):
    return data


class _Unpickler(pickle.Unpickler):
    ALLOWED = {("collections", "OrderedDict"): collections.OrderedDict,
               ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
               ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
               ("torch._utils", "_rebuild_parameter"): _rebuild_parameter}

    def __init__(self, file):
        super().__init__(file)
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module, name):
        if module == "torch" and name in DTYPES:
            return DTYPES[name]
        if (module, name) in self.ALLOWED:
            return self.ALLOWED[(module, name)]
        raise NotAStateDict(f"it refers to {module}.{name}, which no weights file needs")

    def persistent_load(self, pid):
        # ('storage', storage type, key, location, element count[, view of another storage])
        if not isinstance(pid, tuple) or len(pid) < 5 or _text(pid[0]) != "storage":
            raise NotAStateDict(f"unknown stored object {pid!r:.80}")
        if len(pid) > 5 and pid[5] is not None:
            raise NotAStateDict("storage views are not supported")
        key = _text(pid[2])
        if key not in self.storages:
            self.storages[key] = _Storage(pid[1], int(pid[4]))
        return self.storages[key]


def _text(value) -> str:
    return value.decode("ascii") if isinstance(value, bytes) else str(value)


def _load_zip(path: Path) -> tuple[dict, dict]:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if not pickles:
            raise NotAStateDict("a zip file without data.pkl")
        root = pickles[0][: -len("data.pkl")]
        unpickler = _Unpickler(archive.open(pickles[0]))
        state = unpickler.load()
        for key, storage in unpickler.storages.items():
            data = archive.read(f"{root}data/{key}")
            storage.array = np.frombuffer(data, storage.dtype.newbyteorder("<"), count=storage.numel).astype(storage.dtype)
    return state, unpickler.storages


def _load_legacy(path: Path) -> tuple[dict, dict]:
    with open(path, "rb") as file:
        if pickle.load(file) != LEGACY_MAGIC:
            raise NotAStateDict("no PyTorch magic number")
        if pickle.load(file) != LEGACY_PROTOCOL:
            raise NotAStateDict("an unknown PyTorch protocol version")
        info = pickle.load(file)
        if isinstance(info, dict) and not info.get("little_endian", True):
            raise NotAStateDict("written on a big-endian machine")
        unpickler = _Unpickler(file)
        state = unpickler.load()
        for key in pickle.load(file):
            storage = unpickler.storages[_text(key)]
            (numel,) = struct.unpack("<q", file.read(8))
            data = file.read(numel * storage.dtype.itemsize)
            if numel != storage.numel or len(data) != numel * storage.dtype.itemsize:
                raise NotAStateDict("the file ends early")
            storage.array = np.frombuffer(data, storage.dtype.newbyteorder("<")).astype(storage.dtype)
    return state, unpickler.storages


def load_state_dict(path) -> dict[str, np.ndarray]:
    """{parameter name: array} from a file written by torch.save(state_dict)."""
    path = Path(path)
    try:
        state, _ = _load_zip(path) if zipfile.is_zipfile(path) else _load_legacy(path)
    except NotAStateDict:
        raise
    except (pickle.UnpicklingError, EOFError, KeyError, ValueError, TypeError, struct.error, zipfile.BadZipFile) as exc:
        raise NotAStateDict(f"unreadable ({type(exc).__name__}: {exc})") from None
    if not isinstance(state, dict):
        raise NotAStateDict("it holds no state dict")
    return {name: value.to_numpy() if isinstance(value, _Tensor) else np.asarray(value) for name, value in state.items()}
