"""carpedm20's class-conditional MNIST DCGAN, layer for layer (reference.md section 2), and at other
sizes (32, 64, 128: CIFAR-10, labelled folders) the DCGAN body with the class concatenated the way
carpedm20 concatenates it (models/dcgan.py, num_classes).

The one departure is G's output: tanh with data in [-1, 1] (carpedm20: sigmoid with data in
[0, 1]), as the paper prescribes and as every other model here does.
"""

from dcgan_cli.models import dcgan
from dcgan_cli.models.family import Family

GFC_DIM = 1024  # carpedm20's gfc_dim / dfc_dim
GF_DIM = 64
DF_DIM = 64


class Conditional(Family):
    """G and D both take the one-hot class label y, concatenated where carpedm20 concatenates it."""

    name = "conditional"
    description = ("carpedm20's class-conditional model (labels fed to G and D): its MNIST model at 28x28 "
                   "(fixed widths), the DCGAN body with labels concatenated at other sizes (--width)")
    takes_labels = True
    uses_labels = True
    options = ("width",)
    default_width = GF_DIM  # carpedm20's; at 28x28 the widths are its model's, not an option
    bench_sizes = (28,)
    hidden = (("d_h0_conv", "d_h0_lrelu"), ("d_h1_conv", "d_h1_lrelu"), ("d_h2_lin", "d_h2_lrelu"))

    @property
    def carpedm20(self) -> bool:
        return self.image_size == 28

    def problem(self):
        if self.carpedm20 and self.width != GF_DIM:
            return (f"at 28x28 the conditional family is carpedm20's MNIST model, whose widths are fixed "
                    f"({GF_DIM}): drop --width {self.width}")
        return super().problem()

    def hidden_layers(self):
        return self.hidden if self.carpedm20 else dcgan.hidden_layers(self.image_size)

    def build_generator(self, kernels=None, synchronized_bn=False):
        if self.carpedm20:
            return conditional_generator(self.z_dim, self.num_classes, self.channels, synchronized_bn, kernels)
        return dcgan.generator(self.image_size, self.channels, self.z_dim, self.width, synchronized_bn, kernels,
                               num_classes=self.num_classes)

    def build_discriminator(self, kernels=None, synchronized_bn=False):
        if self.carpedm20:
            return conditional_discriminator(self.num_classes, self.channels, synchronized_bn, kernels, norm=self.d_norm,
                                             minibatch=self.minibatch, noise=self.d_noise)
        return dcgan.discriminator(self.image_size, self.channels, self.width, synchronized_bn, kernels,
                                   norm=self.d_norm, num_classes=self.num_classes, minibatch=self.minibatch,
                                   noise=self.d_noise)


def conditional_generator(z_dim=100, num_classes=10, channels=1, synchronized_bn=False, kernels=None,
                          name="generator"):
    """[z, y] -> 28x28xchannels image in [-1, 1]."""
    import keras
    from keras import layers

    from dcgan_cli.models.layers import ConcatLabels, batch_norm, deconv, dense, kernels_or_default

    k = kernels_or_default(kernels)
    z = keras.Input((z_dim,), name="z")
    y = keras.Input((num_classes,), name="y")
    concat = ConcatLabels

    h = concat(name="g_concat_z")(z, y)
    h = dense(GFC_DIM, "g_h0_lin", k)(h)
    h = layers.ReLU(name="g_h0_relu")(batch_norm("g_bn0", k, synchronized_bn)(h))
    h = concat(name="g_concat_h0")(h, y)
    h = dense(GF_DIM * 2 * 7 * 7, "g_h1_lin", k)(h)
    h = layers.ReLU(name="g_h1_relu")(batch_norm("g_bn1", k, synchronized_bn)(h))
    h = layers.Reshape((7, 7, GF_DIM * 2), name="g_h1_reshape")(h)
    h = concat(name="g_concat_h1")(h, y)
    h = deconv(GF_DIM * 2, 7, 14, "g_h2", k)(h)
    h = layers.ReLU(name="g_h2_relu")(batch_norm("g_bn2", k, synchronized_bn)(h))
    h = concat(name="g_concat_h2")(h, y)
    h = deconv(channels, 14, 28, "g_h3", k)(h)
    # float32 output under mixed precision, so images and losses never round to half precision.
    image = layers.Activation("tanh", dtype="float32", name="g_tanh")(h)
    return keras.Model([z, y], image, name=name)


def conditional_discriminator(num_classes=10, channels=1, synchronized_bn=False, kernels=None, name="discriminator",
                              norm="batch", minibatch=False, noise=0.0):
    """[image, y] -> one real/fake logit per image (float32); norm: --d-norm (carpedm20's is batch);
    minibatch: minibatch discrimination before the logit; noise: --d-noise (the image, each hidden layer)."""
    import keras
    from keras import layers

    from dcgan_cli.models.layers import (LEAK, ConcatLabels, conv, d_normalization, dense, kernels_or_default,
                                         with_minibatch_features, with_noise)

    k = kernels_or_default(kernels)
    image = keras.Input((28, 28, channels), name="image")
    y = keras.Input((num_classes,), name="y")
    concat = ConcatLabels

    h = concat(name="d_concat_x")(with_noise(image, noise, "x"), y)
    h = conv(channels + num_classes, "d_h0_conv")(h)  # 11 filters: c_dim + y_dim
    h = layers.LeakyReLU(LEAK, name="d_h0_lrelu")(h)  # no BatchNorm on D's input layer
    h = concat(name="d_concat_h0")(with_noise(h, noise, "h0"), y)
    h = conv(DF_DIM + num_classes, "d_h1_conv")(h)  # 74 filters: df_dim + y_dim
    h = layers.LeakyReLU(LEAK, name="d_h1_lrelu")(d_normalization(norm, 1, k, synchronized_bn)(h))
    h = layers.Flatten(name="d_h1_flatten")(with_noise(h, noise, "h1"))
    h = concat(name="d_concat_h1")(h, y)
    h = dense(GFC_DIM, "d_h2_lin", k)(h)
    h = layers.LeakyReLU(LEAK, name="d_h2_lrelu")(d_normalization(norm, 2, k, synchronized_bn)(h))
    h = with_noise(h, noise, "h2")
    h = concat(name="d_concat_h2")(h, y)
    logit = dense(1, "d_h3_lin", k, dtype="float32")(with_minibatch_features(h, minibatch))
    return keras.Model([image, y], logit, name=name)
