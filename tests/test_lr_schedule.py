"""--lr-decay: constant learning rates, then a linear fall to zero over the end of --epochs; --g-lr and --d-lr."""

import numpy as np
import pytest
import tensorflow as tf

from conftest import run_cli
from dcgan_cli.train.lr_schedule import learning_rate_at


def rates(steps, decay_fraction, schedule_steps, base_lr=2e-4):
    return np.array([float(learning_rate_at(s, base_lr, decay_fraction, schedule_steps)) for s in steps])


def test_constant_then_linear_to_zero_at_the_end():
    # 100 steps, the last 20% decaying: full rate through step 80, then 20 equal steps down.
    np.testing.assert_allclose(rates([0, 50, 80], 0.2, 100), 2e-4)
    np.testing.assert_allclose(rates([81, 90, 99, 100, 150], 0.2, 100), [1.9e-4, 1e-4, 1e-5, 0, 0], atol=1e-10)
    np.testing.assert_allclose(rates(range(0, 100, 10), 1.0, 100), 2e-4 * (1 - np.arange(0, 100, 10) / 100), rtol=1e-6)


def test_no_decay_or_no_known_length_keeps_the_rate():
    np.testing.assert_allclose(rates([0, 99, 100, 10**6], 0.0, 100), 2e-4)
    np.testing.assert_allclose(rates([0, 99, 10**6], 0.2, 0), 2e-4)  # schedule length not set (bench)


def saved_rates(checkpoint) -> tuple[float, float]:
    """G's and D's learning rates as a checkpoint holds them."""
    reader = tf.train.load_checkpoint(str(checkpoint))
    return tuple(float(reader.get_tensor(f"{opt}/_learning_rate/.ATTRIBUTES/VARIABLE_VALUE"))
                 for opt in ("g_optimizer", "d_optimizer"))


def test_trainer_follows_the_schedule_over_epochs_not_max_steps(mnist_dir, tmp_path):
    from dcgan_cli.config import Config
    from dcgan_cli.train.trainer import train

    # 640 images at batch 64: 10 steps per epoch, a 20-step schedule whose last 10 steps decay.
    config = Config(data_dir=str(mnist_dir), limit=640, batch_size=64, epochs=2, lr_decay=0.5,
                    checkpoint_every=5, sample_every=100, keep=10, log_every=5)
    train(config, tmp_path / "run", log=lambda _: None)

    def saved_rate(step):
        g, d = saved_rates(tmp_path / "run" / "ckpt" / f"ckpt-{step}")
        assert g == d
        return g

    # The rate saved at step N is the one step N-1's update used.
    assert saved_rate(10) == pytest.approx(2e-4)
    assert saved_rate(15) == pytest.approx(2e-4 * 6 / 10)
    assert saved_rate(20) == pytest.approx(2e-4 * 1 / 10)

    # --max-steps stops early without shortening the schedule: the rate is still full at step 10.
    stopped = Config(data_dir=str(mnist_dir), limit=640, batch_size=64, epochs=2, lr_decay=0.5, max_steps=10,
                     sample_every=100, log_every=5)
    train(stopped, tmp_path / "stopped", log=lambda _: None)
    assert saved_rates(tmp_path / "stopped" / "ckpt")[0] == pytest.approx(2e-4)


def test_each_player_follows_its_own_rate_and_a_resume_may_change_one(tiny_images, tmp_path, capsys):
    from conftest import tiny_train
    from dcgan_cli.config import Config

    # 5 steps per epoch, a 20-step schedule whose last 10 steps decay; G at InfoGAN's 1e-3, D at --lr's 2e-4.
    run = tmp_path / "run"
    args = ["--epochs", 4, "--lr-decay", 0.5, "--g-lr", 1e-3, "--checkpoint-every", 5, "--sample-every", 100, "--keep", 10]
    code, _, err = run_cli(tiny_train(tiny_images, run, *args, "--max-steps", 15), capsys)
    assert code == 0, err
    np.testing.assert_allclose(saved_rates(run / "ckpt" / "ckpt-10"), (1e-3, 2e-4), rtol=1e-6)
    np.testing.assert_allclose(saved_rates(run / "ckpt" / "ckpt-15"), (1e-3 * 6 / 10, 2e-4 * 6 / 10), rtol=1e-6)

    # A resume that gives D its own rate: both schedules go on from step 15, G's rate untouched.
    code, _, err = run_cli(tiny_train(tiny_images, run, *args, "--resume", "--d-lr", 5e-5, "--max-steps", 20), capsys)
    assert code == 0, err
    np.testing.assert_allclose(saved_rates(run / "ckpt" / "ckpt-20"), (1e-3 / 10, 5e-5 / 10), rtol=1e-6)
    saved = Config.load(run)
    assert (saved.lr, saved.g_lr, saved.d_lr, saved.learning_rates) == (2e-4, 1e-3, 5e-5, (1e-3, 5e-5))
    assert Config().learning_rates == (2e-4, 2e-4)


@pytest.mark.parametrize("option", ["--lr", "--g-lr", "--d-lr"])
def test_a_rate_that_is_not_positive_is_a_one_line_error(tmp_path, capsys, option):
    code, _, err = run_cli(["train", "mnist", option, 0, "--out", tmp_path / "run"], capsys)
    assert code == 2 and err.strip() == f"error: {option} must be positive, got 0.0", err
    assert not (tmp_path / "run").exists()


def test_lr_decay_out_of_range_is_a_one_line_error(tmp_path, capsys):
    code, _, err = run_cli(["train", "mnist", "--lr-decay", 1.5, "--out", tmp_path / "run"], capsys)
    assert code == 2 and err.strip().startswith("error: --lr-decay must be in [0, 1]"), err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_runs_from_before_lr_decay_resume_with_a_constant_rate():
    from dcgan_cli.config import Config

    assert Config.from_dict({"model": "mnist-conditional"}).lr_decay == 0.0
    assert Config().lr_decay == 0.2
