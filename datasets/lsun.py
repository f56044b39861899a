"""LSUN as published: an LMDB of (40-hex-character key, encoded image) records, read in place.

Memory stays flat however large the database: nothing but every BLOCK-th key is held (12k keys
for bedroom's 3M records). An epoch visits the blocks (BLOCK consecutive keys) in a permutation
seeded by (seed, epoch), reads CYCLE blocks' keys interleaved, shuffles *keys* in bounded
windows, and only then fetches values in parallel chunks and decodes them. So record k of the
stream is a function of (seed, k), and resuming at step s skips s * batch_size keys without
reading or decoding a single image. (A corrupt record shifts later batches of its epoch by one
image on resume; nothing else differs.)
"""

from __future__ import annotations

import os
from pathlib import Path

import lmdb
import numpy as np
import tensorflow as tf

from dcgan_cli.datasets.images import PROBE, SkipCounter, epoch_batches, first_readable
from dcgan_cli.datasets.pipeline import Pipeline
from dcgan_cli.errors import UserError

BLOCK = 256  # consecutive keys read by one call: the unit of the epoch permutation
CYCLE = 16  # blocks interleaved at once, so neighbouring records come from different blocks
SHUFFLE_KEYS = 8192  # keys shuffled together (about 0.5 MB): keys, not images
LARGE = 2**32  # more shuffle windows than any epoch has
READ_CHUNK = 32  # values fetched per Python call, amortising its overhead


def find_lmdb(data_dir, category: str | None, split: str = "train") -> Path:
    """DIR/{category}_{split}_lmdb, or DIR itself when it is an LMDB folder."""
    if data_dir is None:
        if not os.environ.get("DCGAN_DATA_DIR"):
            raise UserError("no --data-dir given; pass the folder holding "
                            f"{category or 'bedroom'}_{split}_lmdb (`dcgan download lsun` makes it)")
        data_dir = Path(os.environ["DCGAN_DATA_DIR"]) / "lsun"
    folder = Path(data_dir)
    if not folder.is_dir():
        raise UserError(f"--data-dir {folder} is not a directory; pass the folder holding {category}_{split}_lmdb")
    if (folder / "data.mdb").is_file():
        return folder
    name = f"{category}_{split}_lmdb"
    for candidate in (folder / name, folder / "lsun" / name):
        if (candidate / "data.mdb").is_file():
            return candidate
    raise UserError(f"no LSUN database in {folder}: expected {folder / name / 'data.mdb'} or a data.mdb in {folder} itself; "
                    f"run `dcgan download lsun --category {category} --dest {folder}` or pass the LMDB folder")


_OPEN: dict[tuple, lmdb.Environment] = {}  # LMDB allows one open environment per file and process


def open_environment(path: Path) -> lmdb.Environment:
    stat = (path / "data.mdb").stat()
    identity = (str(path.resolve()), stat.st_ino, stat.st_mtime_ns)  # a rewritten database is a new one
    if identity not in _OPEN:
        try:
            # lock=False: read-only media and shared copies work; readahead=False: random reads of a
            # 43 GB file must not evict the page cache with pages nobody asked for.
            _OPEN[identity] = lmdb.open(str(path), readonly=True, lock=False, readahead=False, meminit=False,
                                        max_readers=512)
        except lmdb.Error as exc:
            raise UserError(f"{path} is not a readable LMDB database ({exc}); download it again") from None
    return _OPEN[identity]


class LmdbReader:
    """Read-only access to one LMDB, callable from tf.data's threads (one transaction per call)."""

    def __init__(self, path: Path):
        self.path = path
        self.env = open_environment(path)

    def entries(self) -> int:
        return self.env.stat()["entries"]

    def block_starts(self, count: int, block: int) -> list[bytes]:
        """Every block-th key among the first count keys, in key order (one pass over keys only)."""
        starts = []
        with self.env.begin(buffers=True) as txn:
            for index, key in enumerate(txn.cursor().iternext(keys=True, values=False)):
                if index >= count:
                    break
                if index % block == 0:
                    starts.append(bytes(key))
        return starts

    def keys_from(self, start: bytes, count) -> np.ndarray:
        keys = []
        with self.env.begin() as txn:
            cursor = txn.cursor()
            if cursor.set_key(start):
                for key in cursor.iternext(keys=True, values=False):
                    keys.append(key)
                    if len(keys) == count:
                        break
        return np.array(keys, dtype=object)

    def values(self, keys: np.ndarray) -> np.ndarray:
        # A key without a value yields b"", which fails to decode and is counted as skipped.
        with self.env.begin() as txn:
            return np.array([txn.get(key, b"") for key in keys], dtype=object)

    def first_values(self, count: int) -> list[bytes]:
        with self.env.begin() as txn:
            return [value for _, value in zip(range(count), txn.cursor().iternext(keys=False, values=True))]


def open_lsun(data_dir, category: str | None, channels: int, limit: int | None = None) -> tuple[LmdbReader, int]:
    """The reader and the number of records to train on, after checking that images decode."""
    reader = LmdbReader(find_lmdb(data_dir, category))
    count = reader.entries() if limit is None else min(limit, reader.entries())
    if count == 0:
        raise UserError(f"{reader.path} holds no records; download it again")
    probe = reader.first_values(min(count, PROBE))
    if first_readable(probe, channels) is None:
        raise UserError(f"none of the first {len(probe)} records of {reader.path} is a readable image; "
                        f"it is damaged or not an image database: download it again")
    return reader, count


def epoch_records(reader: LmdbReader, count: int, seed: int):
    """(epoch, skip) -> dataset of (position, encoded image) over the first `count` records, shuffled."""
    starts = reader.block_starts(count, BLOCK)
    sizes = [min(BLOCK, count - i * BLOCK) for i in range(len(starts))]
    starts_t, sizes_t = tf.constant(starts, tf.string), tf.constant(sizes, tf.int64)

    def block_keys(block):
        keys = tf.numpy_function(reader.keys_from, [starts_t[block], sizes_t[block]], tf.string, stateful=False)
        return tf.data.Dataset.from_tensor_slices(tf.ensure_shape(keys, (None,)))

    def fetch(positions, keys):
        values = tf.numpy_function(reader.values, [keys], tf.string, stateful=False)
        return positions, tf.ensure_shape(values, keys.shape)

    def records(epoch, skip):
        blocks = tf.random.experimental.stateless_shuffle(
            tf.range(len(starts), dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), epoch]))
        keys = (tf.data.Dataset.from_tensor_slices(blocks)
                .interleave(block_keys, cycle_length=CYCLE, block_length=1, num_parallel_calls=tf.data.AUTOTUNE,
                            deterministic=True)
                # Windows shuffled statelessly: unlike Dataset.shuffle, no global seed enters.
                .batch(SHUFFLE_KEYS)
                .enumerate()
                .map(lambda window, chunk: tf.random.experimental.stateless_shuffle(
                    chunk, seed=tf.stack([tf.constant(seed, tf.int64), epoch * LARGE + window])))
                .unbatch())
        positions = tf.data.Dataset.range(epoch * count, (epoch + 1) * count)
        return (tf.data.Dataset.zip(positions, keys)
                .skip(skip)  # keys only: resuming reads and decodes no skipped image
                .batch(READ_CHUNK)
                .map(fetch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
                .unbatch())

    return records


def lsun_batches(data_dir, category: str | None, image_size: int, channels: int, batch_size: int, seed: int,
                 start_step: int = 0, limit: int | None = None) -> Pipeline:
    """Endless batches of (images, labels of width 0) over the database's first `limit` records."""
    reader, count = open_lsun(data_dir, category, channels, limit)
    skips = SkipCounter()
    dataset = epoch_batches(epoch_records(reader, count, seed), start_step, count, batch_size,
                            image_size, channels, skips)
    return Pipeline(dataset, count, skips)
