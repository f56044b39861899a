"""The optimizers (`--optimizer`): Adam of the run's kernels (dcgan_cli.kernels) or RMSprop, loss-scaled under float16."""

from __future__ import annotations

OPTIMIZERS = {
    "adam": "Adam (--lr, --beta1, --beta2), as the DCGAN paper and WGAN-GP",
    "rmsprop": "RMSprop (--lr), as WGAN, whose critic a momentum-based optimizer destabilised",
}
# WGAN's code ran PyTorch's RMSprop, whose decay of the mean square (alpha) is 0.99; Keras's default is 0.9.
RMSPROP_RHO = 0.99


def make_optimizer(lr: float, beta1: float, precision: str, kernels, beta2: float = 0.999, kind: str = "adam"):
    import keras

    if kind == "rmsprop":
        optimizer = keras.optimizers.RMSprop(learning_rate=lr, rho=RMSPROP_RHO)
    else:
        optimizer = kernels.Adam(learning_rate=lr, beta_1=beta1, beta_2=beta2)
    # float16 gradients underflow without loss scaling; bfloat16 has float32's range and needs none.
    return keras.optimizers.LossScaleOptimizer(optimizer) if precision == "mixed_float16" else optimizer
