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
