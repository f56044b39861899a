"""Input pipelines: each gives an endless tf.data.Dataset of (images in [-1, 1], one-hot labels).

DATASETS is the registry of what `dcgan train DATASET` and `dcgan bench data DATASET` can read, and
`training_data(config, start_step)` the one entry point the trainer uses. Batches are a pure
function of (seed, step), so a resumed run continues with exactly the batches it would have seen.
Datasets without labels give labels of shape (batch, 0), so every dataset has the same structure.
LSUN and folder pipelines skip undecodable records and count them (Pipeline.skipped). Nothing here
starts TensorFlow until a pipeline is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from dcgan_cli.errors import UserError


def _mnist(config, start_step):
    from dcgan_cli.datasets.mnist import load_mnist, training_batches
    from dcgan_cli.datasets.pipeline import Pipeline

    mnist = load_mnist(config.data_dir)
    images, labels = mnist.train_images, mnist.train_labels
    if config.limit is not None:
        images, labels = images[: config.limit], labels[: config.limit]
    dataset = training_batches(images, labels, config.batch_size, config.seed, start_step,
                               num_classes=config.num_classes)
    return Pipeline(dataset, len(images))


def _lsun(config, start_step):
    from dcgan_cli.datasets.lsun import lsun_batches

    return lsun_batches(config.data_dir, config.category, config.image_size, config.channels,
                        config.batch_size, config.seed, start_step, config.limit)


def _folder(config, start_step):
    from dcgan_cli.datasets.folder import folder_batches

    return folder_batches(config.data_dir, config.pattern, config.crop, config.image_size, config.channels,
                          config.batch_size, config.seed, start_step, config.limit)


@dataclass(frozen=True)
class Dataset:
    read: Callable  # (config, start_step) -> datasets.pipeline.Pipeline
    num_classes: int  # classes its labels name; 0: no labels
    description: str


DATASETS = {
    "mnist": Dataset(_mnist, 10, "MNIST's 60k training digits, 28x28x1 (the 10k test digits stay held out)"),
    "lsun": Dataset(_lsun, 0, "an LSUN scene category, read in place from its LMDB"),
    "folder": Dataset(_folder, 0, "any folder tree of images"),
}


def training_data(config, start_step: int = 0):
    """The Pipeline (global batches and epoch size) of config.dataset, starting at batch start_step."""
    if config.dataset not in DATASETS:
        raise UserError(f"unknown dataset {config.dataset!r}; use one of {', '.join(DATASETS)}")
    return DATASETS[config.dataset].read(config, start_step)
