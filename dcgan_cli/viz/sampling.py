"""Rebuilding a generator from a checkpoint alone, and drawing images from it."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from dcgan_cli.config import Config
from dcgan_cli.errors import UserError
from dcgan_cli.models import build_models
from dcgan_cli.run_dir import resolve_checkpoint

# The sampler's z stream is keyed (seed, SAMPLE_STREAM); training uses (seed, step >= 0), so sample
# z's never coincide with training z's.
SAMPLE_STREAM = -1


def build_for_config(config: Config, synchronized_bn: bool = False):
    return build_models(config.model, config.image_size, config.channels, config.z_dim,
                        config.num_classes, config.width, synchronized_bn)


def load_generator(checkpoint) -> tuple[Config, tf.keras.Model, int]:
    """(config, generator in float32, training step) from RUN, RUN/ckpt or RUN/ckpt/ckpt-N."""
    run_dir, prefix = resolve_checkpoint(checkpoint)
    config = Config.load(run_dir)
    try:
        generator, _ = build_for_config(config)
    except ValueError as exc:
        raise UserError(f"{run_dir}/config.json describes no buildable model ({exc}); restore the run's config.json") from None
    step = tf.Variable(0, dtype=tf.int64)
    # A run trained with --ema samples with the average of G's weights, kept as generator_ema.
    name = "generator_ema" if config.ema else "generator"
    try:
        status = tf.train.Checkpoint(**{name: generator}, step=step).restore(prefix)
        status.expect_partial()
        status.assert_existing_objects_matched()
    except (ValueError, AssertionError, tf.errors.OpError) as exc:
        first = str(exc).strip().splitlines()[0][:200]
        raise UserError(f"checkpoint {prefix} does not fit the {config.model} model that {run_dir}/config.json "
                        f"describes ({first}); pass the run directory the checkpoint was written in") from None
    return config, generator, int(step.numpy())


def sample_z(config: Config, n: int, seed: int) -> tf.Tensor:
    key = tf.constant([seed, SAMPLE_STREAM], tf.int64)
    if config.z_dist == "uniform":
        return tf.random.stateless_uniform((n, config.z_dim), seed=key, minval=-1.0, maxval=1.0)
    return tf.random.stateless_normal((n, config.z_dim), seed=key)


def cycling_labels(n: int, num_classes: int, classes=None) -> np.ndarray:
    """Integer labels cycling through `classes` (default 0..num_classes-1)."""
    classes = np.arange(num_classes) if classes is None else np.asarray(classes)
    return classes[np.arange(n) % len(classes)]


def one_hot(labels: np.ndarray, num_classes: int) -> tf.Tensor:
    return tf.one_hot(np.asarray(labels, np.int32), num_classes)


def generate(generator, config: Config, z, labels_onehot=None, batch_size: int = 500) -> np.ndarray:
    """float32 images in [-1, 1], with BatchNorm in inference mode, in batches to bound memory."""
    out = []
    for start in range(0, int(z.shape[0]), batch_size):
        z_part = z[start:start + batch_size]
        inputs = [z_part, labels_onehot[start:start + batch_size]] if config.conditional else z_part
        out.append(np.asarray(generator(inputs, training=False), np.float32))
    return np.concatenate(out) if out else np.zeros((0, config.image_size, config.image_size, config.channels), np.float32)


def sample_to_file(checkpoint, num, labels, per_class, seed, out, echo=print) -> Path:
    """`dcgan sample`: draw images from a checkpoint into a PNG grid or an NPZ."""
    from dcgan_cli.viz.images import grid, save_npz, save_png, to_uint8, upscale

    if out is not None and Path(out).suffix.lower() not in (".png", ".npz"):
        raise UserError(f"--out {out} must end in .png (a grid) or .npz (arrays)")
    if num is not None and num <= 0:
        raise UserError(f"--num must be a positive integer, got {num}")
    config, generator, step = load_generator(checkpoint)
    run_dir, _ = resolve_checkpoint(checkpoint)
    if (labels or per_class) and not config.conditional:
        raise UserError(f"{run_dir} is an unconditional {config.model} model: it takes no --label or --per-class")
    bad = [k for k in labels if not 0 <= k < config.num_classes]
    if bad:
        raise UserError(f"--label {bad[0]} is out of range: this model has classes 0..{config.num_classes - 1}")
    classes = sorted(set(labels)) if per_class and labels else (labels or None)

    rows = None
    if per_class:
        row_classes = classes or list(range(config.num_classes))
        per_row = max(1, num // len(row_classes)) if num else 10
        class_ids = np.repeat(row_classes, per_row)
        rows = len(row_classes)
    elif config.conditional:
        class_ids = cycling_labels(num or 64, config.num_classes, classes)
    else:
        class_ids = None
    n = len(class_ids) if class_ids is not None else (num or 64)

    out = Path(out) if out else run_dir / "samples" / f"sample_step{step}_seed{seed}.png"
    if not out.parent.is_dir():
        raise UserError(f"cannot write {out}: folder {out.parent} does not exist; create it or choose another --out")
    if not os.access(out.parent, os.W_OK):
        raise UserError(f"cannot write {out}: folder {out.parent} is not writable; choose another --out")

    labels_onehot = one_hot(class_ids, config.num_classes) if class_ids is not None else None
    z = sample_z(config, n, seed)
    images = to_uint8(generate(generator, config, z, labels_onehot))
    # The z (and label) of every tile, so `--mode arithmetic/interpolate --from` can pick tiles by id.
    tiles = {"z": z.numpy()}
    if class_ids is not None:
        tiles["labels"] = np.asarray(class_ids, np.int64)
    if out.suffix.lower() == ".npz":
        save_npz(out, images=images, **tiles)
    else:
        save_png(out, upscale(grid(images, rows=rows), max(1, 64 // config.image_size)))
        save_npz(tiles_path(out), **tiles)
    what = f"{n} images of {config.image_size}x{config.image_size}x{config.channels}"
    echo(f"wrote {out}: {what} from {run_dir} at step {step} (seed {seed})")
    cols = -(-n // rows) if rows else math.ceil(math.sqrt(n))
    echo(f"tile ids run 0..{n - 1} row by row ({cols} per row); pick tiles with e.g. `dcgan sample --checkpoint "
         f"{run_dir} --mode arithmetic --from {out} --a 0,1,2 --b 3,4,5 --c 6,7,8`")
    return out


def tiles_path(grid_file) -> Path:
    """Where a PNG grid keeps the z's (and labels) of its tiles: GRID.png -> GRID.z.npz."""
    return Path(grid_file).with_suffix(".z.npz")
