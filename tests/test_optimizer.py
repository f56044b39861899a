"""The fused Adam update is Keras's Adam, to float32 rounding, and keeps Keras's slots."""

import keras
import numpy as np
import tensorflow as tf

from dcgan_cli.kernels import resolve_kernels
from dcgan_cli.kernels.fast import FusedAdam
from dcgan_cli.train.optimizer import make_optimizer


def test_fused_adam_matches_keras_adam():
    rng = np.random.default_rng(0)
    start = rng.normal(size=(50, 20)).astype("float32")
    reference, fused = keras.Variable(start), keras.Variable(start)
    keras_adam = keras.optimizers.Adam(2e-4, beta_1=0.5)
    fused_adam = FusedAdam(2e-4, beta_1=0.5)
    for _ in range(30):
        grad = tf.constant(rng.normal(size=start.shape).astype("float32"))
        keras_adam.apply([grad], [reference])
        fused_adam.apply([grad], [fused])
    moved = np.abs(reference.numpy() - start).max()
    assert moved > 1e-3  # 30 steps of lr 2e-4 moved the weights
    np.testing.assert_allclose(fused.numpy(), reference.numpy(), rtol=0, atol=1e-6)
    for mine, theirs in zip(fused_adam.variables, keras_adam.variables):  # iterations, m, v
        # m and v agree to rounding: Keras computes m + (g - m)(1 - b1), the kernel b1 m + (1 - b1) g.
        np.testing.assert_allclose(np.asarray(mine), np.asarray(theirs), rtol=1e-4, atol=1e-8)


def test_float16_gets_loss_scaling_and_others_do_not():
    fast = resolve_kernels("fast")
    assert isinstance(make_optimizer(2e-4, 0.5, "mixed_float16", fast), keras.optimizers.LossScaleOptimizer)
    for precision in ("float32", "mixed_bfloat16"):
        assert isinstance(make_optimizer(2e-4, 0.5, precision, fast), FusedAdam)
