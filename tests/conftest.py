"""Shared fixtures. Real MNIST comes from $DCGAN_DATA_DIR/mnist (.ci/run points it at ../shared/datasets)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

# As `dcgan` itself sets them (cli.set_tensorflow_defaults), before anything imports TensorFlow.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = os.environ.get("DCGAN_DATA_DIR")
    if not root or not (Path(root) / "mnist").is_dir():
        pytest.skip("set DCGAN_DATA_DIR to a folder holding mnist/ with the MNIST IDX files (.ci/run does)")
    return Path(root)


@pytest.fixture(scope="session")
def mnist_dir(data_root) -> Path:
    return data_root / "mnist"


@pytest.fixture(scope="session")
def mnist(mnist_dir):
    from dcgan_cli.datasets.mnist import load_mnist

    return load_mnist(mnist_dir)


def run_cli(args, capsys=None):
    """Run `dcgan ARGS` in this process; return (exit code, stdout, stderr)."""
    from dcgan_cli.cli import main

    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr() if capsys else ("", "")
    return code, out, err


def weight_change(run: Path, first: int, last: int) -> dict[str, float]:
    """Each player's trainable weights' relative change between checkpoints ckpt-FIRST and ckpt-LAST of RUN.

    Whether a player learned, read from what its optimizer stepped: unlike its logged loss, which sits near
    log 2 early in a balanced game and moves there by less than float noise on some CPUs."""
    import tensorflow as tf

    before, after = (tf.train.load_checkpoint(str(run / "ckpt" / f"ckpt-{step}")) for step in (first, last))
    change = {}
    for player in ("g", "d"):
        prefix = f"{player}_optimizer/_trainable_variables/"
        names = [name for name in before.get_variable_to_shape_map() if name.startswith(prefix)]
        assert names, f"no {player} weights in {run}"
        moved = sum(float(np.sum((after.get_tensor(n) - before.get_tensor(n)) ** 2)) for n in names)
        size = sum(float(np.sum(before.get_tensor(n) ** 2)) for n in names)
        change[player] = (moved / size) ** 0.5
    return change


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, mnist_dir):
    """A real conditional MNIST run, shared by the tests that only read it."""
    from dcgan_cli.cli import main

    run = tmp_path_factory.mktemp("runs") / "mnist-conditional"
    try:
        main(["train", "mnist", "--conditional", "--data-dir", str(mnist_dir), "--out", str(run),
              "--max-steps", "300", "--batch-size", "32", "--sample-every", "100", "--checkpoint-every", "100",
              "--log-every", "50"])
    except SystemExit as exc:
        assert exc.code == 0, f"training exited with {exc.code}"
    return run


@pytest.fixture(scope="session")
def infogan_run(tmp_path_factory, mnist_dir):
    """A real 50-step InfoGAN MNIST run (the paper's setting), shared by the tests that only read it:
    (run folder, its config.json, its logged scalars)."""
    run = tmp_path_factory.mktemp("runs") / "mnist-infogan"
    config, scalars = train_family_on_mnist("infogan", mnist_dir, run, None)
    return run, config, scalars


# --- The MNIST classifier that `dcgan evaluate` measures with ------------------------------------

@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dcgan-cache")
    saved = _with_cache_dir(folder)
    yield folder
    _restore_cache_dir(saved)


def _with_cache_dir(folder):
    saved = os.environ.get("DCGAN_CACHE_DIR")
    os.environ["DCGAN_CACHE_DIR"] = str(folder)
    return saved


def _restore_cache_dir(saved):
    if saved is None:
        os.environ.pop("DCGAN_CACHE_DIR", None)
    else:
        os.environ["DCGAN_CACHE_DIR"] = saved


@pytest.fixture(scope="session")
def classifier(cache_dir, mnist_dir, mnist):
    """A quick stand-in classifier written into the cache exactly as load_or_train_classifier would."""
    import keras

    from dcgan_cli.eval import classifier as clf
    from dcgan_cli.pixels import to_model_range

    keras.utils.set_random_seed(0)
    model = clf.build_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(to_model_range(mnist.train_images[:6000]), mnist.train_labels[:6000].astype(np.int32),
              batch_size=128, epochs=1, verbose=0)
    _, accuracy = model.evaluate(to_model_range(mnist.test_images), mnist.test_labels.astype(np.int32),
                                 batch_size=1000, verbose=0)
    info = {"version": clf.VERSION, "test_accuracy": float(accuracy), "mnist_sha256": clf.mnist_digest(mnist),
            "mnist_source": str(mnist_dir), "note": "test stand-in: 1 epoch on 6k images"}
    clf._write_atomically(clf.cache_dir(), model, info)
    return clf.load_or_train_classifier(mnist_dir)


# --- Real `dcgan` processes on the smallest real configuration ------------------------------------

# The paper's architecture at 32x32 and width 8 on a generated folder: a real run whose steps take
# milliseconds, so tests of faults spend their time on the fault, not on training.
TINY = ["--image-size", "32", "--width", "8", "--crop", "0", "--batch-size", "8", "--log-every", "5"]


@pytest.fixture(scope="session")
def tiny_images(tmp_path_factory) -> Path:
    from dcgan_cli.datasets.testdata import write_image_folder

    return write_image_folder(tmp_path_factory.mktemp("tiny") / "images", 40, short_side=48, corrupt=0)


def tiny_train(images, out, *args) -> list[str]:
    """`dcgan train folder` arguments for the tiny configuration (training for good unless args stop it)."""
    return ["train", "folder", "--data-dir", str(images), "--out", str(out), *TINY, *map(str, args)]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_images) -> Path:
    """A tiny run with checkpoints at steps 10 and 20, for tests that copy it and damage the copy."""
    from dcgan_cli.cli import main

    run = tmp_path_factory.mktemp("tiny-run") / "run"
    try:
        main(tiny_train(tiny_images, run, "--max-steps", "20", "--checkpoint-every", "10", "--sample-every", "100"))
    except SystemExit as exc:
        assert exc.code == 0, f"training exited with {exc.code}"
    return run


class Dcgan:
    """A `dcgan` subprocess (fresh TensorFlow) whose stderr and stdout go to a file the test polls."""

    def __init__(self, args, log: Path, env: dict | None = None, preexec_fn=None):
        import subprocess
        import sys

        self.log_path = Path(log)
        self._log = open(self.log_path, "w")
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1", **(env or {})}
        self.proc = subprocess.Popen([sys.executable, "-m", "dcgan_cli", *map(str, args)], stdout=self._log,
                                     stderr=subprocess.STDOUT, env=env, preexec_fn=preexec_fn)
        self.pid = self.proc.pid

    @property
    def log(self) -> str:
        return self.log_path.read_text()

    def wait_for(self, text: str, timeout: float = 300) -> None:
        """Until `text` appears in the output; fails if the process ends first. No fixed sleeps."""
        import time

        deadline = time.time() + timeout
        while text not in self.log:
            assert self.proc.poll() is None, f"exited {self.proc.returncode} before {text!r}:\n{self.log[-3000:]}"
            assert time.time() < deadline, f"no {text!r} after {timeout} s:\n{self.log[-3000:]}"
            time.sleep(0.05)

    def signal(self, signum) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout: float = 300) -> int:
        code = self.proc.wait(timeout=timeout)
        self._log.close()
        return code

    def last_line(self) -> str:
        return [line for line in self.log.splitlines() if line.strip()][-1]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


@pytest.fixture
def processes():
    """Start `Dcgan` processes through this; any still running at the end of the test are killed."""
    started = []

    def start(*args, **kwargs) -> Dcgan:
        started.append(Dcgan(*args, **kwargs))
        return started[-1]

    yield start
    for process in started:
        process.kill()


def train_family_on_mnist(family: str, mnist_dir, run: Path, capsys, steps: int = 50):
    """`dcgan train mnist --family FAMILY`, batch 32, logging every 10 steps; (config.json, its scalars by name)."""
    import json

    from dcgan_cli.viz.plots import read_scalars

    code, _, err = run_cli(["train", "mnist", "--family", family, "--data-dir", mnist_dir, "--out", run,
                            "--batch-size", 32, "--max-steps", steps, "--log-every", 10, "--checkpoint-every", steps,
                            "--sample-every", steps], capsys)
    assert code == 0, err
    return json.loads((run / "config.json").read_text()), read_scalars(run / "logs")
