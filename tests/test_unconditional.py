"""Unconditional MNIST must not collapse: a real run's samples cover the digit classes (issue 16).

The same check fails with carpedm20's exact recipe (a 2x2 start, G's raw weights, a constant
learning rate), which collapses onto a few shapes: the slow tests show both, longer.
"""

import pytest

from conftest import run_cli

CARPEDM20 = ["--start-size", "carpedm20", "--ema", "0", "--lr-decay", "0"]
STEPS = 300
# Classes that must get at least a quarter of their real share of 2,000 samples (all of them).
MIN_COVERED = 10


def coverage(run, mnist_dir, tmp_path, capsys, num=2000):
    import json

    out = tmp_path / "coverage.json"
    code, _, err = run_cli(["evaluate", "--checkpoint", run, "--num", num, "--json", out, "--data-dir", mnist_dir], capsys)
    assert code == 0, err
    results = json.loads(out.read_text())
    shares = " ".join(f"{k}: {results[f'class_share_{k}']:.1%}" for k in range(10))
    return results, f"{results['classes_covered']} classes covered ({shares}), FID {results['fid']:.1f}"


def train(recipe, steps, mnist_dir, tmp_path, capsys):
    run = tmp_path / "run"
    code, _, err = run_cli(["train", "mnist", "--data-dir", mnist_dir, "--out", run, "--max-steps", steps,
                            "--checkpoint-every", steps, "--sample-every", steps] + recipe, capsys)
    assert code == 0, err
    return run


@pytest.mark.parametrize("recipe", [
    pytest.param([], id="default"),
    pytest.param(CARPEDM20, id="carpedm20", marks=[
        pytest.mark.slow, pytest.mark.xfail(strict=True, reason="carpedm20's unconditional recipe collapses")]),
])
def test_unconditional_mnist_covers_every_class(recipe, classifier, mnist_dir, tmp_path, capsys):
    run = train(recipe, STEPS, mnist_dir, tmp_path, capsys)
    results, summary = coverage(run, mnist_dir, tmp_path, capsys)
    assert results["classes_covered"] >= MIN_COVERED, summary
