"""CIFAR-10 (Krizhevsky 2009), the python version: 50k training and 10k test 32x32 RGB images, 10 classes.

The publisher's cifar-10-python.tar.gz holds cifar-10-batches-py/ with five `data_batch_N` and one
`test_batch` pickles, each a dict with `data` (N x 3072 uint8: the 1024 red, then green, then blue
values of a 32x32 image, row-major) and `labels` (N ints), and `batches.meta` with `label_names`.
It is read in place from the archive (no unpacking) or from the unpacked folder. Search order:
--data-dir (the folder itself, its cifar-10-batches-py/ or cifar10/ subfolder, or the archive in
one of them), $DCGAN_DATA_DIR/cifar10, ~/.keras/datasets; otherwise download the archive there and
check the md5 its publisher lists.

The pickles were written by Python 2: keys and names come back as bytes, as the publisher's own
loading recipe (pickle.load(f, encoding="bytes")) gives them. Unpickling runs code the file names,
so only numpy's array reconstruction is allowed to run: a file from elsewhere cannot execute anything.
"""

from __future__ import annotations

import io
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np

from dcgan_cli.datasets.download import download
from dcgan_cli.datasets.mnist import candidate_dirs, keras_home
from dcgan_cli.datasets.pipeline import LabelledImages
from dcgan_cli.errors import NotDownloaded, UserError

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CHECKSUM = "md5:c58f30108f718f92721af3b95e74349a"  # the publisher's, on www.cs.toronto.edu/~kriz/cifar.html
ARCHIVE = "cifar-10-python.tar.gz"
FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
NUM_CLASSES = 10  # their names are in the DATASETS registry, as batches.meta lists them
SIZE = 32


def cache_folder() -> Path:
    return keras_home() / "datasets"


class _ArraysOnly(pickle.Unpickler):
    """Unpickles dicts, lists, numbers, strings and numpy arrays; refuses every other callable."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"it asks to run {module}.{name}")
        return super().find_class(module, name)


def read_batch(contents: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    """One batch pickle -> (uint8 N x 32 x 32 x 3 images, uint8 labels), checked."""
    try:
        batch = _ArraysOnly(io.BytesIO(contents), encoding="bytes").load()
    except Exception as exc:  # pickle raises many kinds for damaged input; all mean the same here
        raise UserError(f"{where} is not a CIFAR-10 batch ({type(exc).__name__}: {exc}); download CIFAR-10 again") from None
    batch = {key.decode() if isinstance(key, bytes) else key: value for key, value in batch.items()} \
        if isinstance(batch, dict) else {}
    data, labels = batch.get("data"), batch.get("labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * SIZE * SIZE \
            or labels is None or len(labels) != len(data):
        raise UserError(f"{where} does not hold N x 3072 uint8 `data` and N `labels`; download CIFAR-10 again")
    labels = np.asarray(labels)
    if labels.size and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise UserError(f"{where} has labels outside 0..9; download CIFAR-10 again")
    # Each row is the red plane, then green, then blue, each 32 rows of 32: to N x H x W x C.
    images = data.reshape(-1, 3, SIZE, SIZE).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels.astype(np.uint8)


def _from_members(read, where: str) -> LabelledImages:
    """read(name) -> the bytes of batch `name` or None."""
    parts = {}
    for name in (*TRAIN_BATCHES, TEST_BATCH):
        contents = read(name)
        if contents is None:
            raise UserError(f"{where} has no {name}; it needs all of {', '.join(TRAIN_BATCHES)} and {TEST_BATCH}: "
                            f"download CIFAR-10 again")
        parts[name] = read_batch(contents, f"{where}: {name}")
    train = [parts[name] for name in TRAIN_BATCHES]
    return LabelledImages(np.concatenate([i for i, _ in train]), np.concatenate([l for _, l in train]), *parts[TEST_BATCH])


def read_folder(folder: Path) -> LabelledImages:
    return _from_members(lambda name: (folder / name).read_bytes() if (folder / name).is_file() else None, str(folder))


def read_archive(path: Path) -> LabelledImages:
    try:
        with tarfile.open(path, "r:gz") as tar:
            members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
            return _from_members(lambda name: tar.extractfile(members[name]).read() if name in members else None, str(path))
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise UserError(f"{path} is not a readable tar.gz ({exc}); delete it and run again to download it afresh") from None


def _find(folder: Path) -> LabelledImages | None:
    for place in (folder, folder / FOLDER):
        if (place / TEST_BATCH).is_file():
            return read_folder(place)
    if (folder / ARCHIVE).is_file():
        return read_archive(folder / ARCHIVE)
    return None


def load_cifar10(data_dir=None, download_ok: bool = True) -> LabelledImages:
    """CIFAR-10 from the first place that has it (see module docstring)."""
    if data_dir is not None and not Path(data_dir).is_dir():
        raise UserError(f"--data-dir {data_dir} is not a directory; pass the folder holding {ARCHIVE} or {FOLDER}/")
    looked = []
    for folder in candidate_dirs(data_dir, "cifar10"):
        looked.append(str(folder))
        found = _find(folder)
        if found is not None:
            return found
    if data_dir is not None:
        raise UserError(f"no CIFAR-10 in --data-dir {data_dir} (looked for {ARCHIVE} and {FOLDER}/ in {' and '.join(looked)}); "
                        f"pass the folder that holds them")
    cache = cache_folder()
    looked.append(str(cache))
    found = _find(cache)
    if found is not None:
        return found
    if not download_ok:
        raise NotDownloaded(f"CIFAR-10 not found (looked in {', '.join(looked)}); pass --data-dir or run `dcgan download cifar10`")
    try:
        fetch(cache)
    except UserError as exc:
        raise UserError(f"CIFAR-10 not found (looked in {', '.join(looked)}) and {exc}") from None
    return read_archive(cache / ARCHIVE)


def fetch(folder) -> None:
    """The publisher's archive into folder (it appears only once complete and its md5 matches)."""
    if not (Path(folder) / ARCHIVE).is_file():
        download(os.environ.get("DCGAN_CIFAR10_URL", URL), Path(folder) / ARCHIVE, checksum=CHECKSUM)
