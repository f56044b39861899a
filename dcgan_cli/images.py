"""Turning model outputs into pictures: uint8 conversion, grids and PNG files."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import tensorflow as tf


def to_uint8(images) -> np.ndarray:
    """float images in [-1, 1] -> uint8 [0, 255]."""
    images = np.asarray(images, dtype=np.float32)
    return np.clip(np.rint((images + 1.0) * 127.5), 0, 255).astype(np.uint8)


def grid(images: np.ndarray, rows: int | None = None, cols: int | None = None, pad: int = 1) -> np.ndarray:
    """Tile N x H x W x C uint8 images into one image, row-major, with `pad` pixels of gap."""
    n, h, w, c = images.shape
    if cols is None:
        cols = math.ceil(math.sqrt(n)) if rows is None else math.ceil(n / rows)
    if rows is None:
        rows = math.ceil(n / cols)
    out = np.zeros((rows * (h + pad) - pad, cols * (w + pad) - pad, c), np.uint8)
    for i, image in enumerate(images[: rows * cols]):
        r, col = divmod(i, cols)
        out[r * (h + pad): r * (h + pad) + h, col * (w + pad): col * (w + pad) + w] = image
    return out


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscaling: small digits stay crisp instead of blurry."""
    return image.repeat(factor, axis=0).repeat(factor, axis=1) if factor > 1 else image


def save_png(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write an H x W x C uint8 image atomically (a .tmp file renamed into place)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(tf.io.encode_png(image).numpy())
    os.replace(tmp, path)
    return path


def save_npz(path: str | os.PathLike, **arrays) -> Path:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)
    return path
