"""MNIST loading and the training pipeline: formats, search order, clear errors, deterministic batches."""

import gzip
import shutil

import numpy as np
import pytest

from dcgan_cli.datasets.mnist import IDX_FILES, load_mnist, training_batches
from dcgan_cli.errors import UserError


def test_reads_the_canonical_idx_files(mnist):
    assert mnist.train_images.shape == (60000, 28, 28, 1) and mnist.train_images.dtype == np.uint8
    assert mnist.test_images.shape == (10000, 28, 28, 1)
    assert sorted(np.unique(mnist.train_labels)) == list(range(10))


def test_raw_idx_and_npz_give_the_same_arrays(tmp_path, mnist_dir, mnist):
    raw = tmp_path / "raw"
    raw.mkdir()
    for stem in IDX_FILES.values():
        with gzip.open(mnist_dir / (stem + ".gz")) as src, open(raw / stem, "wb") as dst:
            shutil.copyfileobj(src, dst)
    again = load_mnist(raw)
    assert np.array_equal(again.train_images, mnist.train_images)
    npz = tmp_path / "npz"
    npz.mkdir()
    np.savez(npz / "mnist.npz", x_train=mnist.train_images[..., 0], y_train=mnist.train_labels,
             x_test=mnist.test_images[..., 0], y_test=mnist.test_labels)
    assert np.array_equal(load_mnist(npz).test_labels, mnist.test_labels)


def test_data_dir_may_be_the_parent_of_mnist(data_root, mnist):
    assert np.array_equal(load_mnist(data_root).train_labels[:100], mnist.train_labels[:100])


def test_env_var_then_keras_cache_then_download(tmp_path, monkeypatch, data_root):
    monkeypatch.setenv("DCGAN_DATA_DIR", str(data_root))
    assert load_mnist().train_images.shape[0] == 60000
    # Offline, with nothing anywhere: one line naming where it looked and what to do.
    monkeypatch.delenv("DCGAN_DATA_DIR")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("DCGAN_MNIST_URL", "http://127.0.0.1:9/mnist.npz")  # the discard port: refused
    with pytest.raises(UserError) as err:
        load_mnist()
    message = str(err.value)
    assert "\n" not in message and str(tmp_path / "keras") in message and "--data-dir" in message
    assert not list((tmp_path / "keras").rglob("mnist.npz"))  # nothing half-downloaded left as data


def test_truncated_and_missing_files_are_clear_errors(tmp_path, mnist_dir):
    for stem in IDX_FILES.values():
        shutil.copy(mnist_dir / (stem + ".gz"), tmp_path / (stem + ".gz"))
    data = (tmp_path / "train-labels-idx1-ubyte.gz").read_bytes()
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="truncated"):
        load_mnist(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(UserError, match="train-labels-idx1-ubyte"):
        load_mnist(tmp_path)
    with pytest.raises(UserError, match="not a directory"):
        load_mnist(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match="no MNIST"):
        load_mnist(empty)


def test_batches_are_scaled_one_hot_and_drop_the_remainder(mnist):
    images, labels = mnist.train_images[:100], mnist.train_labels[:100]
    batches = list(training_batches(images, labels, 32, seed=1).take(6))
    x, y = batches[0]
    assert x.shape == (32, 28, 28, 1) and y.shape == (32, 10)
    assert x.dtype == "float32" and float(x.numpy().min()) == -1.0 and float(x.numpy().max()) == 1.0
    assert np.allclose(y.numpy().sum(axis=1), 1.0)
    # 100 images make 3 full batches an epoch; each epoch visits 96 distinct images in a new order.
    def ids(batch):
        return [int(np.argmax(np.all(images[..., 0] == ((b[..., 0] + 1) * 127.5).round(), axis=(1, 2)))) for b in batch[0].numpy()]
    epoch1 = sum((ids(b) for b in batches[:3]), [])
    epoch2 = sum((ids(b) for b in batches[3:]), [])
    assert len(set(epoch1)) == 96 and len(set(epoch2)) == 96 and epoch1 != epoch2


def test_batches_are_a_function_of_seed_and_step(mnist):
    images, labels = mnist.train_images[:1000], mnist.train_labels[:1000]
    first = [b[0].numpy() for b in training_batches(images, labels, 64, seed=3).take(40)]
    resumed = [b[0].numpy() for b in training_batches(images, labels, 64, seed=3, start_step=33).take(7)]
    for a, b in zip(first[33:], resumed):
        assert np.array_equal(a, b)
    other_seed = next(iter(training_batches(images, labels, 64, seed=4)))[0].numpy()
    assert not np.array_equal(first[0], other_seed)
