"""Encoded image bytes -> float32 training images in [-1, 1], decoded inside the tf.data graph.

Decoding runs in TensorFlow's C++ thread pool (no Python per image), so it scales with cores.
A record that does not decode (damaged, truncated, not an image) is dropped, never fatal: its
position in the record stream goes missing, and the gaps are added up in the pipeline's own
SkipCounter, which the trainer reads when it logs.
"""

from __future__ import annotations

import tensorflow as tf

from dcgan_cli.errors import UserError
from dcgan_cli.pixels import to_model_range

AUTOTUNE = tf.data.AUTOTUNE
PROBE = 64  # records tried at start-up before declaring a source unreadable
LAST_EPOCH = 2**62  # "forever"


class SkipCounter:
    """The records one pipeline has dropped so far, in a variable its graph adds to."""

    def __init__(self):
        # Eager even inside a tf.function; on the CPU, where tf.data runs, even on a GPU host.
        with tf.init_scope(), tf.device("/cpu:0"):
            self.total = tf.Variable(0, dtype=tf.int64, trainable=False, name="skipped_records")

    def count(self) -> int:
        return int(self.total.numpy())


def decode(contents: tf.Tensor, channels: int) -> tf.Tensor:
    """JPEG, PNG, WebP, GIF (first frame) or BMP bytes -> uint8 HxWxchannels."""
    # Always decode to RGB: not every decoder converts to grayscale itself (WebP does not).
    image = tf.io.decode_image(contents, channels=3, expand_animations=False)
    return tf.image.rgb_to_grayscale(image) if channels == 1 else image


def centre_crop(image: tf.Tensor, side=None) -> tf.Tensor:
    """The centre side x side square (the largest square when side is None or too big)."""
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    square = tf.minimum(height, width)
    if side is not None:
        square = tf.minimum(square, side)
    top, left = (height - square) // 2, (width - square) // 2
    return image[top:top + square, left:left + square]


def to_training_image(image: tf.Tensor, image_size: int, crop: int | None = None) -> tf.Tensor:
    """Centre-crop, resize to image_size x image_size, scale to [-1, 1].

    crop=None is LSUN's treatment (shorter side resized, centre cropped): cropping the largest
    centre square first and then resizing gives the same pixels for less resizing work.
    crop=N is carpedm20's celebA treatment: the centre N x N, then resized.
    """
    square = centre_crop(image, crop)
    size = (image_size, image_size)
    # Shrinking (LSUN's 256 px to 64 px, 4x) needs antialiasing. Area averaging is the box filter,
    # exact for integer factors, at a third of the CPU time of antialiased bilinear (benchmarks/
    # README.md, "Input pipeline"). Growing uses bilinear.
    resized = tf.cond(tf.shape(square)[0] >= image_size,
                      lambda: tf.image.resize(square, size, method="area"),
                      lambda: tf.image.resize(square, size, method="bilinear"))
    return tf.clip_by_value(to_model_range(resized), -1.0, 1.0)


def decode_to_training_image(contents, image_size: int, channels: int, crop: int | None = None) -> tf.Tensor:
    image = to_training_image(decode(contents, channels), image_size, crop)
    return tf.ensure_shape(image, (image_size, image_size, channels))


def decoded_images(records: tf.data.Dataset, image_size: int, channels: int, crop: int | None = None) -> tf.data.Dataset:
    """(position, bytes[, class id]) -> (position, (training image, class id)), undecodable records
    dropped; class 0 for records that carry none."""
    def decode_one(position, contents, label=None):
        label = tf.constant(0, tf.int32) if label is None else label
        return position, (decode_to_training_image(contents, image_size, channels, crop), label)

    images = records.map(decode_one, num_parallel_calls=AUTOTUNE, deterministic=True)
    return images.ignore_errors()


def epoch_batches(epoch_records, start_step: int, epoch_size: int, batch_size: int, image_size: int,
                  channels: int, skips: SkipCounter, crop: int | None = None, num_classes: int = 0) -> tf.data.Dataset:
    """Endless (images, one-hot labels) batches from epoch_records(epoch, skip), a dataset of
    (position, bytes[, class id]) that leaves out its first `skip` records without reading them.
    num_classes=0 (records without classes): labels of width 0.

    Every epoch is exactly epoch_size // batch_size batches, as for MNIST: records that fail to
    decode are made up for from the start of the same epoch's order. So step s is in epoch
    s // steps_per_epoch whatever was skipped, and a resumed run, which skips records without
    decoding them, sees the batches an uninterrupted run would have seen, except that undecodable
    records before the resume point shift the rest of that one epoch. Positions run on across
    epochs (epoch * epoch_size + index); `skips` counts the ones that went missing.
    """
    steps_per_epoch = epoch_size // batch_size
    if steps_per_epoch == 0:
        raise UserError(f"the dataset has {epoch_size} images, fewer than one batch of {batch_size}; lower --batch-size")
    first_epoch, skip_steps = divmod(start_step, steps_per_epoch)

    def one_epoch(epoch):
        skip = tf.where(epoch == first_epoch, tf.constant(skip_steps * batch_size, tf.int64), 0)
        end = (epoch + 1) * epoch_size
        # A sentinel at the epoch's end position counts records dropped at the very end.
        sentinel = tf.data.Dataset.from_tensors((end, (tf.zeros((image_size, image_size, channels)), tf.constant(0, tf.int32))))
        decoded = decoded_images(epoch_records(epoch, skip), image_size, channels, crop).concatenate(sentinel)
        images = (count_skipped(decoded, epoch * epoch_size + skip, epoch_size, skips)
                  .filter(lambda position, _: position < end)
                  .map(lambda _, image: image))
        # Read only if records were skipped; its positions repeat, so it is not counted.
        make_up = decoded_images(epoch_records(epoch, 0), image_size, channels, crop).map(lambda _, image: image)
        wanted = (steps_per_epoch - skip // batch_size) * batch_size
        return images.concatenate(make_up).take(wanted).batch(batch_size, drop_remainder=True)

    return (tf.data.Dataset.range(first_epoch, LAST_EPOCH)
            .flat_map(one_epoch)
            .map(lambda images, classes: (images, tf.one_hot(classes, num_classes)))
            .prefetch(AUTOTUNE))


def count_skipped(images: tf.data.Dataset, first_position, epoch_size: int, skips: SkipCounter) -> tf.data.Dataset:
    """(position, image) in order, adding the positions missing before each one to `skips`.

    Counting happens as the pipeline consumes images (prefetching runs it a little ahead of
    training), so what an epoch's last partial batch leaves unread is not counted. A whole
    epoch missing means the source itself failed (dropped errors include read errors): stop
    with an error rather than loop forever over epochs that yield nothing.
    """
    total = skips.total

    def gap(expected, element):
        position, image = element
        return position + 1, (position - expected, position, image)

    def note(missing, position, image):
        failed = tf.debugging.Assert(missing < epoch_size, [
            "no record of a whole epoch could be read and decoded; is the data still there?", missing])
        with tf.control_dependencies([failed, total.assign_add(missing)]):
            return tf.identity(position), tf.nest.map_structure(tf.identity, image)

    # scan keeps `expected` per epoch; both steps are sequential, as the arithmetic needs order.
    return images.scan(tf.cast(first_position, tf.int64), gap).map(note)


def first_readable(contents_list, channels: int) -> int | None:
    """Index of the first element that decodes (eagerly), or None if none does."""
    for index, contents in enumerate(contents_list):
        try:
            decode(tf.constant(contents), channels)
            return index
        except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError, ValueError):
            continue
    return None
