"""The one mapping between stored pixels and the models' range: uint8 [0, 255] <-> float32 [-1, 1].

[-1, 1] is the range of G's tanh; every pipeline scales its images into it and every picture of
G's output comes back through to_uint8.
"""

from __future__ import annotations

import numpy as np


def to_model_range(images):
    """uint8 (or float) pixel values in [0, 255] -> float32 in [-1, 1]. numpy in, numpy out;
    anything else (a tf.Tensor, inside tf.data graphs) is computed with TensorFlow."""
    if isinstance(images, np.ndarray):
        return images.astype(np.float32) / 127.5 - 1.0
    import tensorflow as tf

    return tf.cast(images, tf.float32) / 127.5 - 1.0


def to_uint8(images) -> np.ndarray:
    """float images in [-1, 1] -> uint8 [0, 255], rounded to the nearest level."""
    images = np.asarray(images, dtype=np.float32)
    return np.clip(np.rint((images + 1.0) * 127.5), 0, 255).astype(np.uint8)
