"""Input pipelines: each gives an endless tf.data.Dataset of (images in [-1, 1], one-hot labels).

DATASETS is the registry of what `dcgan train DATASET` and `dcgan bench data DATASET` can read, and
`training_data(config, start_step)` the one entry point the trainer uses. Batches are a pure
function of (seed, step), so a resumed run continues with exactly the batches it would have seen.
Datasets without labels give labels of shape (batch, 0), so every dataset has the same structure.
LSUN and folder pipelines skip undecodable records and count them (Pipeline.skipped). Nothing here
starts TensorFlow until a pipeline is built.

The labelled datasets held in memory (MNIST, Fashion-MNIST, CIFAR-10) have a fixed `shape` and a
`load` ("module:function" giving a pipeline.LabelledImages whose test split stays held out); each
gets its `dcgan train NAME` and `dcgan download NAME` commands from this registry alone.
"""

from __future__ import annotations

import importlib

import numpy as np
from dataclasses import dataclass
from typing import Callable

from dcgan_cli.errors import UserError


def resolve(reference: str) -> Callable:
    """"module:function" (a module of this package) -> the function, imported only now."""
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(f"dcgan_cli.datasets.{module}"), name)


def _in_memory(config, start_step, download_ok=True):
    from dcgan_cli.datasets.pipeline import Pipeline, semi_supervised_batches, training_batches

    data = load(config.dataset, config.data_dir, download_ok)
    images, labels = data.train_images, data.train_labels
    if config.limit is not None:
        images, labels = images[: config.limit], labels[: config.limit]
    if len(images) < config.batch_size:
        raise UserError(f"{len(images)} training images make no batch of {config.batch_size}; lower --batch-size or raise --limit")
    labelled = labelled_subset(config, labels)
    if labelled is None:
        dataset = training_batches(images, labels, config.batch_size, config.seed, start_step,
                                   num_classes=config.num_classes)
        return Pipeline(dataset, len(images))
    dataset = semi_supervised_batches(images, labels, labelled, config.batch_size, config.seed, start_step,
                                      num_classes=config.num_classes)
    return Pipeline(dataset, len(images), labelled=labelled, epoch_rows=config.batch_size - config.batch_size // 2)


def labelled_subset(config, labels):
    """The indices of the training images whose labels a run with --labels N uses (None: every label):
    the run's saved ones on resume, else `N` picked class-balanced and seeded by --seed."""
    count = config.labels
    if count is None or (count == len(labels) and not config.labelled):
        return None
    if config.batch_size < 2:
        raise UserError("--labels makes every batch half labelled, half not: use --batch-size 2 or more")
    if config.labelled:
        saved = np.asarray(config.labelled, np.int64)
        if len(saved) != count or saved.min() < 0 or saved.max() >= len(labels):
            raise UserError(f"config.json's labelled images do not fit --labels {count} and the {len(labels)} training "
                            f"images; restore the run's config.json")
        return saved
    return pick_labelled(labels, count, config.seed, config.num_classes)


def pick_labelled(labels, count: int, seed: int, num_classes: int = 10):
    """The `count` labelled images of `--labels count` (sgan's training, `dcgan train-classifier --labels`):
    class-balanced and seeded (balanced_subset, which `dcgan probe` picks with too), after checking that
    the training images allow it."""
    from dcgan_cli.datasets.pipeline import balanced_subset

    if count < 1:
        raise UserError(f"--labels {count} is not a number of images; pass 1 or more")
    if count > len(labels):
        raise UserError(f"--labels {count} is more than the {len(labels)} training images; pass at most {len(labels)}, "
                        f"or drop --labels to use every label")
    per_class = np.bincount(labels, minlength=num_classes)
    short = [c for c in range(num_classes) if per_class[c] < -(-count // num_classes)]
    if short:
        raise UserError(f"--labels {count} needs up to {-(-count // num_classes)} images of each class, and class "
                        f"{short[0]} has {per_class[short[0]]}; pass fewer labels")
    return balanced_subset(labels, count, seed, num_classes)


def _lsun(config, start_step, download_ok=True):  # read in place: `dcgan download lsun` is the only download
    from dcgan_cli.datasets.lsun import lsun_batches

    return lsun_batches(config.data_dir, config.category, config.image_size, config.channels,
                        config.batch_size, config.seed, start_step, config.limit)


def _folder(config, start_step, download_ok=True):
    from dcgan_cli.datasets.folder import folder_batches

    # A family that takes labels gets the class subfolders' labels; the others train on every image alike.
    return folder_batches(config.data_dir, config.pattern, config.crop, config.image_size, config.channels,
                          config.batch_size, config.seed, start_step, config.limit,
                          config.class_names if config.num_classes else None)


@dataclass(frozen=True)
class Dataset:
    read: Callable  # (config, start_step, download_ok) -> datasets.pipeline.Pipeline
    num_classes: int  # classes its labels name; 0: no labels (or, for folders, as many as --class-subdirs finds)
    description: str
    class_names: tuple[str, ...] = ()
    shape: tuple[int, int, int] | None = None  # (H, W, C) of a dataset of one size; None: --image-size decides
    load: str | None = None  # "module:function" (data_dir, download_ok=True) -> LabelledImages, in memory
    fetch: str | None = None  # "module:function" (folder) -> None: `dcgan download NAME`, checksums verified
    cache: str | None = None  # "module:function" () -> the folder `fetch` writes to by default and `load` looks in last


DIGITS = tuple(str(d) for d in range(10))

DATASETS = {
    "mnist": Dataset(_in_memory, 10, "MNIST's 60k training digits, 28x28x1 (the 10k test digits stay held out)",
                     DIGITS, (28, 28, 1), "mnist:load_mnist", "mnist:fetch_npz", "mnist:cache_folder"),
    "fashion-mnist": Dataset(_in_memory, 10, "Fashion-MNIST's 60k training clothes, 28x28x1, 10 classes "
                             "(the 10k test images stay held out)", ("T-shirt/top", "Trouser", "Pullover", "Dress",
                             "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"), (28, 28, 1),
                             "fashion_mnist:load_fashion_mnist", "fashion_mnist:fetch", "fashion_mnist:cache_folder"),
    "cifar10": Dataset(_in_memory, 10, "CIFAR-10's 50k training images, 32x32x3, 10 classes (the 10k test images "
                       "stay held out)", ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                       "ship", "truck"), (32, 32, 3), "cifar10:load_cifar10", "cifar10:fetch", "cifar10:cache_folder"),
    "lsun": Dataset(_lsun, 0, "an LSUN scene category, read in place from its LMDB"),
    "folder": Dataset(_folder, 0, "any folder tree of images; --class-subdirs: one subfolder per class"),
}


def load(name: str, data_dir=None, download_ok: bool = True):
    """The in-memory dataset `name` (train and held-out test splits), found, fetched if need be, checked."""
    return resolve(DATASETS[name].load)(data_dir, download_ok=download_ok)


def training_data(config, start_step: int = 0, download_ok: bool = True):
    """The Pipeline (global batches and epoch size) of config.dataset, starting at batch start_step.
    download_ok=False: data found nowhere raises errors.NotDownloaded instead of being downloaded."""
    if config.dataset not in DATASETS:
        raise UserError(f"unknown dataset {config.dataset!r}; use one of {', '.join(DATASETS)}")
    return DATASETS[config.dataset].read(config, start_step, download_ok)
