"""MNIST: find it, read it (IDX, gzipped or raw, or Keras's mnist.npz), batch it.

Search order: --data-dir (the folder itself or its mnist/ subfolder), $DCGAN_DATA_DIR/mnist, the
Keras cache (~/.keras/datasets/mnist.npz); otherwise download mnist.npz and verify its sha256.
The 10k test images are returned separately and never mixed into training: they are the
evaluation set.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from dcgan_cli.datasets.download import download
from dcgan_cli.datasets.pipeline import shuffled_index_batches
from dcgan_cli.errors import UserError
from dcgan_cli.pixels import to_model_range

NPZ_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
NPZ_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
NUM_CLASSES = 10


@dataclass
class MNIST:
    train_images: np.ndarray  # uint8, (60000, 28, 28, 1)
    train_labels: np.ndarray  # uint8, (60000,)
    test_images: np.ndarray  # uint8, (10000, 28, 28, 1)
    test_labels: np.ndarray  # uint8, (10000,)


def keras_cache() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets" / "mnist.npz"


def candidate_dirs(data_dir: str | os.PathLike | None) -> list[Path]:
    dirs = []
    if data_dir is not None:
        dirs += [Path(data_dir), Path(data_dir) / "mnist"]
    elif os.environ.get("DCGAN_DATA_DIR"):
        dirs += [Path(os.environ["DCGAN_DATA_DIR"]) / "mnist", Path(os.environ["DCGAN_DATA_DIR"])]
    return dirs


def load_mnist(data_dir: str | os.PathLike | None = None, download_ok: bool = True) -> MNIST:
    """Load MNIST from the first place that has it (see module docstring)."""
    if data_dir is not None and not Path(data_dir).is_dir():
        raise UserError(f"--data-dir {data_dir} is not a directory; pass the folder holding the MNIST IDX files or mnist.npz")
    looked = []
    for folder in candidate_dirs(data_dir):
        looked.append(str(folder))
        if _has_idx(folder):
            return _read_idx_folder(folder)
        if (folder / "mnist.npz").is_file():
            return _read_npz(folder / "mnist.npz")
    if data_dir is not None:
        raise UserError(f"no MNIST in --data-dir {data_dir} (looked for {IDX_FILES['train_images']}[.gz] and mnist.npz in {' and '.join(looked)}); "
                        f"pass the folder that holds them")
    cache = keras_cache()
    looked.append(str(cache))
    if cache.is_file():
        return _read_npz(cache)
    if not download_ok:
        raise UserError(f"MNIST not found (looked in {', '.join(looked)}); pass --data-dir or run `dcgan download mnist`")
    try:
        download(os.environ.get("DCGAN_MNIST_URL", NPZ_URL), cache, sha256=NPZ_SHA256)
    except UserError as exc:
        raise UserError(f"MNIST not found (looked in {', '.join(looked)}) and {exc}") from None
    return _read_npz(cache)


def _idx_path(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def _has_idx(folder: Path) -> bool:
    return _idx_path(folder, IDX_FILES["train_images"]) is not None


def read_idx(path: Path) -> np.ndarray:
    """Parse one IDX file (big-endian header, uint8 payload), checking its size against its header."""
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise UserError(f"{path} is unreadable or truncated ({exc}); download MNIST again") from None
    if len(raw) < 8 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise UserError(f"{path} is not an IDX file of unsigned bytes; download MNIST again")
    ndim = raw[3]
    header = 4 + 4 * ndim
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(dims))
    if len(raw) != header + expected:
        raise UserError(f"{path} is truncated or damaged: its header promises {expected} bytes of data, it has "
                        f"{len(raw) - header}; download MNIST again")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(dims)


def _read_idx_folder(folder: Path) -> MNIST:
    arrays = {}
    for key, stem in IDX_FILES.items():
        path = _idx_path(folder, stem)
        if path is None:
            raise UserError(f"{folder} has {IDX_FILES['train_images']} but not {stem}[.gz]; copy all four MNIST files there")
        arrays[key] = read_idx(path)
    return _checked(MNIST(**arrays), folder)


def _read_npz(path: Path) -> MNIST:
    try:
        with np.load(path) as data:
            mnist = MNIST(data["x_train"], data["y_train"], data["x_test"], data["y_test"])
    except Exception as exc:  # zipfile/pickle/KeyError: all mean "not a usable mnist.npz"
        raise UserError(f"{path} is not a readable mnist.npz ({type(exc).__name__}); delete it and run again to re-download") from None
    return _checked(mnist, path)


def _checked(m: MNIST, where) -> MNIST:
    for images, labels, split in ((m.train_images, m.train_labels, "train"), (m.test_images, m.test_labels, "test")):
        if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.shape != images.shape[:1]:
            raise UserError(f"MNIST in {where} has {split} images of shape {images.shape} and labels {labels.shape}; "
                            f"expected (N, 28, 28) and (N,): download MNIST again")
        if labels.size and labels.max() >= NUM_CLASSES:
            raise UserError(f"MNIST in {where} has {split} labels above 9; download MNIST again")
    return MNIST(m.train_images[..., None], m.train_labels.astype(np.uint8),
                 m.test_images[..., None], m.test_labels.astype(np.uint8))


def training_batches(images: np.ndarray, labels: np.ndarray, batch_size: int, seed: int,
                     start_step: int = 0, num_classes: int = NUM_CLASSES) -> tf.data.Dataset:
    """Endless (image in [-1, 1], one-hot label) batches, reproducible from (seed, step)."""
    images = tf.constant(images)
    labels = tf.constant(labels.astype(np.int32))

    def gather(index):
        return to_model_range(tf.gather(images, index)), tf.one_hot(tf.gather(labels, index), num_classes)

    return (shuffled_index_batches(len(images), batch_size, seed, start_step)
            .map(gather, num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE))
