"""The DCGAN paper's unconditional architecture, for any square size that halves four times.

G: z -> linear to (s/16)x(s/16)x(8w) -> three 5x5 stride-2 transposed convolutions to 4w, 2w, w
channels (each BatchNorm, ReLU) -> a last one to `channels` -> tanh. D mirrors it: 5x5 stride-2
convolutions to w (no BatchNorm on the input layer), 2w, 4w, 8w (BatchNorm, LeakyReLU 0.2) ->
flatten -> linear to one logit. width=128 at 64x64 is the paper's LSUN model (4x4x1024);
width=64 is carpedm20's (4x4x512), which it also uses for 28x28 MNIST without labels.

With num_classes > 0 the builders take a one-hot class y as well and concatenate it, as carpedm20's
conditional model does, to z and before every layer of G (tiled over the feature map), and to the
image, before every layer of D and to D's flattened features: the conditional family at sizes
other than carpedm20's 28x28.
"""

from dcgan_cli.models.family import Family


class DCGAN(Family):
    name = "dcgan"
    description = "the DCGAN paper's unconditional model, any size that halves four times (--width)"
    options = ("width",)
    default_width = 64  # carpedm20's gf_dim = df_dim; `dcgan train lsun|folder` default to the paper's 128
    bench_sizes = (28, 64)
    hidden = tuple((f"d_h{i}_conv", f"d_h{i}_lrelu") for i in range(4))

    def build_generator(self, kernels=None, synchronized_bn=False):
        return generator(self.image_size, self.channels, self.z_dim, self.width, synchronized_bn, kernels)

    def build_discriminator(self, kernels=None, synchronized_bn=False):
        return discriminator(self.image_size, self.channels, self.width, synchronized_bn, kernels)


def generator(image_size=64, channels=3, z_dim=100, width=128, synchronized_bn=False, kernels=None, name="generator",
              num_classes=0):
    import keras
    from keras import layers

    from dcgan_cli.models.layers import batch_norm, deconv, dense, halvings, kernels_or_default

    k = kernels_or_default(kernels)
    sizes = halvings(image_size, 4)  # e.g. [64, 32, 16, 8, 4] or [28, 14, 7, 4, 2]
    z = keras.Input((z_dim,), name="z")
    y, concat = _labels(num_classes, "g")
    h = dense(sizes[4] * sizes[4] * width * 8, "g_h0_lin", k)(concat(z, "z"))
    h = layers.Reshape((sizes[4], sizes[4], width * 8), name="g_h0_reshape")(h)
    h = layers.ReLU(name="g_h0_relu")(batch_norm("g_bn0", k, synchronized_bn)(h))
    for i, (filters, size) in enumerate(zip((width * 4, width * 2, width), sizes[3:0:-1]), start=1):
        h = deconv(filters, sizes[5 - i], size, f"g_h{i}", k)(concat(h, f"h{i - 1}"))
        h = layers.ReLU(name=f"g_h{i}_relu")(batch_norm(f"g_bn{i}", k, synchronized_bn)(h))
    h = deconv(channels, sizes[1], sizes[0], "g_h4", k)(concat(h, "h3"))
    image = layers.Activation("tanh", dtype="float32", name="g_tanh")(h)
    return keras.Model([z, y] if num_classes else z, image, name=name)


def discriminator(image_size=64, channels=3, width=128, synchronized_bn=False, kernels=None, name="discriminator",
                  num_classes=0, features=False):
    """features=True: the model returns D's flattened last features instead of the logit (a head goes on top)."""
    import keras
    from keras import layers

    from dcgan_cli.models.layers import LEAK, batch_norm, conv, dense, kernels_or_default

    k = kernels_or_default(kernels)
    image = keras.Input((image_size, image_size, channels), name="image")
    y, concat = _labels(num_classes, "d")
    h = conv(width, "d_h0_conv")(concat(image, "x"))
    h = layers.LeakyReLU(LEAK, name="d_h0_lrelu")(h)  # no BatchNorm on D's input layer
    for i, filters in enumerate((width * 2, width * 4, width * 8), start=1):
        h = conv(filters, f"d_h{i}_conv")(concat(h, f"h{i - 1}"))
        h = layers.LeakyReLU(LEAK, name=f"d_h{i}_lrelu")(batch_norm(f"d_bn{i}", k, synchronized_bn)(h))
    h = layers.Flatten(name="d_h3_flatten")(h)
    inputs = [image, y] if num_classes else image
    if features:
        return keras.Model(inputs, h, name=name)
    logit = dense(1, "d_h4_lin", k, dtype="float32")(concat(h, "h3"))
    return keras.Model(inputs, logit, name=name)


def _labels(num_classes: int, player: str):
    """(the label input or None, concat(features, where) that appends it, or passes features through)."""
    if not num_classes:
        return None, lambda h, where: h
    import keras

    from dcgan_cli.models.layers import ConcatLabels

    y = keras.Input((num_classes,), name="y")
    return y, lambda h, where: ConcatLabels(name=f"{player}_concat_{where}")(h, y)
