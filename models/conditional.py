"""carpedm20's class-conditional MNIST DCGAN, layer for layer (reference.md section 2).

The one departure is G's output: tanh with data in [-1, 1] (carpedm20: sigmoid with data in
[0, 1]), as the paper prescribes and as every other model here does.
"""

import keras
from keras import layers

from dcgan_cli.models.layers import LEAK, ConcatLabels, batch_norm, conv, deconv, dense

GFC_DIM = 1024  # carpedm20's gfc_dim / dfc_dim
GF_DIM = 64
DF_DIM = 64


def conditional_generator(z_dim=100, num_classes=10, channels=1, synchronized_bn=False, name="generator"):
    """[z, y] -> 28x28xchannels image in [-1, 1]."""
    z = keras.Input((z_dim,), name="z")
    y = keras.Input((num_classes,), name="y")
    concat = ConcatLabels

    h = concat(name="g_concat_z")(z, y)
    h = dense(GFC_DIM, "g_h0_lin")(h)
    h = layers.ReLU(name="g_h0_relu")(batch_norm("g_bn0", synchronized_bn)(h))
    h = concat(name="g_concat_h0")(h, y)
    h = dense(GF_DIM * 2 * 7 * 7, "g_h1_lin")(h)
    h = layers.ReLU(name="g_h1_relu")(batch_norm("g_bn1", synchronized_bn)(h))
    h = layers.Reshape((7, 7, GF_DIM * 2), name="g_h1_reshape")(h)
    h = concat(name="g_concat_h1")(h, y)
    h = deconv(GF_DIM * 2, 7, 14, "g_h2")(h)
    h = layers.ReLU(name="g_h2_relu")(batch_norm("g_bn2", synchronized_bn)(h))
    h = concat(name="g_concat_h2")(h, y)
    h = deconv(channels, 14, 28, "g_h3")(h)
    # float32 output under mixed precision, so images and losses never round to half precision.
    image = layers.Activation("tanh", dtype="float32", name="g_tanh")(h)
    return keras.Model([z, y], image, name=name)


def conditional_discriminator(num_classes=10, channels=1, synchronized_bn=False, name="discriminator"):
    """[image, y] -> one real/fake logit per image (float32)."""
    image = keras.Input((28, 28, channels), name="image")
    y = keras.Input((num_classes,), name="y")
    concat = ConcatLabels

    h = concat(name="d_concat_x")(image, y)
    h = conv(channels + num_classes, "d_h0_conv")(h)  # 11 filters: c_dim + y_dim
    h = layers.LeakyReLU(LEAK, name="d_h0_lrelu")(h)  # no BatchNorm on D's input layer
    h = concat(name="d_concat_h0")(h, y)
    h = conv(DF_DIM + num_classes, "d_h1_conv")(h)  # 74 filters: df_dim + y_dim
    h = layers.LeakyReLU(LEAK, name="d_h1_lrelu")(batch_norm("d_bn1", synchronized_bn)(h))
    h = layers.Flatten(name="d_h1_flatten")(h)
    h = concat(name="d_concat_h1")(h, y)
    h = dense(GFC_DIM, "d_h2_lin")(h)
    h = layers.LeakyReLU(LEAK, name="d_h2_lrelu")(batch_norm("d_bn2", synchronized_bn)(h))
    h = concat(name="d_concat_h2")(h, y)
    logit = dense(1, "d_h3_lin", dtype="float32")(h)
    return keras.Model([image, y], logit, name=name)
