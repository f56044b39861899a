"""The analytic FLOP counter against a count done by hand for two tiny models."""

import keras
from keras import layers

from dcgan_cli.bench.flops import backward_flops, forward_flops, optimizer_flops, train_step_flops


def tiny_models():
    z = keras.Input((3,))
    h = layers.Reshape((2, 2, 2))(layers.Dense(8)(z))
    G = keras.Model(z, layers.Activation("tanh")(layers.Conv2DTranspose(1, 3, strides=2, padding="same")(h)))
    x = keras.Input((4, 4, 1))
    h = layers.Conv2D(2, 3, strides=2, padding="same")(x)  # -> 2x2x2
    h = layers.LeakyReLU(0.2)(layers.BatchNormalization()(h))
    D = keras.Model(x, layers.Dense(1)(layers.Flatten()(h)))
    return G, D


def test_counts_match_a_hand_count():
    G, D = tiny_models()
    # G: dense 2*3*8 + 8 bias; deconv 2*(3*3*1) per input element * 8 inputs + 16 bias; tanh 16.
    assert forward_flops(G, 1) == (48 + 8) + (144 + 16) + 16
    # D: conv 2*(3*3*1) per output element * 8 outputs + 8 bias; BN 5*8; LeakyReLU 8; dense 2*8 + 1.
    assert forward_flops(D, 1) == (144 + 8) + 40 + 8 + (16 + 1)
    assert forward_flops(D, 4) == 4 * 217
    # D backward for its own update: conv weight grads only (its input is data), BN and LeakyReLU
    # 2x, dense weight and input grads.
    assert backward_flops(D, 1) == (144 + 8) + 80 + 16 + (16 + 1 + 16)
    # D backward inside a G update: input gradients only, all the way to the image.
    assert backward_flops(D, 1, weight_grads=False, first_input_grad=True) == 144 + 80 + 16 + 16
    # G backward: dense weight grads only; deconv weight and input grads; tanh 2x.
    assert backward_flops(G, 1) == (48 + 8) + (144 + 16 + 144) + 32
    assert optimizer_flops(D) == 12 * (2 * 9 + 2 + 4 + 8 + 1)  # conv, BN gamma/beta, dense

    batch = 2
    d_update = 232 * batch + 2 * 217 * batch + 2 * 281 * batch + optimizer_flops(D)
    g_update = 232 * batch + 217 * batch + 256 * batch + 392 * batch + optimizer_flops(G)
    assert train_step_flops(G, D, batch, d_steps=1, g_steps=2) == d_update + 2 * g_update


def test_conditional_mnist_step_is_about_what_the_layer_shapes_say():
    from dcgan_cli.models import FAMILIES

    G, D = FAMILIES["conditional"](28, 1, 100, "uniform", 10).build()
    # G's deconvolution 7x7x138 -> 14x14x128 dominates G: 2*25*128 FLOPs per input element.
    assert forward_flops(G, 1) > 2 * 25 * 128 * 7 * 7 * 138
    gflop = train_step_flops(G, D, 64) / 1e9
    assert 25 < gflop < 45, gflop  # about 34: G updates (twice, with G backward) dominate
