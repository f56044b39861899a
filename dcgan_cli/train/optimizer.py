"""The optimizers: Adam of the run's kernels (dcgan_cli.kernels), loss-scaled under float16."""

from __future__ import annotations


def make_optimizer(lr: float, beta1: float, precision: str, kernels):
    import keras

    optimizer = kernels.Adam(learning_rate=lr, beta_1=beta1)
    # float16 gradients underflow without loss scaling; bfloat16 has float32's range and needs none.
    return keras.optimizers.LossScaleOptimizer(optimizer) if precision == "mixed_float16" else optimizer
