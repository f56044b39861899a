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
    # With only some labels in use (semi_supervised_batches): the training images whose labels are used,
    # and the rows of each batch that advance through the epoch's order (the others are labelled images).
    labelled: np.ndarray | None = None
    epoch_rows: int | None = None

    def steps_per_epoch(self, batch_size: int) -> int:
        """Batches in one pass over the data."""
        return self.num_examples // (self.epoch_rows or batch_size)

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


def balanced_subset(labels: np.ndarray, count: int, seed: int, num_classes: int = 10) -> np.ndarray:
    """`count` indices, sorted: `count // num_classes` of each class, and when count is not a multiple of
    num_classes one more of each of `count % num_classes` classes chosen at random; drawn with a seeded
    generator (the same draws as before the remainder existed, for counts that are multiples)."""
    rng = np.random.default_rng(seed)
    per_class = np.full(num_classes, count // num_classes)
    picks = [rng.choice(np.flatnonzero(labels == c), per_class[c], replace=False) for c in range(num_classes)]
    if count % num_classes:
        taken = np.concatenate(picks)
        for c in np.sort(rng.choice(num_classes, count % num_classes, replace=False)):
            picks.append(rng.choice(np.setdiff1d(np.flatnonzero(labels == c), taken), 1))
    return np.sort(np.concatenate(picks))


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


def endless_order(indices: np.ndarray, batch_size: int, seed: int, start_step: int = 0) -> tf.data.Dataset:
    """Batches of `indices` (any number, even fewer than a batch) in a fresh seeded permutation per pass,
    the passes run together; batch k is a pure function of (seed, k). The permutations' keys are
    (seed, -1 - pass), apart from shuffled_index_batches' (seed, epoch >= 0)."""
    indices = tf.constant(np.asarray(indices, np.int64))
    count = len(indices)
    first_pass, skip = divmod(start_step * batch_size, count)

    def one_pass(number):
        order = tf.random.experimental.stateless_shuffle(indices, seed=tf.stack([tf.cast(seed, tf.int64), -1 - number]))
        return tf.data.Dataset.from_tensor_slices(order)

    return tf.data.Dataset.range(first_pass, 2**62).flat_map(one_pass).skip(skip).batch(batch_size, drop_remainder=True)


def semi_supervised_batches(images: np.ndarray, labels: np.ndarray, labelled: np.ndarray, batch_size: int,
                            seed: int, start_step: int = 0, num_classes: int = 10) -> tf.data.Dataset:
    """Endless batches of (images in [-1, 1], labels) that show only the labels of the images `labelled`.

    As Salimans et al. 2016 (improved-gan), each batch is half labelled, half unlabelled: batch_size -
    batch_size // 2 rows visit every training image, labelled or not, in the epoch's order with an
    all-zero label vector, and batch_size // 2 rows cycle through the labelled images with their
    one-hot labels, so that a few labels are seen every step rather than a few times an epoch. An
    epoch is a pass over the unlabelled rows' order. Rows alternate (unlabelled, labelled, ...), so
    every replica's slice of the batch gets its share of both.
    """
    images_t = tf.constant(images)
    labels_t = tf.constant(labels.astype(np.int32))
    shown = batch_size // 2
    unlabelled = shuffled_index_batches(len(images), batch_size - shown, seed, start_step)
    labelled_order = endless_order(labelled, shown, seed, start_step)

    shows = np.array([False, True] * shown + [False] * (batch_size - 2 * shown))

    def gather(unlabelled_index, labelled_index):
        rows = tf.concat([tf.reshape(tf.stack([unlabelled_index[:shown], labelled_index], axis=1), [-1]),
                          unlabelled_index[shown:]], axis=0)
        classes = tf.where(shows, tf.gather(labels_t, rows), -1)  # -1: one_hot gives an all-zero label vector
        return to_model_range(tf.gather(images_t, rows)), tf.one_hot(classes, num_classes)

    return (tf.data.Dataset.zip(unlabelled, labelled_order)
            .map(gather, num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE))
