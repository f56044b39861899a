"""--ema: a moving average of G's weights samples and evaluates; training itself is unchanged."""

import json

import numpy as np
import pytest
import tensorflow as tf

from conftest import run_cli


def tiny_models():
    import keras

    def model():
        inputs = keras.Input((3,))
        return keras.Model(inputs, keras.layers.BatchNormalization()(keras.layers.Dense(2)(inputs)))

    return model(), model()


@pytest.mark.parametrize("fuse", [True, False], ids=["xla", "tensorflow"])
def test_weight_average_starts_as_a_copy_and_follows_with_warm_up(fuse):
    from dcgan_cli.train.ema import WeightAverage

    source, average = tiny_models()
    ema = WeightAverage(source, average, decay=0.5, fuse=fuse)
    for a, s in zip(average.weights, source.weights):
        np.testing.assert_array_equal(a.numpy(), s.numpy())

    kernel = source.weights[0]
    before = kernel.numpy().copy()
    kernel.assign(before + 1.0)
    # Tolerance: float32 rounding of terms of size ~1, which a result near zero cannot hide in rtol.
    ema.update(tf.constant(0, tf.int64))  # step 0: decay min(0.5, 1/10) = 0.1
    np.testing.assert_allclose(average.weights[0].numpy(), 0.1 * before + 0.9 * (before + 1.0), rtol=1e-6, atol=1e-6)
    kernel.assign(before + 2.0)
    ema.update(tf.constant(1000, tf.int64))  # later: the decay itself, 0.5
    np.testing.assert_allclose(average.weights[0].numpy(), 0.5 * (before + 0.9) + 0.5 * (before + 2.0),
                               rtol=1e-6, atol=1e-6)


def test_training_with_ema_samples_from_the_average(mnist_dir, tmp_path, capsys):
    from dcgan_cli.restore import load_run

    run = tmp_path / "run"
    args = ["train", "mnist", "--conditional", "--data-dir", mnist_dir, "--out", run, "--batch-size", 16,
            "--ema", 0.9, "--checkpoint-every", 20, "--sample-every", 20]
    code, _, err = run_cli(args + ["--max-steps", 20], capsys)
    assert code == 0, err
    assert json.loads((run / "config.json").read_text())["ema"] == 0.9

    loaded = load_run(run)
    sampler, step = loaded.generator, loaded.step
    assert step == 20
    raw = load_run(run, averaged=False).generator
    # `dcgan sample` gets the average, which is neither G's last weights nor its initial ones.
    moved = [not np.allclose(a.numpy(), r.numpy()) for a, r in zip(sampler.trainable_weights, raw.trainable_weights)]
    assert all(moved)

    code, _, err = run_cli(args + ["--max-steps", 30, "--resume"], capsys)
    assert code == 0, err
    code, _, err = run_cli(["sample", "--checkpoint", run, "--out", tmp_path / "g.png"], capsys)
    assert code == 0 and "at step 30" in err + _, err


def test_ema_out_of_range_is_a_one_line_error(tmp_path, capsys):
    code, _, err = run_cli(["train", "mnist", "--ema", 1.5, "--out", tmp_path / "run"], capsys)
    assert code == 2 and err.strip().startswith("error: --ema must be in [0, 1)"), err
    assert len(err.strip().splitlines()) == 1
