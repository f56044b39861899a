"""Any folder tree of images (carpedm20's celebA mode): centre-crop, resize, train.

Files are listed once each, whatever links the tree holds, sorted (so a run is reproducible), and
visited in the same per-epoch permutation of (seed, epoch) as MNIST; files are read and decoded in
parallel in the graph. With class subfolders (--class-subdirs), each top-level subfolder is a class,
named as the folder is, in sorted order; its images (at any depth) are that class's.
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


def class_folders(data_dir) -> list[str]:
    """The class names of a folder of class subfolders: its non-hidden subfolders, sorted."""
    if data_dir is None:
        raise UserError("`dcgan train folder --class-subdirs` needs --data-dir, the folder of class subfolders")
    folder = Path(data_dir)
    if not folder.is_dir():
        raise UserError(f"--data-dir {folder} is not a directory; pass the folder of class subfolders")
    names = sorted(entry.name for entry in folder.iterdir() if entry.is_dir() and not entry.name.startswith("."))
    if len(names) < 2:
        raise UserError(f"--class-subdirs: {folder} has {len(names)} subfolder{'s' if len(names) != 1 else ''}; it needs one "
                        f"subfolder of images per class, two or more")
    return names


def labelled_images(data_dir, class_names: list[str], pattern: str | None = None) -> tuple[list[str], list[int]]:
    """(paths, class ids) of the images in each class subfolder, the classes as the run named them."""
    found = class_folders(data_dir)
    if found != list(class_names):
        raise UserError(f"the class subfolders of {data_dir} ({', '.join(found)}) are not the run's classes "
                        f"({', '.join(class_names)}); restore them, or start a new run with --out NEW_DIR")
    paths, classes = [], []
    for index, name in enumerate(class_names):
        try:
            images = list_images(Path(data_dir) / name, pattern)
        except UserError:
            raise UserError(f"class subfolder {Path(data_dir) / name} holds no images; fill it or remove it") from None
        paths += images
        classes += [index] * len(images)
    return paths, classes


def open_folder(data_dir, pattern: str | None, channels: int, limit: int | None = None,
                paths: list[str] | None = None) -> list[str]:
    paths = (paths if paths is not None else list_images(data_dir, pattern))[:limit]
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


def epoch_records(paths: list[str], seed: int, classes: list[int] | None = None):
    """(epoch, skip) -> dataset of (position, file contents[, class id]) in the epoch's permutation."""
    paths_t = tf.constant(paths)
    classes_t = None if classes is None else tf.constant(classes, tf.int32)
    count = len(paths)

    def read(position, index):
        contents = tf.io.read_file(tf.gather(paths_t, index))
        return (position, contents) if classes_t is None else (position, contents, tf.gather(classes_t, index))

    def records(epoch, skip):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(count, dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), epoch]))
        positions = tf.data.Dataset.range(epoch * count, (epoch + 1) * count)
        return (tf.data.Dataset.zip(positions, tf.data.Dataset.from_tensor_slices(order))
                .skip(skip)
                .map(read, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True))

    return records


def folder_batches(data_dir, pattern: str | None, crop: int | None, image_size: int, channels: int,
                   batch_size: int, seed: int, start_step: int = 0,
                   limit: int | None = None, class_names: list[str] | None = None) -> Pipeline:
    """Endless batches of (images, labels) over the folder's (first `limit`) images: one-hot labels of
    the class subfolders `class_names` when given, else labels of width 0."""
    if crop is not None and crop < 0:
        raise UserError(f"--crop must be 0 (the largest centre square) or a size in pixels, got {crop}")
    if crop == 0:
        crop = None  # the largest centre square, as for LSUN
    classes = None
    if class_names:
        paths, classes = labelled_images(data_dir, class_names, pattern)
        paths, classes = open_folder(data_dir, pattern, channels, limit, paths), classes[:limit]
    else:
        paths = open_folder(data_dir, pattern, channels, limit)
    skips = SkipCounter()
    dataset = epoch_batches(epoch_records(paths, seed, classes), start_step, len(paths), batch_size,
                            image_size, channels, skips, crop, num_classes=len(class_names or ()))
    return Pipeline(dataset, len(paths), skips)
