"""Input pipelines: each returns an endless tf.data.Dataset of (images in [-1, 1], one-hot labels).

`training_data(config, start_step)` is the one entry point the trainer uses. Batches are a pure
function of (seed, step), so a resumed run continues with exactly the batches it would have seen.
Unconditional runs get labels of shape (batch, 0), so every dataset has the same structure.
"""

from __future__ import annotations


def training_data(config, start_step: int = 0):
    """(dataset of global batches, number of training examples) for config.dataset."""
    if config.dataset == "mnist":
        from dcgan_cli.datasets.mnist import load_mnist, training_batches

        mnist = load_mnist(config.data_dir)
        dataset = training_batches(mnist.train_images, mnist.train_labels, config.batch_size, config.seed,
                                   start_step, num_classes=config.num_classes)
        return dataset, len(mnist.train_images)
    raise ValueError(f"unknown dataset {config.dataset!r}")
