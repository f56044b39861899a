"""The gradient penalties (dcgan_cli/train/penalties.py) against a linear critic's analytic gradient, and
the same on one device as on two replicas. This file doubles as the two-replica subprocess's script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve()
WEIGHT = 10.0
BATCH = 16


def linear_critic(num_classes=10):
    """D([x, y]) = w . flatten(x) + v . y + b, through the fast kernels' Dense (whose custom input
    gradient the penalty must differentiate again)."""
    import keras

    from dcgan_cli.kernels import resolve_kernels

    image = keras.Input((28, 28, 1), name="image")
    y = keras.Input((num_classes,), name="y")
    h = keras.layers.Concatenate()([keras.layers.Flatten()(image), y])
    logit = resolve_kernels("fast").Dense(1, name="d_lin", dtype="float32")(h)
    model = keras.Model([image, y], logit)
    rng = np.random.default_rng(0)
    kernel = rng.normal(0, 0.05, (28 * 28 + num_classes, 1)).astype("float32")
    model.set_weights([kernel, np.array([0.3], "float32")])
    return model, kernel[:28 * 28, 0]


def batch(seed=0, n=BATCH):
    rng = np.random.default_rng(seed)
    real = rng.uniform(-1, 1, (n, 28, 28, 1)).astype("float32")
    fake = rng.uniform(-1, 1, (n, 28, 28, 1)).astype("float32")
    labels = np.eye(10, dtype="float32")[rng.integers(0, 10, n)]
    return real, fake, labels


def penalty_and_gradient(name, family, critic, real, fake, labels, global_batch=BATCH, stream=7):
    """The penalty averaged over the global batch, the mean gradient norm, and the penalty's gradient."""
    import tensorflow as tf

    from dcgan_cli.train.penalties import PENALTIES, penalty_terms

    real, fake, labels = (tf.convert_to_tensor(t) for t in (real, fake, labels))
    with tf.GradientTape() as tape:
        per_example, norms = penalty_terms(PENALTIES[name], WEIGHT, family, critic, real, fake, labels, seed=5,
                                           stream=stream, global_batch=global_batch)
        value = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
    grads = tape.gradient(value, critic.trainable_variables)
    return value, tf.nn.compute_average_loss(norms, global_batch_size=global_batch), grads


@pytest.mark.parametrize("name", ["wgan-gp", "dragan", "r1"])
def test_penalty_of_a_linear_critic_is_its_analytic_value_and_gradient(name):
    from dcgan_cli.models.conditional import Conditional

    family = Conditional(num_classes=10, d_norm="none")
    critic, w = linear_critic()
    value, mean_norm, (kernel_grad, bias_grad) = penalty_and_gradient(name, family, critic, *batch())
    norm = np.linalg.norm(w)  # grad_x D = w at every x, whatever the label: only the image is differentiated
    assert np.isclose(float(mean_norm), norm, rtol=1e-5)
    if name == "r1":
        expected, expected_grad = WEIGHT / 2 * norm ** 2, WEIGHT * w
    else:
        expected, expected_grad = WEIGHT * (norm - 1) ** 2, 2 * WEIGHT * (norm - 1) * w / norm
    assert np.isclose(float(value), expected, rtol=1e-5), (float(value), expected)
    kernel_grad = np.asarray(kernel_grad)[:, 0]
    np.testing.assert_allclose(kernel_grad[:28 * 28], expected_grad, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(kernel_grad[28 * 28:], 0.0, atol=1e-7)  # the label's weights: no gradient
    assert bias_grad is None  # a linear critic's input gradient does not depend on its bias


def test_penalty_points_are_where_each_paper_takes_them():
    import tensorflow as tf

    from dcgan_cli.train.penalties import DRAGAN_NOISE, PENALTIES, global_std, global_uniform

    real, fake, _ = batch(1)

    def draw(what, shape):
        return global_uniform(5, 3, what, BATCH, BATCH, shape)

    # WGAN-GP: x_hat = eps x + (1 - eps) G(z), one eps in [0, 1] per example.
    points = np.asarray(PENALTIES["wgan-gp"].points(tf.constant(real), tf.constant(fake), draw))
    d, p = (real - fake).reshape(BATCH, -1), (points - fake).reshape(BATCH, -1)
    eps = (d * p).sum(1) / (d * d).sum(1)
    np.testing.assert_allclose(p, eps[:, None] * d, atol=1e-5)  # on the segment from G(z) to x
    assert (eps >= 0).all() and (eps <= 1).all() and eps.std() > 0.1  # drawn per example
    # DRAGAN: x + alpha * 0.5 std(x) U[0, 1], so between x and x + 0.5 std(x).
    points = np.asarray(PENALTIES["dragan"].points(tf.constant(real), tf.constant(fake), draw))
    shift = points - real
    assert (shift >= 0).all() and (shift <= DRAGAN_NOISE * real.std() + 1e-6).all() and shift.max() > 0.1
    assert np.isclose(float(global_std(tf.constant(real))), real.std(), rtol=1e-5)
    # R1: the real data itself.
    assert np.array_equal(np.asarray(PENALTIES["r1"].points(tf.constant(real), tf.constant(fake), draw)), real)


def test_penalty_under_mixed_float16_is_float32_and_close_to_float32s():
    """The nested tape through a half-precision D: the norms come back in float32, near float32's."""
    import keras

    from dcgan_cli.models.conditional import Conditional
    from dcgan_cli.train.precision import dtype_policy

    family = Conditional(num_classes=10, d_norm="layer")
    keras.utils.set_random_seed(0)
    reference = family.build_discriminator()
    with dtype_policy("mixed_float16"):
        half = family.build_discriminator()
    half.set_weights(reference.get_weights())
    real, fake, labels = batch(2)
    for name in ("wgan-gp", "dragan", "r1"):
        value32, norm32, grads32 = penalty_and_gradient(name, family, reference, real, fake, labels)
        value16, norm16, grads16 = penalty_and_gradient(name, family, half, real, fake, labels)
        assert value16.dtype.name == norm16.dtype.name == "float32"
        assert np.isclose(float(norm16), float(norm32), rtol=2e-2), (name, float(norm16), float(norm32))
        assert np.isclose(float(value16), float(value32), rtol=5e-2, atol=1e-4), (name, float(value16), float(value32))
        # The second-order gradient reaches D's weights, finite and pointing where float32's does (each
        # element to half precision's ~1e-3 per operation, compounded over D's layers: a few % of the largest).
        assert [g is None for g in grads16] == [g is None for g in grads32] == [False] * 11 + [True]  # not the last bias
        g16 = np.concatenate([np.ravel(np.asarray(g, np.float32)) for g in grads16 if g is not None])
        g32 = np.concatenate([np.ravel(np.asarray(g)) for g in grads32 if g is not None])
        assert np.isfinite(g16).all()
        assert g16 @ g32 / np.linalg.norm(g16) / np.linalg.norm(g32) > 0.999, name


def test_penalty_on_two_replicas_equals_one_device():
    """Averaged over the global batch, with the global batch's draws and std: the same value and the
    same gradient (summed over replicas) as on one device, for a nonlinear D with layer norm."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, str(HERE), "replicas"], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    for name, diffs in report.items():
        assert diffs["value"] > 0 and diffs["norm"] > 0, (name, diffs)
        assert diffs["value_diff"] <= 1e-5 * diffs["value"], (name, diffs)
        assert diffs["norm_diff"] <= 1e-5 * diffs["norm"], (name, diffs)
        assert diffs["grad_diff"] <= 1e-4 * diffs["grad_max"], (name, diffs)


def replicas_main():
    import keras
    import tensorflow as tf

    from dcgan_cli.models.conditional import Conditional
    from dcgan_cli.train.distribute import make_strategy

    strategy = make_strategy("mirrored", cpu_replicas=2)
    assert strategy.num_replicas_in_sync == 2
    family = Conditional(num_classes=10, d_norm="layer")
    keras.utils.set_random_seed(0)
    single = family.build_discriminator()
    with strategy.scope():
        mirrored = family.build_discriminator()
    mirrored.set_weights(single.get_weights())
    real, fake, labels = batch(3)
    tensors = [tf.constant(t) for t in (real, fake, labels)]
    half = BATCH // 2
    report = {}
    for name in ("wgan-gp", "dragan", "r1"):
        value, norm, grads = penalty_and_gradient(name, family, single, real, fake, labels)

        def replica(name=name):
            r = tf.distribute.get_replica_context().replica_id_in_sync_group
            return penalty_and_gradient(name, family, mirrored, *(t[r * half:(r + 1) * half] for t in tensors))

        parts = strategy.run(tf.function(replica))
        total = [strategy.reduce(tf.distribute.ReduceOp.SUM, part, axis=None) for part in parts[:2]]
        grads2 = [strategy.reduce(tf.distribute.ReduceOp.SUM, g, axis=None) for g in parts[2] if g is not None]
        grads = [g for g in grads if g is not None]  # the last bias's
        report[name] = {
            "value": float(value), "norm": float(norm),
            "value_diff": abs(float(total[0]) - float(value)), "norm_diff": abs(float(total[1]) - float(norm)),
            "grad_max": max(float(np.abs(g).max()) for g in grads),
            "grad_diff": max(float(np.abs(np.asarray(a) - np.asarray(b)).max()) for a, b in zip(grads, grads2)),
        }
    print(json.dumps(report))


if __name__ == "__main__":
    if sys.argv[1] == "replicas":
        replicas_main()
