"""Writing files as torch.save(state_dict) does, without torch, and the FID Inception's state dict.

torch.save pickles an OrderedDict of tensors, each reduced to torch._utils._rebuild_tensor_v2
(storage, offset, size, stride, requires_grad, hooks), with every storage replaced by a persistent
id ('storage', torch.FloatStorage, key, 'cpu', numel[, view]); the storages' bytes follow the pickle
(the single-stream layout) or sit beside it in a zip archive (torch >= 1.6). Fake `torch` modules
stand in for the real ones while pickling, so the pickle names exactly what torch's does.
"""

import collections
import pickle
import struct
import sys
import types
import zipfile
from unittest import mock

import numpy as np

STORAGE_NAMES = {np.dtype(np.float32): "FloatStorage", np.dtype(np.int64): "LongStorage"}


def _fake_torch():
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):
        raise AssertionError("only pickled, never called")

    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    torch._utils = utils
    for name in STORAGE_NAMES.values():
        setattr(torch, name, type(name, (), {"__module__": "torch", "__qualname__": name}))
    return {"torch": torch, "torch._utils": utils}


class _Storage:
    def __init__(self, key, array):
        self.key, self.array = key, array


class _Tensor:
    def __init__(self, storage, shape):
        self.storage, self.shape = storage, shape

    def __reduce_ex__(self, protocol):
        strides = tuple(int(np.prod(self.shape[i + 1:])) for i in range(len(self.shape)))
        rebuild = sys.modules["torch._utils"]._rebuild_tensor_v2
        return rebuild, (self.storage, 0, tuple(self.shape), strides, False, collections.OrderedDict())


def _pickle_state(file, state: dict, legacy: bool) -> list:
    storages = []
    torch_modules = _fake_torch()

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if not isinstance(obj, _Storage):
                return None
            storage_type = getattr(torch_modules["torch"], STORAGE_NAMES[obj.array.dtype])
            ident = ("storage", storage_type, obj.key, "cpu", obj.array.size)
            return ident + (None,) if legacy else ident

    ordered = collections.OrderedDict()
    ordered._metadata = collections.OrderedDict({"": {"version": 1}})  # as Module.state_dict() sets it
    for i, (name, array) in enumerate(state.items()):
        array = np.array(array, order="C")  # (np.ascontiguousarray would make a scalar 1-d)
        storages.append(_Storage(str(1000 + i), array.reshape(-1)))
        ordered[name] = _Tensor(storages[-1], array.shape)
    with mock.patch.dict(sys.modules, torch_modules):
        Pickler(file, protocol=2).dump(ordered)
    return storages


def save_legacy(state: dict, path) -> None:
    """torch.save's single-stream layout (torch < 1.6, and _use_new_zipfile_serialization=False)."""
    with open(path, "wb") as file:
        for header in (0x1950A86A20F9469CFC6C, 1001,
                       {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}):
            pickle.dump(header, file, protocol=2)
        storages = _pickle_state(file, state, legacy=True)
        pickle.dump(sorted(s.key for s in storages), file, protocol=2)
        for storage in sorted(storages, key=lambda s: s.key):
            file.write(struct.pack("<q", storage.array.size))
            file.write(storage.array.astype(storage.array.dtype.newbyteorder("<")).tobytes())


def save_zip(state: dict, path) -> None:
    """torch.save's zip layout (torch >= 1.6): archive/data.pkl and archive/data/KEY."""
    import io

    buffer = io.BytesIO()
    storages = _pickle_state(buffer, state, legacy=False)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", buffer.getvalue())
        for storage in storages:
            archive.writestr(f"archive/data/{storage.key}", storage.array.tobytes())
        archive.writestr("archive/version", "3\n")


def fid_inception_state_dict(seed: int = 0) -> dict:
    """Random weights under every name and shape of pytorch-fid's FID Inception state dict,
    transcribed from its modules (in, out, kernel) independently of dcgan_cli.eval.inception."""
    convs = [("Conv2d_1a_3x3", 3, 32, 3), ("Conv2d_2a_3x3", 32, 32, 3), ("Conv2d_2b_3x3", 32, 64, 3),
             ("Conv2d_3b_1x1", 64, 80, 1), ("Conv2d_4a_3x3", 80, 192, 3)]
    for name, cin, pool in (("Mixed_5b", 192, 32), ("Mixed_5c", 256, 64), ("Mixed_5d", 288, 64)):
        convs += [(f"{name}.branch1x1", cin, 64, 1), (f"{name}.branch5x5_1", cin, 48, 1), (f"{name}.branch5x5_2", 48, 64, 5),
                  (f"{name}.branch3x3dbl_1", cin, 64, 1), (f"{name}.branch3x3dbl_2", 64, 96, 3),
                  (f"{name}.branch3x3dbl_3", 96, 96, 3), (f"{name}.branch_pool", cin, pool, 1)]
    convs += [("Mixed_6a.branch3x3", 288, 384, 3), ("Mixed_6a.branch3x3dbl_1", 288, 64, 1),
              ("Mixed_6a.branch3x3dbl_2", 64, 96, 3), ("Mixed_6a.branch3x3dbl_3", 96, 96, 3)]
    for name, c7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
        convs += [(f"{name}.branch1x1", 768, 192, 1), (f"{name}.branch7x7_1", 768, c7, 1),
                  (f"{name}.branch7x7_2", c7, c7, (1, 7)), (f"{name}.branch7x7_3", c7, 192, (7, 1)),
                  (f"{name}.branch7x7dbl_1", 768, c7, 1), (f"{name}.branch7x7dbl_2", c7, c7, (7, 1)),
                  (f"{name}.branch7x7dbl_3", c7, c7, (1, 7)), (f"{name}.branch7x7dbl_4", c7, c7, (7, 1)),
                  (f"{name}.branch7x7dbl_5", c7, 192, (1, 7)), (f"{name}.branch_pool", 768, 192, 1)]
    convs += [("Mixed_7a.branch3x3_1", 768, 192, 1), ("Mixed_7a.branch3x3_2", 192, 320, 3),
              ("Mixed_7a.branch7x7x3_1", 768, 192, 1), ("Mixed_7a.branch7x7x3_2", 192, 192, (1, 7)),
              ("Mixed_7a.branch7x7x3_3", 192, 192, (7, 1)), ("Mixed_7a.branch7x7x3_4", 192, 192, 3)]
    for name, cin in (("Mixed_7b", 1280), ("Mixed_7c", 2048)):
        convs += [(f"{name}.branch1x1", cin, 320, 1), (f"{name}.branch3x3_1", cin, 384, 1),
                  (f"{name}.branch3x3_2a", 384, 384, (1, 3)), (f"{name}.branch3x3_2b", 384, 384, (3, 1)),
                  (f"{name}.branch3x3dbl_1", cin, 448, 1), (f"{name}.branch3x3dbl_2", 448, 384, 3),
                  (f"{name}.branch3x3dbl_3a", 384, 384, (1, 3)), (f"{name}.branch3x3dbl_3b", 384, 384, (3, 1)),
                  (f"{name}.branch_pool", cin, 192, 1)]
    rng = np.random.default_rng(seed)
    state = {}
    for name, cin, cout, kernel in convs:
        kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
        state[f"{name}.conv.weight"] = rng.normal(0, np.sqrt(2 / (cin * kh * kw)), (cout, cin, kh, kw)).astype(np.float32)
        state[f"{name}.bn.weight"] = rng.uniform(0.5, 1.5, cout).astype(np.float32)
        state[f"{name}.bn.bias"] = rng.normal(0, 0.1, cout).astype(np.float32)
        state[f"{name}.bn.running_mean"] = rng.normal(0, 0.1, cout).astype(np.float32)
        state[f"{name}.bn.running_var"] = rng.uniform(0.5, 1.5, cout).astype(np.float32)
        state[f"{name}.bn.num_batches_tracked"] = np.array(0, np.int64)
    state["fc.weight"] = rng.normal(0, 0.02, (1008, 2048)).astype(np.float32)
    state["fc.bias"] = np.zeros(1008, np.float32)
    return state
