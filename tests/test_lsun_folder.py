"""LSUN LMDB and image-folder pipelines on small databases the tests build in LSUN's exact layout."""

from __future__ import annotations

import re
from types import SimpleNamespace

import lmdb
import numpy as np
import pytest

from dcgan_cli.datasets import training_data
from dcgan_cli.datasets.testdata import encoded_pictures, write_image_folder, write_lsun_lmdb
from dcgan_cli.errors import UserError

RECORDS = 40
SIZE = 32
BATCH = 8


@pytest.fixture(scope="module")
def lsun_dir(tmp_path_factory):
    """DIR/bedroom_train_lmdb: 40 records of ~256 px pictures (WebP and JPEG), one truncated."""
    root = tmp_path_factory.mktemp("lsun")
    write_lsun_lmdb(root / "bedroom_train_lmdb", RECORDS, short_side=256, corrupt=1)
    return root


@pytest.fixture(scope="module")
def folder_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("faces")
    return write_image_folder(root / "images", 24, short_side=160, corrupt=1)


def config(**fields):
    base = dict(dataset="lsun", data_dir=None, category="bedroom", limit=None, pattern=None, crop=None,
                image_size=SIZE, channels=3, batch_size=BATCH, seed=0, num_classes=0, labels=None, labelled=[])
    return SimpleNamespace(**{**base, **fields})


def take(dataset, n):
    return [(np.asarray(x), np.asarray(y)) for x, y in dataset.take(n)]


def test_lsun_layout(lsun_dir):
    env = lmdb.open(str(lsun_dir / "bedroom_train_lmdb"), readonly=True, lock=False)
    with env.begin() as txn:
        items = list(txn.cursor())
    env.close()
    assert len(items) == RECORDS
    assert all(re.fullmatch(rb"[0-9a-f]{40}", key) for key, _ in items)
    kinds = {value[:4] == b"RIFF" and value[8:12] == b"WEBP" for _, value in items}
    assert kinds == {True, False}  # WebP and JPEG values
    assert any(value[:3] == b"\xff\xd8\xff" for _, value in items)


def test_lsun_batches(lsun_dir):
    data = training_data(config(data_dir=str(lsun_dir)), 0)
    assert data.num_examples == RECORDS and data.skipped() == 0
    batches = take(data.dataset, RECORDS // BATCH)  # one epoch, consumed to its end
    # The truncated record; prefetching may already have met it again in the next epoch.
    assert 1 <= data.skipped() <= 2
    images, labels = batches[0]
    assert images.shape == (BATCH, SIZE, SIZE, 3) and images.dtype == np.float32
    assert labels.shape == (BATCH, 0) and labels.dtype == np.float32
    assert -1.0 <= images.min() < -0.5 and 0.5 < images.max() <= 1.0
    distinct = {b[0][i].tobytes() for b in batches for i in range(BATCH)}
    assert len(distinct) == RECORDS - 1  # every readable image once; one repeated in place of the bad one


def test_lsun_dir_is_the_lmdb_itself_and_deterministic(lsun_dir):
    a = training_data(config(data_dir=str(lsun_dir)), 0).dataset
    b = training_data(config(data_dir=str(lsun_dir / "bedroom_train_lmdb")), 0).dataset
    for (xa, _), (xb, _) in zip(take(a, 3), take(b, 3)):
        np.testing.assert_array_equal(xa, xb)


def test_lsun_resume_matches_from_next_epoch(lsun_dir):
    steps_per_epoch = RECORDS // BATCH
    full = training_data(config(data_dir=str(lsun_dir)), 0).dataset
    expected = take(full, 2 * steps_per_epoch + 2)
    start = steps_per_epoch + 2  # in the second epoch
    resumed = training_data(config(data_dir=str(lsun_dir)), start).dataset
    got = take(resumed, len(expected) - start)
    # Exact from the next epoch on (within the resumed epoch a truncated record may shift images).
    for (x, _), (y, _) in zip(expected[2 * steps_per_epoch:], got[steps_per_epoch - 2:]):
        np.testing.assert_array_equal(x, y)


def test_lsun_limit_and_grayscale(lsun_dir):
    data = training_data(config(data_dir=str(lsun_dir), limit=16, channels=1), 0)
    dataset, count = data.dataset, data.num_examples
    assert count == 16
    batches = take(dataset, 4)
    assert batches[0][0].shape == (BATCH, SIZE, SIZE, 1)
    # 16 records make 2 batches per epoch: epochs 1 and 2 hold the same 16 images (or 15 and a repeat).
    first = {b[0][i].tobytes() for b in batches[:2] for i in range(BATCH)}
    second = {b[0][i].tobytes() for b in batches[2:] for i in range(BATCH)}
    assert len(first | second) <= 16


def test_lsun_no_readable_image(tmp_path):
    bad = [b"not an image %d" % i for i in range(5)]
    write_lsun_lmdb(tmp_path / "bedroom_train_lmdb", 5, corrupt=0, values=bad)
    with pytest.raises(UserError, match="none of the first 5 records .* is a readable image"):
        training_data(config(data_dir=str(tmp_path)), 0)


def test_lsun_wrong_data_dir(tmp_path):
    with pytest.raises(UserError, match="is not a directory"):
        training_data(config(data_dir=str(tmp_path / "missing")), 0)
    with pytest.raises(UserError, match="no LSUN database in .*bedroom_train_lmdb"):
        training_data(config(data_dir=str(tmp_path)), 0)
    (tmp_path / "data.mdb").write_bytes(b"garbage" * 100)
    with pytest.raises(UserError, match="not a readable LMDB"):
        training_data(config(data_dir=str(tmp_path)), 0)


def test_lsun_fewer_records_than_a_batch(tmp_path):
    write_lsun_lmdb(tmp_path / "bedroom_train_lmdb", 4, corrupt=0, values=encoded_pictures(4, 64))
    with pytest.raises(UserError, match="fewer than one batch of 8"):
        training_data(config(data_dir=str(tmp_path)), 0)


def test_folder_batches(folder_dir):
    data = training_data(config(dataset="folder", data_dir=str(folder_dir), crop=108, channels=1), 0)
    assert data.num_examples == 24 and data.skipped() == 0
    batches = take(data.dataset, 24 // BATCH)
    images, labels = batches[0]
    assert images.shape == (BATCH, SIZE, SIZE, 1) and images.dtype == np.float32
    assert labels.shape == (BATCH, 0)
    assert -1.0 <= images.min() and images.max() <= 1.0
    assert 1 <= data.skipped() <= 2  # the damaged file (and maybe prefetch's next epoch)


def test_folder_rgb_pattern_and_errors(folder_dir, tmp_path):
    data = training_data(config(dataset="folder", data_dir=str(folder_dir), pattern="00001*.jpg"), 0)
    dataset, count = data.dataset, data.num_examples
    assert count == 10
    assert take(dataset, 1)[0][0].shape == (BATCH, SIZE, SIZE, 3)
    with pytest.raises(UserError, match="no files matching '\\*.png'"):
        training_data(config(dataset="folder", data_dir=str(folder_dir), pattern="*.png"), 0)
    with pytest.raises(UserError, match="is not a directory"):
        training_data(config(dataset="folder", data_dir=str(tmp_path / "missing")), 0)
    (tmp_path / "x.jpg").write_bytes(b"no jpeg")
    with pytest.raises(UserError, match="none of the first 1 files"):
        training_data(config(dataset="folder", data_dir=str(tmp_path)), 0)


def test_unconditional_mnist_has_empty_labels(mnist_dir):
    data = training_data(config(dataset="mnist", data_dir=str(mnist_dir), image_size=28, channels=1), 0)
    dataset, count = data.dataset, data.num_examples
    images, labels = take(dataset, 1)[0]
    assert count == 60000
    assert images.shape == (BATCH, 28, 28, 1) and labels.shape == (BATCH, 0)


def test_source_failing_mid_run_raises_instead_of_hanging(tmp_path, monkeypatch):
    import tensorflow as tf

    from dcgan_cli.datasets.lsun import LmdbReader

    write_lsun_lmdb(tmp_path / "bedroom_train_lmdb", 16, corrupt=0, values=encoded_pictures(16, 64))

    def disk_gone(self, keys):
        raise OSError("disk gone")

    monkeypatch.setattr(LmdbReader, "values", disk_gone)  # the start-up probe reads before this bites
    dataset = training_data(config(data_dir=str(tmp_path)), 0).dataset
    with pytest.raises(tf.errors.InvalidArgumentError, match="no record of a whole epoch"):
        next(iter(dataset))


def test_shrinking_averages_blocks_and_enlarging_interpolates():
    import tensorflow as tf

    from dcgan_cli.datasets.images import to_training_image

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (96, 128, 3)).astype(np.uint8)  # centre square: columns 16..111
    shrunk = to_training_image(tf.constant(image), 24).numpy()
    square = image[:, 16:112].astype(np.float64)
    blocks = square.reshape(24, 4, 24, 4, 3).mean(axis=(1, 3))  # the box filter: each 4x4 block's mean
    np.testing.assert_allclose(shrunk, blocks / 127.5 - 1.0, atol=1e-5)

    small = np.array([[0, 255], [255, 0]], np.uint8)[:, :, None]
    grown = to_training_image(tf.constant(small), 4).numpy()[:, :, 0]
    assert grown.min() >= -1 and grown.max() <= 1 and len(np.unique(np.round(grown, 4))) > 2  # not blocky


def test_folder_counts_each_image_once_whatever_links_the_tree_holds(folder_dir, tmp_path):
    """Symlinked files, symlinked folders, hard links, a link loop and a dangling link: 24 images stay 24."""
    import os
    import shutil

    from dcgan_cli.datasets.folder import list_images

    tree = tmp_path / "tree"
    shutil.copytree(folder_dir, tree)
    first = sorted((tree / "a").iterdir())[0]
    os.symlink(first, tree / "b" / "link-to-a-file.jpg")
    os.link(first, tree / "b" / "hard-link.jpg")
    os.symlink(tree / "a", tree / "link-to-a")
    os.symlink(tree, tree / "a" / "loop")  # a folder that contains itself
    os.symlink(tree / "nowhere.jpg", tree / "dangling.jpg")
    (tree / "outside").mkdir()
    os.symlink(tmp_path / "elsewhere", tree / "outside" / "missing-folder")
    paths = list_images(tree)
    assert len(paths) == 24
    assert len({os.path.realpath(p) for p in paths}) == 24
    assert not any("link" in p or "loop" in p for p in paths)  # real paths preferred over links
    assert training_data(config(dataset="folder", data_dir=str(tree), crop=108, channels=1), 0).num_examples == 24
