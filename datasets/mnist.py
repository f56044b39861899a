"""MNIST and the datasets in its format (Fashion-MNIST): find them, read them (IDX, gzipped or raw,
or Keras's mnist.npz).

An IdxSource says where one such dataset is looked for and how it is fetched; the reading is shared.
Search order: --data-dir (the folder itself or its FOLDER/ subfolder), $DCGAN_DATA_DIR/FOLDER, the
Keras cache (~/.keras/datasets/...); otherwise download the published files and verify their
checksums. The test images are returned separately and never mixed into training: they are the
evaluation set.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from dcgan_cli.datasets.download import download
from dcgan_cli.datasets.pipeline import LabelledImages, training_batches  # noqa: F401 (training_batches: MNIST's callers)
from dcgan_cli.errors import NotDownloaded, UserError

NPZ_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
NPZ_CHECKSUM = "sha256:731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
NUM_CLASSES = 10
MNIST = LabelledImages  # uint8 (60000, 28, 28, 1) training and (10000, 28, 28, 1) test images, uint8 labels


@dataclass(frozen=True)
class IdxSource:
    """One dataset in MNIST's format: its name in messages, where it is looked for, how it is fetched."""

    name: str  # "MNIST"
    folder: str  # the subfolder of --data-dir and $DCGAN_DATA_DIR that holds it
    cache: str  # its folder under ~/.keras/datasets, as Keras keeps it ("": that folder itself)
    fetch: Callable  # (folder) -> None: download the published files into folder and verify them
    command: str  # its `dcgan download` subcommand

    def cache_folder(self) -> Path:
        return keras_home() / "datasets" / self.cache


def keras_home() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))


def fetch_npz(folder) -> None:
    """Keras's mnist.npz into folder (its sha256 checked)."""
    if not (Path(folder) / "mnist.npz").is_file():
        download(os.environ.get("DCGAN_MNIST_URL", NPZ_URL), Path(folder) / "mnist.npz", checksum=NPZ_CHECKSUM)


MNIST_SOURCE = IdxSource("MNIST", "mnist", "", fetch_npz, "mnist")


def keras_cache() -> Path:
    return MNIST_SOURCE.cache_folder() / "mnist.npz"


def cache_folder() -> Path:
    return MNIST_SOURCE.cache_folder()


def candidate_dirs(data_dir: str | os.PathLike | None, folder: str = "mnist") -> list[Path]:
    dirs = []
    if data_dir is not None:
        dirs += [Path(data_dir), Path(data_dir) / folder]
    elif os.environ.get("DCGAN_DATA_DIR"):
        dirs += [Path(os.environ["DCGAN_DATA_DIR"]) / folder, Path(os.environ["DCGAN_DATA_DIR"])]
    return dirs


def load_mnist(data_dir: str | os.PathLike | None = None, download_ok: bool = True) -> LabelledImages:
    """Load MNIST from the first place that has it (see module docstring)."""
    return load_idx(MNIST_SOURCE, data_dir, download_ok)


def load_idx(source: IdxSource, data_dir: str | os.PathLike | None = None, download_ok: bool = True) -> LabelledImages:
    """Load `source` from the first place that has it (see module docstring)."""
    name = source.name
    if data_dir is not None and not Path(data_dir).is_dir():
        raise UserError(f"--data-dir {data_dir} is not a directory; pass the folder holding the {name} IDX files")
    looked = []
    for folder in candidate_dirs(data_dir, source.folder):
        looked.append(str(folder))
        found = _read_folder(folder, source)
        if found is not None:
            return found
    npz = " and mnist.npz" if source is MNIST_SOURCE else ""
    if data_dir is not None:
        raise UserError(f"no {name} in --data-dir {data_dir} (looked for {IDX_FILES['train_images']}[.gz]{npz} in "
                        f"{' and '.join(looked)}); pass the folder that holds them")
    looked.append(str(keras_cache() if source is MNIST_SOURCE else source.cache_folder()))
    found = _read_folder(source.cache_folder(), source)
    if found is not None:
        return found
    if not download_ok:
        raise NotDownloaded(f"{name} not found (looked in {', '.join(looked)}); pass --data-dir or run `dcgan download {source.command}`")
    try:
        source.fetch(source.cache_folder())
    except UserError as exc:
        raise UserError(f"{name} not found (looked in {', '.join(looked)}) and {exc}") from None
    return _read_folder(source.cache_folder(), source)


def _read_folder(folder: Path, source: IdxSource) -> LabelledImages | None:
    """The dataset in `folder` (its IDX files, or MNIST's mnist.npz), or None if the folder has neither."""
    if _has_idx(folder):
        return _read_idx_folder(folder, source.name)
    if source is MNIST_SOURCE and (folder / "mnist.npz").is_file():
        return _read_npz(folder / "mnist.npz")
    return None


def _idx_path(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def _has_idx(folder: Path) -> bool:
    return _idx_path(folder, IDX_FILES["train_images"]) is not None


def read_idx(path: Path, name: str = "MNIST") -> np.ndarray:
    """Parse one IDX file (big-endian header, uint8 payload), checking its size against its header."""
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise UserError(f"{path} is unreadable or truncated ({exc}); download {name} again") from None
    if len(raw) < 8 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise UserError(f"{path} is not an IDX file of unsigned bytes; download {name} again")
    ndim = raw[3]
    header = 4 + 4 * ndim
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(dims))
    if len(raw) != header + expected:
        raise UserError(f"{path} is truncated or damaged: its header promises {expected} bytes of data, it has "
                        f"{len(raw) - header}; download {name} again")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(dims)


def _read_idx_folder(folder: Path, name: str) -> LabelledImages:
    arrays = {}
    for key, stem in IDX_FILES.items():
        path = _idx_path(folder, stem)
        if path is None:
            raise UserError(f"{folder} has {IDX_FILES['train_images']} but not {stem}[.gz]; copy all four {name} files there")
        arrays[key] = read_idx(path, name)
    return _checked(LabelledImages(**arrays), folder, name)


def _read_npz(path: Path) -> LabelledImages:
    try:
        with np.load(path) as data:
            mnist = LabelledImages(data["x_train"], data["y_train"], data["x_test"], data["y_test"])
    except Exception as exc:  # zipfile/pickle/KeyError: all mean "not a usable mnist.npz"
        raise UserError(f"{path} is not a readable mnist.npz ({type(exc).__name__}); delete it and run again to re-download") from None
    return _checked(mnist, path, "MNIST")


def _checked(m: LabelledImages, where, name: str) -> LabelledImages:
    for images, labels, split in ((m.train_images, m.train_labels, "train"), (m.test_images, m.test_labels, "test")):
        if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.shape != images.shape[:1]:
            raise UserError(f"{name} in {where} has {split} images of shape {images.shape} and labels {labels.shape}; "
                            f"expected (N, 28, 28) and (N,): download {name} again")
        if labels.size and labels.max() >= NUM_CLASSES:
            raise UserError(f"{name} in {where} has {split} labels above 9; download {name} again")
    return LabelledImages(m.train_images[..., None], m.train_labels.astype(np.uint8),
                          m.test_images[..., None], m.test_labels.astype(np.uint8))
