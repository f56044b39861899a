"""Resume continues exactly where the run stopped: same weights as an uninterrupted run."""

import numpy as np

from conftest import run_cli


def weights(run, prefix=None):
    from dcgan_cli.restore import load_run

    loaded = load_run(prefix or run, averaged=False, discriminator=True)
    return [v.numpy() for v in loaded.generator.weights + loaded.discriminator.weights]


def test_resume_matches_uninterrupted_run(tmp_path, mnist_dir, capsys):
    common = ["train", "mnist", "--conditional", "--data-dir", mnist_dir, "--batch-size", "16",
              "--sample-every", "10", "--checkpoint-every", "10", "--log-every", "5", "--seed", "7"]
    code, _, err = run_cli(common + ["--out", tmp_path / "straight", "--max-steps", "40"], capsys)
    assert code == 0, err
    code, _, err = run_cli(common + ["--out", tmp_path / "split", "--max-steps", "20"], capsys)
    assert code == 0, err
    code, _, err = run_cli(common + ["--out", tmp_path / "split", "--max-steps", "40", "--resume"], capsys)
    assert code == 0, err
    assert "resuming" in err and "ckpt-20" in err

    straight, split = weights(tmp_path / "straight"), weights(tmp_path / "split")
    # Same ops in the same order on the same inputs: float32 rounding is the only possible difference.
    for a, b in zip(straight, split):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # Nothing of the first half was lost: every sample grid exists, and the checkpoint series continued.
    samples = sorted(p.name for p in (tmp_path / "split" / "samples").glob("step_*.png"))
    assert samples == [f"step_{s:06d}.png" for s in (0, 10, 20, 30, 40)]
    assert sorted(p.name for p in (tmp_path / "split" / "ckpt").glob("*.index")) == \
        ["ckpt-20.index", "ckpt-30.index", "ckpt-40.index"]


def test_resume_may_change_the_optimizer_and_history_records_it(tmp_path, tiny_images, capsys):
    """The advice after a NaN, `--resume --lr LOWER`, works: the new base rate takes over at the step
    the run resumed from, --lr-decay's schedule continues from it, and history.jsonl says so."""
    import json

    import tensorflow as tf

    from conftest import tiny_train
    from dcgan_cli import history

    run = tmp_path / "run"

    def learning_rate(step):
        return tf.train.load_variable(str(run / "ckpt" / f"ckpt-{step}"), "g_optimizer/_learning_rate/.ATTRIBUTES/VARIABLE_VALUE")

    code, _, err = run_cli(tiny_train(tiny_images, run, "--epochs", "4", "--max-steps", "10", "--lr-decay", "0"), capsys)
    assert code == 0, err
    assert np.isclose(learning_rate(10), 2e-4)
    code, _, err = run_cli(tiny_train(tiny_images, run, "--resume", "--lr", "1e-4", "--beta1", "0.7", "--max-steps", "15"), capsys)
    assert code == 0, err
    assert np.isclose(learning_rate(15), 1e-4)
    # 4 epochs of 5 steps, the last half annealed: at step 19 the rate is 1e-4 * (20 - 19) / 10.
    code, _, err = run_cli(tiny_train(tiny_images, run, "--resume", "--lr-decay", "0.5", "--max-steps", "20"), capsys)
    assert code == 0, err
    assert np.isclose(learning_rate(20), 1e-5)
    assert json.loads((run / "config.json").read_text())["beta1"] == 0.7
    records = history.read(run)
    assert [(r["event"], r["step"], r["changed"]) for r in records] == [
        ("start", 0, {}),
        ("resume", 10, {"lr": [2e-4, 1e-4], "beta1": [0.5, 0.7], "max_steps": [10, 15]}),
        ("resume", 15, {"lr_decay": [0.0, 0.5], "max_steps": [15, 20]}),
    ]
