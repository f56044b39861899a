"""Fashion-MNIST and CIFAR-10 read from small files written in each publisher's format; `dcgan train` on them."""

import gzip
import json
import pickle

import numpy as np
import pytest

from conftest import run_cli
from dcgan_cli.datasets.cifar10 import load_cifar10
from dcgan_cli.datasets.fashion_mnist import load_fashion_mnist
from dcgan_cli.datasets.testdata import cifar10_batch, labelled_arrays, write_cifar10, write_idx_dataset
from dcgan_cli.errors import UserError
from test_cli_errors import assert_one_line_error


@pytest.mark.parametrize("gz", [True, False])
def test_fashion_mnist_is_read_by_mnists_reader(tmp_path, gz):
    write_idx_dataset(tmp_path / "fashion-mnist", train=120, test=30, gz=gz)
    data = load_fashion_mnist(tmp_path)  # --data-dir may be the parent of fashion-mnist/
    images, labels = labelled_arrays(120, 28, 1)
    assert np.array_equal(data.train_images, images) and np.array_equal(data.train_labels, labels)
    assert data.test_images.shape == (30, 28, 28, 1) and data.test_images.dtype == np.uint8


def test_fashion_mnist_errors_name_fashion_mnist(tmp_path):
    folder = write_idx_dataset(tmp_path / "f", train=20, test=10)
    path = folder / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:-3]))
    with pytest.raises(UserError, match="truncated.*download Fashion-MNIST again"):
        load_fashion_mnist(folder)
    with pytest.raises(UserError, match="no Fashion-MNIST in --data-dir"):
        load_fashion_mnist(tmp_path)


def test_cifar10_pixels_are_the_red_then_green_then_blue_planes(tmp_path):
    data = np.zeros((10, 3072), np.uint8)
    data[:, :1024], data[:, 1024:2048], data[:, 2048:] = 10, 20, 30
    data[3, 1 * 32 + 2] = 200  # red, row 1, column 2, of image 3
    data[3, 2048 + 31 * 32 + 0] = 250  # blue, row 31, column 0
    folder = write_cifar10(tmp_path, per_batch=10, archive=False)
    # The test batch, written exactly as the publisher's layout says (not by the inverse of our reader).
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": data, b"labels": list(range(10))}, protocol=2))
    test = load_cifar10(tmp_path).test_images
    assert test.shape == (10, 32, 32, 3)
    assert tuple(test[0, 5, 5]) == (10, 20, 30)
    assert test[3, 1, 2, 0] == 200 and test[3, 31, 0, 2] == 250 and test[3, 1, 2, 1] == 20


def test_cifar10_archive_and_folder_read_alike(tmp_path):
    archive = write_cifar10(tmp_path / "a", per_batch=12)
    folder = write_cifar10(tmp_path / "b", per_batch=12, archive=False)
    a, b = load_cifar10(archive.parent), load_cifar10(folder)
    assert a.train_images.shape == (60, 32, 32, 3) and a.train_labels.shape == (60,)
    assert np.array_equal(a.train_images, b.train_images) and np.array_equal(a.test_labels, b.test_labels)
    images, labels = labelled_arrays(12, 32, 3, seed=0)  # data_batch_1 comes first
    assert np.array_equal(a.train_images[:12], images) and np.array_equal(a.train_labels[:12], labels)


class Payload:
    def __reduce__(self):
        import os

        return os.system, ("touch PWNED",)


def test_cifar10_refuses_pickles_that_would_run_code_and_damaged_batches(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = write_cifar10(tmp_path, per_batch=10, archive=False)
    (folder / "data_batch_2").write_bytes(pickle.dumps({b"data": Payload(), b"labels": []}))
    with pytest.raises(UserError, match="data_batch_2 is not a CIFAR-10 batch.*os.*system"):
        load_cifar10(folder)
    assert not (tmp_path / "PWNED").exists()
    images, labels = labelled_arrays(10, 32, 3)
    (folder / "data_batch_2").write_bytes(cifar10_batch(images, labels, "x")[:-40])
    with pytest.raises(UserError, match="data_batch_2 is not a CIFAR-10 batch"):
        load_cifar10(folder)
    (folder / "data_batch_2").write_bytes(pickle.dumps({b"data": np.zeros((10, 100), np.uint8), b"labels": [0] * 10}))
    with pytest.raises(UserError, match="N x 3072"):
        load_cifar10(folder)
    (folder / "data_batch_2").unlink()
    with pytest.raises(UserError, match="no data_batch_2"):
        load_cifar10(folder)


@pytest.mark.parametrize("dataset, shape", [("fashion-mnist", [28, 28, 1]), ("cifar10", [32, 32, 3])])
def test_train_sample_and_evaluate_fashion_mnist_and_cifar10(dataset, shape, tmp_path, capsys, monkeypatch):
    if dataset == "cifar10":
        write_cifar10(tmp_path / "data", per_batch=20)
    else:
        write_idx_dataset(tmp_path / "data", train=100, test=20)
    run = tmp_path / "run"
    size = [] if dataset == "fashion-mnist" else ["--width", 8]  # at 28x28 the conditional model is carpedm20's, width 64
    code, _, err = run_cli(["train", dataset, "--conditional", "--data-dir", tmp_path / "data", "--out", run, *size,
                            "--batch-size", 16, "--max-steps", 6, "--log-every", 3, "--sample-every", 6,
                            "--checkpoint-every", 6], capsys)
    assert code == 0, err
    config = json.loads((run / "config.json").read_text())
    assert config["dataset"] == dataset and [config["image_size"], config["image_size"], config["channels"]] == shape
    assert (run / "ckpt" / "ckpt-6.index").exists()
    code, _, err = run_cli(["sample", "--checkpoint", run, "--num", 4, "--out", tmp_path / "s.npz"], capsys)
    assert code == 0, err
    assert list(np.load(tmp_path / "s.npz")["images"].shape) == [4, *shape]

    # `dcgan evaluate`: Fashion-MNIST is measured with its own classifier, trained on first use as MNIST's
    # is; CIFAR-10 has none, and the report says so in one line instead of leaving the numbers out.
    monkeypatch.setenv("DCGAN_CACHE_DIR", str(tmp_path / "cache"))
    code, stdout, err = run_cli(["evaluate", "--checkpoint", run, "--num", 40, "--json", tmp_path / "e.json"], capsys)
    assert code == 0, err
    results = json.loads((tmp_path / "e.json").read_text())
    if dataset == "fashion-mnist":
        assert "training the Fashion-MNIST classifier" in err and (tmp_path / "cache" / "classifier-fashion-mnist").is_dir()
        assert "Fashion-MNIST classifier" in results["feature_space"] and "missing" not in results
        assert 0 <= results["label_accuracy"] <= 1 and "classes_covered" in results and "real_label_accuracy" in results
        assert not (tmp_path / "cache" / "classifier").exists()  # MNIST's classifier is not involved
        code, _, err = run_cli(["evaluate", "--checkpoint", run, "--num", 40, "--classifier", "mnist"], capsys)
        assert_one_line_error(code, err, "fashion-mnist runs are measured with the Fashion-MNIST classifier")
    else:
        assert "label_accuracy" not in results and "classes_covered" not in results
        note = ("no label accuracy or class coverage: dcgan has classifiers only for MNIST and Fashion-MNIST "
                "(28x28x1), none for cifar10 32x32x3 images")
        assert results["missing"] == note and stdout.count(note) == 1


def test_too_few_images_for_a_batch_is_one_line(tmp_path, capsys):
    write_idx_dataset(tmp_path / "data", train=10, test=10)
    code, _, err = run_cli(["train", "fashion-mnist", "--data-dir", tmp_path / "data", "--out", tmp_path / "run"], capsys)
    assert_one_line_error(code, err, "--batch-size")
    assert not (tmp_path / "run").exists()


def test_train_classifier_for_fashion_mnist(tmp_path, monkeypatch, capsys):
    """Trained as MNIST's is, on generated IDX files (no Fashion-MNIST copy here), cached apart from MNIST's."""
    write_idx_dataset(tmp_path / "data", train=640, test=200)
    monkeypatch.setenv("DCGAN_CACHE_DIR", str(tmp_path / "cache"))
    args = ["train-classifier", "--dataset", "fashion-mnist", "--data-dir", tmp_path / "data"]
    code, out, err = run_cli(args, capsys)
    assert code == 0, err
    assert "training the Fashion-MNIST classifier (3 epochs on the 640 training images)" in err
    accuracy = float(out.split("classifier: ")[1].split("%")[0]) / 100
    assert accuracy > 0.9, out  # the generated classes are easy: a classifier that learns gets them
    info = json.loads((tmp_path / "cache" / "classifier-fashion-mnist" / "classifier.json").read_text())
    assert info["dataset"] == "fashion-mnist" and info["test_accuracy"] == pytest.approx(accuracy, abs=1e-4)
    assert not (tmp_path / "cache" / "classifier").exists()  # MNIST's cache is untouched
    code, again, err = run_cli(args, capsys)  # cached: loaded, not trained again
    assert code == 0 and "training" not in err and again == out
