"""Shared fixtures. Real MNIST comes from $DCGAN_DATA_DIR/mnist (.ci/run points it at ../shared/datasets)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


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
