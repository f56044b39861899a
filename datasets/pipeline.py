"""Deterministic, resumable batching shared by the datasets.

Batch k of a run is a pure function of (seed, k): epoch e visits the examples in the order of a
stateless shuffle seeded with (seed, e). Resuming at step k therefore means skipping k batches of
*indices*, which costs nothing, and a resumed run sees exactly the batches an uninterrupted one
would have seen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from dcgan_cli.pixels import to_model_range


@dataclass
class LabelledImages:
    """A dataset held in memory (MNIST, Fashion-MNIST, CIFAR-10): uint8 NHWC images, uint8 class ids."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray  # held out: the evaluation set
    test_labels: np.ndarray


@dataclass
class Pipeline:
    """What a dataset gives the trainer."""

    dataset: tf.data.Dataset  # endless global batches of (images in [-1, 1], one-hot labels, width 0 if none)
    num_examples: int  # one epoch
    skips: object | None = None  # datasets.images.SkipCounter of a pipeline that drops undecodable records

    def skipped(self) -> int:
        """Undecodable records this pipeline has dropped so far."""
        return self.skips.count() if self.skips is not None else 0


def shuffled_index_batches(num_examples: int, batch_size: int, seed: int, start_step: int = 0) -> tf.data.Dataset:
    """An endless dataset of int64 index batches, every epoch a fresh permutation, no partial batch."""
    steps_per_epoch = num_examples // batch_size
    if steps_per_epoch == 0:
        raise ValueError(f"{num_examples} examples do not make one batch of {batch_size}")
    first_epoch, skip = divmod(start_step, steps_per_epoch)

    def epoch_batches(epoch):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(num_examples, dtype=tf.int64), seed=tf.stack([tf.cast(seed, tf.int64), epoch]))
        order = order[: steps_per_epoch * batch_size]
        return tf.data.Dataset.from_tensor_slices(tf.reshape(order, (steps_per_epoch, batch_size)))

    batches = tf.data.Dataset.range(first_epoch, 2**62).flat_map(epoch_batches)
    return batches.skip(skip)


def steps_per_epoch(num_examples: int, batch_size: int) -> int:
    return num_examples // batch_size


def training_batches(images: np.ndarray, labels: np.ndarray, batch_size: int, seed: int,
                     start_step: int = 0, num_classes: int = 10) -> tf.data.Dataset:
    """Endless (image in [-1, 1], one-hot label) batches of in-memory arrays, reproducible from (seed, step)."""
    images = tf.constant(images)
    labels = tf.constant(labels.astype(np.int32))

    def gather(index):
        return to_model_range(tf.gather(images, index)), tf.one_hot(tf.gather(labels, index), num_classes)

    return (shuffled_index_batches(len(images), batch_size, seed, start_step)
            .map(gather, num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE))
