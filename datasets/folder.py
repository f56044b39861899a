"""Any folder tree of images (carpedm20's celebA mode): centre-crop, resize, train.

Files are listed once each, whatever links the tree holds, sorted (so a run is reproducible), and
visited in the same per-epoch permutation of (seed, epoch) as MNIST; files are read and decoded in
parallel in the graph.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from pathlib import Path

import tensorflow as tf

from dcgan_cli.datasets.images import PROBE, SkipCounter, epoch_batches, first_readable
from dcgan_cli.datasets.pipeline import Pipeline
from dcgan_cli.errors import UserError

IMAGE_PATTERNS = ("*.jpg", "*.jpeg", "*.png", "*.webp", "*.bmp", "*.gif")


def list_images(data_dir, pattern: str | None = None) -> list[str]:
    """Sorted paths under data_dir whose file name matches pattern (default: common image types).

    Links are followed, but every file is listed once, however many paths lead to it (symlinked
    files or folders, hard links), and a folder reached again (a link loop) is not entered again.
    """
    if data_dir is None:
        raise UserError("`dcgan train folder` needs --data-dir, the folder of images to train on")
    folder = Path(data_dir)
    if not folder.is_dir():
        raise UserError(f"--data-dir {folder} is not a directory; pass the folder of images to train on")
    patterns = [pattern] if pattern else list(IMAGE_PATTERNS)
    seen_folders, seen_files, paths = {_identity(folder)}, set(), []
    for root, dirs, files in os.walk(folder, followlinks=True):
        # Real folders and files before links to them, so that paths avoid links where they can.
        dirs[:] = [d for d in sorted(dirs, key=lambda d: (os.path.islink(os.path.join(root, d)), d))
                   if not d.startswith(".") and _first_visit(os.path.join(root, d), seen_folders)]
        for name in sorted(files, key=lambda f: (os.path.islink(os.path.join(root, f)), f)):
            path = os.path.join(root, name)
            if any(fnmatch.fnmatch(name.lower() if not pattern else name, p) for p in patterns) \
                    and _first_visit(path, seen_files, regular_file=True):
                paths.append(path)
    if not paths:
        what = f"matching {pattern!r}" if pattern else f"with an image extension ({', '.join(IMAGE_PATTERNS)})"
        raise UserError(f"no files {what} under {folder}; check --data-dir{' and --pattern' if pattern else ''}")
    return sorted(paths)


def _identity(path) -> tuple[int, int]:
    status = os.stat(path)
    return status.st_dev, status.st_ino


def _first_visit(path: str, seen: set, regular_file: bool = False) -> bool:
    """True the first time the file or folder behind `path` (links followed) is met; False for a dangling link."""
    try:
        status = os.stat(path)
    except OSError:
        return False
    if regular_file and not stat.S_ISREG(status.st_mode):
        return False
    key = (status.st_dev, status.st_ino)
    if key in seen:
        return False
    seen.add(key)
    return True


def open_folder(data_dir, pattern: str | None, channels: int, limit: int | None = None) -> list[str]:
    paths = list_images(data_dir, pattern)[:limit]
    probe = []
    for path in paths[:PROBE]:
        try:
            probe.append(Path(path).read_bytes())
        except OSError:
            probe.append(b"")
    if first_readable(probe, channels) is None:
        raise UserError(f"none of the first {len(probe)} files under {data_dir} is a readable image; "
                        f"check --data-dir{' and --pattern' if pattern else ''}")
    return paths


def epoch_records(paths: list[str], seed: int):
    """(epoch, skip) -> dataset of (position, file contents) in the epoch's permutation."""
    paths_t = tf.constant(paths)
    count = len(paths)

    def records(epoch, skip):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(count, dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), epoch]))
        positions = tf.data.Dataset.range(epoch * count, (epoch + 1) * count)
        return (tf.data.Dataset.zip(positions, tf.data.Dataset.from_tensor_slices(order))
                .skip(skip)
                .map(lambda position, index: (position, tf.io.read_file(tf.gather(paths_t, index))),
                     num_parallel_calls=tf.data.AUTOTUNE, deterministic=True))

    return records


def folder_batches(data_dir, pattern: str | None, crop: int | None, image_size: int, channels: int,
                   batch_size: int, seed: int, start_step: int = 0,
                   limit: int | None = None) -> Pipeline:
    """Endless batches of (images, labels of width 0) over the folder's (first `limit`) images."""
    if crop is not None and crop < 0:
        raise UserError(f"--crop must be 0 (the largest centre square) or a size in pixels, got {crop}")
    if crop == 0:
        crop = None  # the largest centre square, as for LSUN
    paths = open_folder(data_dir, pattern, channels, limit)
    skips = SkipCounter()
    dataset = epoch_batches(epoch_records(paths, seed), start_step, len(paths), batch_size,
                            image_size, channels, skips, crop)
    return Pipeline(dataset, len(paths), skips)
