"""--lr-decay: constant learning rates, then a linear fall to zero over the end of --epochs."""

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


def test_trainer_follows_the_schedule_over_epochs_not_max_steps(mnist_dir, tmp_path):
    from dcgan_cli.config import Config
    from dcgan_cli.train.trainer import train

    # 640 images at batch 64: 10 steps per epoch, a 20-step schedule whose last 10 steps decay.
    config = Config(data_dir=str(mnist_dir), limit=640, batch_size=64, epochs=2, lr_decay=0.5,
                    checkpoint_every=5, sample_every=100, keep=10, log_every=5)
    train(config, tmp_path / "run", log=lambda _: None)

    def saved_rate(step):
        reader = tf.train.load_checkpoint(str(tmp_path / "run" / "ckpt" / f"ckpt-{step}"))
        g, d = (float(reader.get_tensor(f"{opt}/_learning_rate/.ATTRIBUTES/VARIABLE_VALUE"))
                for opt in ("g_optimizer", "d_optimizer"))
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
    reader = tf.train.load_checkpoint(str(tmp_path / "stopped" / "ckpt"))
    assert float(reader.get_tensor("g_optimizer/_learning_rate/.ATTRIBUTES/VARIABLE_VALUE")) == pytest.approx(2e-4)


def test_lr_decay_out_of_range_is_a_one_line_error(tmp_path, capsys):
    code, _, err = run_cli(["train", "mnist", "--lr-decay", 1.5, "--out", tmp_path / "run"], capsys)
    assert code == 2 and err.strip().startswith("error: --lr-decay must be in [0, 1]"), err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_runs_from_before_lr_decay_resume_with_a_constant_rate():
    from dcgan_cli.config import Config

    assert Config.from_dict({"model": "mnist-conditional"}).lr_decay == 0.0
    assert Config().lr_decay == 0.2
