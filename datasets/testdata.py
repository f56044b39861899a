"""Small image datasets in LSUN's exact layout, JPEG folders and folders of MNIST digits, for tests and benchmarks.

Pictures are random crops of the photograph matplotlib ships (grace_hopper.jpg), recoloured and
flipped, so codecs see photographic content; where that file is missing, smooth gradients with
noise stand in. The LMDB has LSUN's layout: 40-hex-character ASCII keys (sha1 of the bytes),
values WebP (most) and JPEG, and optionally damaged records.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
from pathlib import Path

import lmdb
import numpy as np
from PIL import Image


def _photo() -> np.ndarray | None:
    try:
        from matplotlib import cbook

        with cbook.get_sample_data("grace_hopper.jpg") as f:
            return np.asarray(Image.open(f).convert("RGB"))
    except (ImportError, OSError, ValueError):
        return None


def _gradient(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    channels = [np.sin(rng.uniform(1, 6) * x + rng.uniform(1, 6) * y + rng.uniform(0, 6)) for _ in range(3)]
    image = (np.stack(channels, -1) + 1) * 110 + rng.normal(0, 12, (height, width, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def pictures(count: int, short_side: int = 256, seed: int = 0):
    """Yield `count` distinct RGB uint8 pictures, short side `short_side`, portrait or landscape."""
    rng = np.random.default_rng(seed)
    photo = _photo()
    for _ in range(count):
        long_side = int(short_side * rng.uniform(1.0, 1.5))
        height, width = (short_side, long_side) if rng.random() < 0.7 else (long_side, short_side)
        if photo is None:
            yield _gradient(rng, height, width)
            continue
        scale = rng.uniform(0.6, 1.0)
        crop_h = int(photo.shape[0] * scale)
        crop_w = min(photo.shape[1], int(crop_h * width / height))
        top = rng.integers(0, photo.shape[0] - crop_h + 1)
        left = rng.integers(0, photo.shape[1] - crop_w + 1)
        patch = Image.fromarray(photo[top:top + crop_h, left:left + crop_w]).resize((width, height), Image.BILINEAR)
        image = np.asarray(patch).astype(np.float32) * rng.uniform(0.7, 1.3, 3)  # recolour
        if rng.random() < 0.5:
            image = image[:, ::-1]
        yield np.clip(image, 0, 255).astype(np.uint8)


def encode(image: np.ndarray, fmt: str, quality: int = 75) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, {"webp": "WEBP", "jpeg": "JPEG", "png": "PNG"}[fmt], quality=quality)
    return buffer.getvalue()


def encoded_pictures(count: int, short_side: int = 256, seed: int = 0, jpeg_every: int = 5,
                     distinct: int | None = None) -> list[bytes]:
    """`count` encoded pictures, every jpeg_every-th a JPEG, the rest WebP (LSUN's codec).

    distinct=N encodes N pictures and repeats them: a large database for memory measurements
    without the encoding time.
    """
    unique = min(count, distinct or count)
    encoded = [encode(image, "jpeg" if jpeg_every and i % jpeg_every == jpeg_every - 1 else "webp")
               for i, image in enumerate(pictures(unique, short_side, seed))]
    return [encoded[i % unique] for i in range(count)]


def damaged(contents: bytes) -> bytes:
    """A truncated copy: a valid header, then nothing, as a torn write leaves it."""
    return contents[: max(16, len(contents) // 3)]


def write_lsun_lmdb(path, count: int, short_side: int = 256, seed: int = 0, corrupt: int = 1,
                    jpeg_every: int = 5, distinct: int | None = None, values: list[bytes] | None = None) -> Path:
    """An LMDB at `path` in LSUN's layout: `count` records, `corrupt` of them damaged (spread out)."""
    path = Path(path)
    values = list(values) if values is not None else encoded_pictures(count, short_side, seed, jpeg_every, distinct)
    for i in range(corrupt):
        victim = (i * 2 + 1) * len(values) // (2 * corrupt)
        values[victim] = damaged(values[victim])
    records = sorted((hashlib.sha1(i.to_bytes(8, "big") + v).hexdigest().encode("ascii"), v) for i, v in enumerate(values))
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    env = lmdb.open(str(tmp), map_size=2 * sum(len(v) for v in values) + (64 << 20))
    with env.begin(write=True) as txn:
        cursor = txn.cursor()
        for key, value in records:
            cursor.put(key, value, append=True)  # sorted keys: append is a fast bulk load
    env.close()
    shutil.rmtree(path, ignore_errors=True)
    os.replace(tmp, path)
    return path


def write_image_folder(path, count: int, short_side: int = 218, seed: int = 0, corrupt: int = 1,
                       grayscale_every: int = 4) -> Path:
    """A folder tree of JPEGs (two subfolders, some grayscale) plus `corrupt` damaged ones."""
    path = Path(path)
    for i, image in enumerate(pictures(count, short_side, seed)):
        folder = path / ("a" if i % 2 else "b")
        folder.mkdir(parents=True, exist_ok=True)
        if grayscale_every and i % grayscale_every == 0:
            buffer = io.BytesIO()
            Image.fromarray(image).convert("L").save(buffer, "JPEG", quality=85)
            contents = buffer.getvalue()
        else:
            contents = encode(image, "jpeg", 85)
        if i < corrupt:
            contents = damaged(contents)
        (folder / f"{i:06d}.jpg").write_bytes(contents)
    return path


def write_mnist_folder(path, mnist_dir=None, count: int | None = None, size: int = 32, split: str = "train") -> Path:
    """MNIST digits as grayscale PNG files of size x size, in subfolders of 1,000, for folder runs.

    Resized from 28x28 with Pillow's bilinear filter (growing by 1/7th needs no antialiasing); the
    file name ends in the digit's label (`00012_3.png`), which training ignores and checks can read.
    Written to a temporary folder first, so `path` appears complete or not at all.
    """
    from dcgan_cli.datasets.mnist import load_mnist

    mnist = load_mnist(mnist_dir)
    images = mnist.train_images if split == "train" else mnist.test_images
    labels = mnist.train_labels if split == "train" else mnist.test_labels
    count = len(images) if count is None else min(count, len(images))
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    for i in range(count):
        folder = tmp / f"{i // 1000:03d}"
        if i % 1000 == 0:
            folder.mkdir(parents=True)
        image = Image.fromarray(images[i, :, :, 0])
        if size != image.width:
            image = image.resize((size, size), Image.BILINEAR)
        image.save(folder / f"{i:05d}_{labels[i]}.png")
    shutil.rmtree(path, ignore_errors=True)
    os.replace(tmp, path)
    return path


def labelled_arrays(count: int, size: int, channels: int, num_classes: int = 10, seed: int = 0):
    """(uint8 count x size x size x channels images, uint8 labels): each class a bright bar at its own
    place (and, in colour, its own hue) on noise, so that a classifier can learn them."""
    rng = np.random.default_rng(seed)
    labels = (np.arange(count) % num_classes).astype(np.uint8)
    rng.shuffle(labels)
    images = rng.integers(0, 60, (count, size, size, channels), dtype=np.uint8)
    for i, label in enumerate(labels):
        row = 1 + int(label) * (size - 4) // num_classes
        hue = np.array([255, 128 + 12 * int(label), 255 - 20 * int(label)])[:channels] if channels == 3 else 255
        images[i, row:row + 3, 2:size - 2] = hue
    return images, labels


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file of unsigned bytes: 0, 0, 0x08, ndim, the big-endian dimensions, the data."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + np.ascontiguousarray(array, np.uint8).tobytes()


def write_idx_dataset(folder, train: int = 600, test: int = 100, seed: int = 0, gz: bool = True) -> Path:
    """MNIST's four IDX files (gzipped, as published, or raw) with `train` and `test` 28x28 images."""
    import gzip

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    splits = {"train": labelled_arrays(train, 28, 1, seed=seed), "t10k": labelled_arrays(test, 28, 1, seed=seed + 1)}
    for split, (images, labels) in splits.items():
        for kind, array in (("images-idx3", images[..., 0]), ("labels-idx1", labels)):
            name = f"{split}-{kind}-ubyte"
            if gz:
                (folder / (name + ".gz")).write_bytes(gzip.compress(idx_bytes(array), mtime=0))
            else:
                (folder / name).write_bytes(idx_bytes(array))
    return folder


CIFAR10_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def cifar10_batch(images: np.ndarray, labels: np.ndarray, name: str, protocol: int = 2) -> bytes:
    """One batch pickle as CIFAR-10's python version holds it: `data` N x 3072 (the red plane, then green,
    then blue, row-major), `labels` a list of ints, `batch_label` and `filenames`; bytes keys, as the
    publisher's Python 2 strings read back."""
    import pickle

    data = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    return pickle.dumps({b"batch_label": name.encode(), b"labels": [int(l) for l in labels], b"data": data,
                         b"filenames": [f"{i:05d}.png".encode() for i in range(len(images))]}, protocol=protocol)


def write_cifar10(folder, per_batch: int = 40, seed: int = 0, archive: bool = True) -> Path:
    """CIFAR-10's python version in `folder`: cifar-10-python.tar.gz (or, archive=False, the unpacked
    cifar-10-batches-py/), five training batches and the test batch of per_batch images each."""
    import pickle
    import tarfile

    folder = Path(folder)
    members = {}
    for i, name in enumerate([f"data_batch_{n}" for n in range(1, 6)] + ["test_batch"]):
        images, labels = labelled_arrays(per_batch, 32, 3, seed=seed + i)
        members[name] = cifar10_batch(images, labels, name)
    members["batches.meta"] = pickle.dumps({b"label_names": [n.encode() for n in CIFAR10_NAMES],
                                            b"num_cases_per_batch": per_batch, b"num_vis": 3072}, protocol=2)
    if not archive:
        (folder / "cifar-10-batches-py").mkdir(parents=True, exist_ok=True)
        for name, contents in members.items():
            (folder / "cifar-10-batches-py" / name).write_bytes(contents)
        return folder / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "cifar-10-python.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, contents in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(contents)
            tar.addfile(info, io.BytesIO(contents))
    return path
