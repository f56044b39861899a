"""Salimans et al. 2016's stabilisers: one-sided label smoothing, feature matching, minibatch discrimination,
historical averaging and noise in D (--d-noise). Their formulas against hand-computed values, 30 steps of each on real MNIST,
every family, two replicas against one device, and a run with minibatch discrimination sampled and
exported from its checkpoint alone (bit-exact resume: test_objectives.py; refusals: test_recipes.py). This file doubles as the two-replica
subprocess's script."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli, tiny_train, weight_change

HERE = Path(__file__).resolve()


# --- the formulas --------------------------------------------------------------------------------

def test_one_sided_label_smoothing_lowers_only_the_real_target():
    from dcgan_cli.train.losses import LOSSES, with_label_smoothing

    real, fake = np.array([2.0, -1.0], "float32"), np.array([0.5, -3.0], "float32")

    def bce(logit, target):  # -(t log s + (1 - t) log(1 - s)), s = sigmoid(logit)
        s = 1 / (1 + math.exp(-logit))
        return -(target * math.log(s) + (1 - target) * math.log(1 - s))

    for name in ("non_saturating", "minimax"):
        loss = with_label_smoothing(LOSSES[name], 0.9)
        on_real, on_fake = loss.discriminator(real, fake)
        np.testing.assert_allclose(on_real, [bce(2.0, 0.9), bce(-1.0, 0.9)], rtol=1e-5)
        np.testing.assert_allclose(on_fake, [bce(0.5, 0.0), bce(-3.0, 0.0)], rtol=1e-5)  # fakes' target stays 0
        np.testing.assert_allclose(loss.generator(fake), LOSSES[name].generator(fake))  # G's loss is unchanged
    on_real, on_fake = with_label_smoothing(LOSSES["least_squares"], 0.9).discriminator(real, fake)
    np.testing.assert_allclose(on_real, [0.5 * 1.1 ** 2, 0.5 * 1.9 ** 2], rtol=1e-5)  # LSGAN's real target b = 0.9
    np.testing.assert_allclose(on_fake, [0.5 * 0.25, 0.5 * 9.0], rtol=1e-5)
    assert with_label_smoothing(LOSSES["hinge"], 1.0) is LOSSES["hinge"]  # 1: no smoothing, any loss
    for name in ("hinge", "wasserstein"):
        with pytest.raises(ValueError, match="no target"):
            with_label_smoothing(LOSSES[name], 0.9)


def test_feature_matching_is_the_squared_distance_of_the_batch_means():
    import tensorflow as tf

    from dcgan_cli.train.stabilisers import feature_matching

    fake = tf.Variable([[1.0, 2.0, 0.0], [3.0, 4.0, 0.0]])  # batch mean (2, 3, 0)
    real_mean = tf.constant([0.0, 1.0, 0.5])
    with tf.GradientTape() as tape:
        value = feature_matching(real_mean, fake, global_batch=2)
    assert np.isclose(float(value), 2 ** 2 + 2 ** 2 + 0.5 ** 2)
    # d/d f_i = 2 (mean_fake - mean_real) / batch, for each example i
    np.testing.assert_allclose(tape.gradient(value, fake), [[2.0, 2.0, -0.5]] * 2, rtol=1e-6)


def test_minibatch_discrimination_layer_on_a_hand_computed_batch():
    from dcgan_cli.models.layers import MinibatchDiscrimination

    x = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]], "float32")
    e = math.exp
    # One kernel of two dimensions, T the identity: M_i = x_i, L1 distances 1 (0-1), 2 (0-2), 3 (1-2).
    layer = MinibatchDiscrimination(kernels=1, dims=2)
    layer.build(x.shape)
    layer.tensor.assign(np.eye(2, dtype="float32"))
    np.testing.assert_allclose(layer(x), [[1 + e(-1) + e(-2)], [e(-1) + 1 + e(-3)], [e(-2) + e(-3) + 1]], rtol=1e-6)
    # Two kernels of one dimension each: every column of x compared on its own.
    layer = MinibatchDiscrimination(kernels=2, dims=1)
    layer.build(x.shape)
    layer.tensor.assign(np.eye(2, dtype="float32"))
    np.testing.assert_allclose(layer(x), [[2 + e(-1), 2 + e(-2)], [1 + 2 * e(-1), 2 + e(-2)], [2 + e(-1), 1 + 2 * e(-2)]],
                               rtol=1e-6)


def test_historical_averaging_penalty_after_two_known_updates():
    import tensorflow as tf

    from dcgan_cli.train.stabilisers import HistoricalAverage

    theta = tf.Variable([1.0, 2.0])
    history = HistoricalAverage([theta], weight=0.5, name="h")
    assert float(history.penalty()) == 0.0  # no past yet
    history.fold()  # update 1 starts from (1, 2) ...
    theta.assign([3.0, 0.0])  # ... and ends at (3, 0)
    assert np.isclose(float(history.penalty()), 0.5 * (2 ** 2 + 2 ** 2))  # the mean of the past: (1, 2)
    history.fold()
    theta.assign([2.0, 5.0])  # update 2
    with tf.GradientTape() as tape:
        value = history.penalty()
    assert np.isclose(float(value), 0.5 * (0 ** 2 + 4 ** 2))  # the mean of (1, 2) and (3, 0): (2, 1)
    np.testing.assert_allclose(tape.gradient(value, theta), [0.0, 4.0])  # 2 * 0.5 * (theta - mean)
    assert float(history.count) == 2.0


# --- training on real MNIST --------------------------------------------------------------------

STABILISERS = {
    "label_smoothing": (["--label-smoothing", "0.9"], "d_loss_real"),
    "feature_matching": (["--g-objective", "feature_matching"], "g_feature_matching"),
    "feature_matching_and_adversarial": (["--g-objective", "both"], "g_feature_matching"),
    "minibatch_discrimination": (["--minibatch-discrimination"], "d_loss"),
    "historical_averaging": (["--historical-averaging", "0.1"], "d_hist_avg"),
}


def train_and_read(tmp_path, mnist_dir, capsys, args, steps=30, family=("--conditional",)):
    from dcgan_cli.viz.plots import read_scalars

    run = tmp_path / "run"
    code, _, err = run_cli(["train", "mnist", *family, "--data-dir", mnist_dir, "--out", run, "--batch-size", "16",
                            "--max-steps", steps, "--log-every", steps // 3, "--sample-every", "1000",
                            "--checkpoint-every", steps // 3, *args], capsys)
    assert code == 0, err
    assert "NaN" not in err
    # Both players learned (their weights, not their losses, which can sit still near log 2: test_objectives).
    change = weight_change(run, steps // 3, steps)
    assert min(change.values()) > 1e-3, change
    return run, read_scalars(run / "logs"), err


def check_moved(scalars, tag, steps):
    logged, values = scalars[tag]
    assert list(logged) == [steps // 3, 2 * (steps // 3), 3 * (steps // 3)], tag
    assert np.isfinite(values).all() and np.ptp(values) > 0, (tag, values)


@pytest.mark.parametrize("name", list(STABILISERS))
def test_each_stabiliser_trains_30_steps_and_moves_its_metric(tmp_path, mnist_dir, capsys, name):
    args, metric = STABILISERS[name]
    run, scalars, err = train_and_read(tmp_path, mnist_dir, capsys, args)
    for tag in ("d_loss", "g_loss", metric):
        check_moved(scalars, tag, 30)
    tags = set(scalars)
    if name == "label_smoothing":  # with target 0.9 the real images' cross-entropy cannot fall below its entropy
        entropy = -(0.9 * math.log(0.9) + 0.1 * math.log(0.1))
        assert (scalars["d_loss_real"][1] >= entropy).all(), scalars["d_loss_real"]
    if name == "feature_matching":  # G's only term: its loss is the feature matching
        assert "g_loss_adv" not in tags
        np.testing.assert_allclose(scalars["g_loss"][1], scalars["g_feature_matching"][1], rtol=1e-5)
    if name == "feature_matching_and_adversarial":
        np.testing.assert_allclose(scalars["g_loss"][1], scalars["g_loss_adv"][1] + scalars["g_feature_matching"][1],
                                   rtol=1e-5)
    if name == "historical_averaging":
        check_moved(scalars, "g_hist_avg", 30)
        assert (scalars["d_hist_avg"][1] > 0).all() and (scalars["g_hist_avg"][1] > 0).all()
    if name == "minibatch_discrimination":
        assert json.loads((run / "config.json").read_text())["minibatch_discrimination"] is True
    shown = [line for line in err.splitlines() if "step 30/30" in line][-1]  # the progress line shows the terms
    for tag, label in (("g_feature_matching", "feature matching"), ("d_hist_avg", "hist D"), ("g_hist_avg", "hist G")):
        assert (label in shown) == (tag in tags), (tag, shown)
    if name in ("feature_matching_and_adversarial", "historical_averaging"):  # and so does `dcgan plot`
        code, out, err = run_cli(["plot", "--run", run, "--out", tmp_path / "plot.png"], capsys)
        assert code == 0, err
        plotted = set(out.split(": ", 1)[1].split(" over ")[0].split(", "))
        assert {"g_feature_matching", "g_loss_adv", "d_hist_avg", "g_hist_avg"} & tags <= plotted, (tags, plotted)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(STABILISERS))
def test_each_stabiliser_trains_100_steps(tmp_path, mnist_dir, capsys, name):
    args, metric = STABILISERS[name]
    _, scalars, _ = train_and_read(tmp_path, mnist_dir, capsys, args, steps=99)
    for tag in ("d_loss", "g_loss", metric):
        check_moved(scalars, tag, 99)


# dcgan and conditional also train with the stabilisers above (conditional MNIST, the tiny dcgan runs).
@pytest.mark.parametrize("family", ["acgan", "infogan", "mlp", *(pytest.param(f, marks=pytest.mark.slow)
                                                                  for f in ("dcgan", "conditional"))])
def test_every_family_with_hidden_features_takes_every_stabiliser(tmp_path, family):
    """A step of the family with all four on, and a checkpoint that holds the historical averages."""
    import keras
    import tensorflow as tf

    from dcgan_cli.config import Config
    from dcgan_cli.models import FAMILIES
    from dcgan_cli.train.trainer import Trainer

    rng = np.random.default_rng(0)
    images = tf.constant(rng.uniform(-1, 1, (8, 28, 28, 1)).astype("float32"))
    labels = tf.constant(np.eye(10, dtype="float32")[rng.integers(0, 10, 8)])
    cls = FAMILIES[family]
    config = Config(family=family, num_classes=10 if cls.takes_labels else 0, batch_size=8, label_smoothing=0.9,
                    g_objective="both", minibatch_discrimination=True, historical_averaging=0.01, d_noise=0.3,
                    d_norm=cls.d_norms[0], width=cls.default_width or 64, depth=cls.default_depth,
                    z_dim=cls.default_z_dim or 100, start_size=cls.default_start_size(28), ema=0.0)
    config.validate()
    keras.utils.set_random_seed(0)
    trainer = Trainer(config)
    assert trainer.discriminator.get_layer("d_minibatch") is not None, family
    trainer.train_step((images, labels))
    metrics = trainer.train_step.read_metrics()
    assert all(np.isfinite(v) for v in metrics.values()), (family, metrics)
    # D's one update starts from the initial weights (no past: no penalty); G's second update has a past.
    assert metrics["g_feature_matching"] > 0 and metrics["d_hist_avg"] == 0 and metrics["g_hist_avg"] > 0, family
    assert float(trainer.train_step.d_history.count.numpy()) == 1.0, family  # one D update per step
    assert float(trainer.train_step.g_history.count.numpy()) == 2.0, family  # two G updates per step
    saved = {name for name, _ in tf.train.list_variables(trainer.checkpoint.write(str(tmp_path / family / "ckpt")))}
    assert any(name.startswith("d_history/") for name in saved) and any(name.startswith("g_history/") for name in saved)
    # --d-noise drew on every D call of the step (D's update, and G's through D), and the count is saved.
    assert int(trainer.discriminator.get_layer("d_noise_x").state[1]) >= 3, family
    assert any(name.startswith("discriminator/") and "/state/" in name for name in saved), sorted(saved)


def test_d_noise_is_gaussian_in_training_only_and_follows_its_saved_state():
    import keras
    import tensorflow as tf

    from dcgan_cli.models.layers import TrainingNoise

    keras.utils.set_random_seed(0)
    layer = TrainingNoise(0.5)
    zeros = tf.zeros((4000, 16))
    np.testing.assert_array_equal(layer(zeros, training=False), zeros)  # inference: no noise, no draw
    first = layer(zeros, training=True).numpy()
    assert abs(first.std() - 0.5) < 0.01 and abs(first.mean()) < 0.01, (first.mean(), first.std())
    second = layer(zeros, training=True).numpy()
    assert np.abs(first - second).mean() > 0.5  # a new draw each call
    # The draws are those of the state: a layer given the state after the first draw (as a checkpoint
    # restores it) draws the second again.
    copy = TrainingNoise(0.5)
    copy.build(zeros.shape)
    copy.state.assign([int(layer.state[0]), 1])
    np.testing.assert_array_equal(copy(zeros, training=True), second)


@pytest.mark.parametrize("family", ["dcgan", "conditional", "acgan", "infogan", "sgan", "mlp"])
def test_d_noise_reaches_every_family(family):
    """Noise on D's image and hidden layers in training; D in inference is untouched by it."""
    import tensorflow as tf

    from dcgan_cli.config import Config
    from dcgan_cli.models import FAMILIES

    cls = FAMILIES[family]
    family_model = Config(family=family, num_classes=10 if cls.uses_labels else 0, d_noise=0.5,
                          width=cls.default_width or 64, depth=cls.default_depth, z_dim=cls.default_z_dim or 100,
                          start_size=cls.default_start_size(28)).make_family()
    _, discriminator = family_model.build()
    noise = [layer.name for layer in discriminator.layers if layer.name.startswith("d_noise_")]
    assert "d_noise_x" in noise and len(noise) == 1 + len(family_model.hidden_layers()), (family, noise)  # image, each hidden layer
    rng = np.random.default_rng(0)
    images = tf.constant(rng.uniform(-1, 1, (8, 28, 28, 1)).astype("float32"))
    labels = tf.constant(np.eye(10, dtype="float32")[rng.integers(0, 10, 8)])
    inputs = family_model.discriminator_inputs(images, labels)

    def logits(training):
        out = discriminator(inputs, training=training)
        return np.concatenate([np.ravel(o) for o in (out if isinstance(out, (list, tuple)) else [out])])

    np.testing.assert_array_equal(logits(False), logits(False))
    assert not np.allclose(logits(True), logits(True)), family
    assert repr(family_model).endswith("D noise 0.5)")


def test_feature_matching_and_historical_averaging_on_two_replicas_equal_one_device():
    """Feature matching takes the global batch's means, so each replica's share sums to one device's value
    and gradient; historical averaging's penalty likewise."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, str(HERE), "replicas"], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    for name, diffs in report.items():
        if name == "local_means":
            continue
        assert diffs["value"] > 0 and diffs["grad_max"] > 0, (name, diffs)
        assert diffs["value_diff"] <= 1e-5 * diffs["value"], (name, diffs)
        assert diffs["grad_diff"] <= 1e-4 * diffs["grad_max"], (name, diffs)
    # The check can fail: the mean of each replica's own half is not the global batch's.
    assert report["local_means"]["value_diff"] > 1e-3 * report["local_means"]["value"], report["local_means"]


def replicas_main():
    import keras
    import tensorflow as tf

    from dcgan_cli.models.mlp import MLP
    from dcgan_cli.train.distribute import make_strategy
    from dcgan_cli.train.stabilisers import HistoricalAverage, feature_matching, global_mean, replica_share

    strategy = make_strategy("mirrored", cpu_replicas=2)
    assert strategy.num_replicas_in_sync == 2
    batch = 16
    family = MLP(z_dim=100, num_classes=0)
    layer = family.hidden_layers()[-1][1]
    keras.utils.set_random_seed(0)
    g, d = family.build()
    with strategy.scope():
        mirrored_g, mirrored_d = family.build()
        history = HistoricalAverage(mirrored_g.trainable_variables, 0.5, "g_history")
    mirrored_g.set_weights(g.get_weights())
    mirrored_d.set_weights(d.get_weights())
    rng = np.random.default_rng(1)
    real = tf.constant(rng.uniform(-1, 1, (batch, 28, 28, 1)).astype("float32"))
    z = tf.constant(rng.uniform(-1, 1, (batch, 100)).astype("float32"))

    def matching(generator, discriminator, real, z, global_batch, each_replica_alone=False):
        real_features = family.discriminate(discriminator, real, features=(layer,)).features[layer]
        with tf.GradientTape() as tape:
            fake = family.discriminate(discriminator, generator(z), features=(layer,)).features[layer]
            if each_replica_alone:  # the mistake to tell apart: each replica matching its own rows' means
                value = tf.reduce_sum(tf.square(tf.reduce_mean(real_features, 0) - tf.reduce_mean(fake, 0)))
            else:
                value = feature_matching(global_mean(real_features, global_batch), fake, global_batch)
            value = replica_share(value)
        return value, tape.gradient(value, generator.trainable_variables)

    def on_replicas(**kwargs):
        def replica():
            r = tf.distribute.get_replica_context().replica_id_in_sync_group
            rows = slice(r * (batch // 2), (r + 1) * (batch // 2))
            return matching(mirrored_g, mirrored_d, real[rows], z[rows], batch, **kwargs)

        value, grads = strategy.run(tf.function(replica))
        return (strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None),
                [strategy.reduce(tf.distribute.ReduceOp.SUM, g, axis=None) for g in grads])

    def compare(single, pair):
        (value, grads), (value2, grads2) = single, pair
        return {"value": float(value), "value_diff": abs(float(value2) - float(value)),
                "grad_max": max(float(np.abs(g).max()) for g in grads),
                "grad_diff": max(float(np.abs(np.asarray(a) - np.asarray(b)).max()) for a, b in zip(grads, grads2))}

    single = matching(g, d, real, z, batch)
    report = {"feature_matching": compare(single, on_replicas()),
              "local_means": compare(single, on_replicas(each_replica_alone=True))}
    # Historical averaging: the same penalty, after a fold and a move of G's weights, on one device and two.
    with strategy.scope():
        strategy.run(tf.function(history.fold))
    for v in mirrored_g.trainable_variables:
        v.assign(v + 0.01)
    alone = HistoricalAverage(g.trainable_variables, 0.5, "alone")
    alone.fold()
    for v in g.trainable_variables:
        v.assign(v + 0.01)

    def penalty_alone():
        with tf.GradientTape() as tape:
            value = alone.penalty()
        return value, tape.gradient(value, g.trainable_variables)

    def penalty_replica():
        with tf.GradientTape() as tape:
            value = replica_share(history.penalty())
        return value, tape.gradient(value, mirrored_g.trainable_variables)

    value, grads = strategy.run(tf.function(penalty_replica))
    report["historical_averaging"] = compare(penalty_alone(), (
        strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None),
        [strategy.reduce(tf.distribute.ReduceOp.SUM, g, axis=None) for g in grads]))
    print(json.dumps(report))


# --- old runs, and what a checkpoint alone rebuilds (resume and refusals: test_objectives, test_recipes) ---

def test_config_json_without_the_stabilisers_trained_without_them():
    from dcgan_cli.config import Config

    config = Config.from_dict({"family": "mlp", "recipe": "mlp"})  # an mlp run from before the recipe smoothed
    assert (config.label_smoothing, config.g_objective, config.minibatch_discrimination, config.historical_averaging,
            config.d_noise) == (1.0, "adversarial", False, 0.0, 0.0)


def test_negative_d_noise_is_a_one_line_error(tmp_path, capsys):
    code, _, err = run_cli(["train", "mnist", "--d-noise", "-0.1", "--out", tmp_path / "run"], capsys)
    assert code == 2 and err.strip().startswith("error: --d-noise is a standard deviation"), err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "run").exists()


def test_minibatch_discrimination_run_samples_and_exports_from_its_checkpoint(tmp_path, tiny_images, capsys):
    """config.json says D has the layer: `dcgan sample`, `evaluate`'s loader and `export` rebuild it with no flag."""
    from dcgan_cli.restore import load_run

    run = tmp_path / "run"
    code, _, err = run_cli(tiny_train(tiny_images, run, "--minibatch-discrimination", "--max-steps", "2",
                                      "--checkpoint-every", "2", "--sample-every", "100"), capsys)
    assert code == 0, err
    loaded = load_run(run, discriminator=True)
    assert loaded.discriminator.get_layer("d_minibatch").tensor.shape == (4 * 4 * 32, 100 * 5)  # width 8: 4x4x32
    code, out, err = run_cli(["sample", "--checkpoint", run, "--out", tmp_path / "grid.png", "--num", "16"], capsys)
    assert code == 0 and (tmp_path / "grid.png").exists(), err
    code, out, err = run_cli(["export", "--checkpoint", run, "--format", "keras", "--out", tmp_path / "g.keras"], capsys)
    assert code == 0 and (tmp_path / "g.keras").exists(), err


if __name__ == "__main__":
    if sys.argv[1] == "replicas":
        replicas_main()
