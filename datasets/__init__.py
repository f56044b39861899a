"""Input pipelines: each returns an endless tf.data.Dataset of (images in [-1, 1], one-hot labels).

`training_data(config, start_step)` is the one entry point the trainer uses. Batches are a pure
function of (seed, step), so a resumed run continues with exactly the batches it would have seen.
Unconditional runs get labels of shape (batch, 0), so every dataset has the same structure.
LSUN and folder pipelines skip undecodable records; `skipped_records()` says how many so far.
"""

from __future__ import annotations

from dcgan_cli.errors import UserError

DATASETS = ("mnist", "lsun", "folder")


def training_data(config, start_step: int = 0):
    """(dataset of global batches, number of training examples) for config.dataset."""
    if config.dataset == "mnist":
        from dcgan_cli.datasets.mnist import load_mnist, training_batches

        mnist = load_mnist(config.data_dir)
        images, labels = mnist.train_images, mnist.train_labels
        if config.limit is not None:
            images, labels = images[: config.limit], labels[: config.limit]
        dataset = training_batches(images, labels, config.batch_size, config.seed,
                                   start_step, num_classes=config.num_classes)
        return dataset, len(images)
    if config.dataset == "lsun":
        from dcgan_cli.datasets.lsun import lsun_batches

        return lsun_batches(config.data_dir, config.category, config.image_size, config.channels,
                            config.batch_size, config.seed, start_step, config.limit)
    if config.dataset == "folder":
        from dcgan_cli.datasets.folder import folder_batches

        return folder_batches(config.data_dir, config.pattern, config.crop, config.image_size, config.channels,
                              config.batch_size, config.seed, start_step, config.limit)
    raise UserError(f"unknown dataset {config.dataset!r}; use one of {', '.join(DATASETS)}")


def skipped_records() -> int:
    """Undecodable records skipped so far by the LSUN/folder pipelines of this process."""
    from dcgan_cli.datasets.images import SKIPPED

    return SKIPPED.count()
