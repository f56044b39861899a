"""The DCGAN paper's unconditional architecture, for any square size that halves four times.

G: z -> linear to (s/16)x(s/16)x(8w) -> three 5x5 stride-2 transposed convolutions to 4w, 2w, w
channels (each BatchNorm, ReLU) -> a last one to `channels` -> tanh. D mirrors it: 5x5 stride-2
convolutions to w (no BatchNorm on the input layer), 2w, 4w, 8w (BatchNorm, or --d-norm's, LeakyReLU 0.2) ->
flatten -> linear to one logit. width=128 at 64x64 is the paper's LSUN model (4x4x1024);
width=64 is carpedm20's (4x4x512), which it also uses for 28x28 MNIST without labels.
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
        return discriminator(self.image_size, self.channels, self.width, synchronized_bn, kernels, norm=self.d_norm)


def generator(image_size=64, channels=3, z_dim=100, width=128, synchronized_bn=False, kernels=None, name="generator"):
    import keras
    from keras import layers

    from dcgan_cli.models.layers import batch_norm, deconv, dense, halvings, kernels_or_default

    k = kernels_or_default(kernels)
    sizes = halvings(image_size, 4)  # e.g. [64, 32, 16, 8, 4] or [28, 14, 7, 4, 2]
    z = keras.Input((z_dim,), name="z")
    h = dense(sizes[4] * sizes[4] * width * 8, "g_h0_lin", k)(z)
    h = layers.Reshape((sizes[4], sizes[4], width * 8), name="g_h0_reshape")(h)
    h = layers.ReLU(name="g_h0_relu")(batch_norm("g_bn0", k, synchronized_bn)(h))
    for i, (filters, size) in enumerate(zip((width * 4, width * 2, width), sizes[3:0:-1]), start=1):
        h = deconv(filters, sizes[5 - i], size, f"g_h{i}", k)(h)
        h = layers.ReLU(name=f"g_h{i}_relu")(batch_norm(f"g_bn{i}", k, synchronized_bn)(h))
    h = deconv(channels, sizes[1], sizes[0], "g_h4", k)(h)
    image = layers.Activation("tanh", dtype="float32", name="g_tanh")(h)
    return keras.Model(z, image, name=name)


def discriminator(image_size=64, channels=3, width=128, synchronized_bn=False, kernels=None, name="discriminator",
                  norm="batch"):
    import keras
    from keras import layers

    from dcgan_cli.models.layers import LEAK, conv, d_normalization, dense, kernels_or_default

    k = kernels_or_default(kernels)
    image = keras.Input((image_size, image_size, channels), name="image")
    h = conv(width, "d_h0_conv")(image)
    h = layers.LeakyReLU(LEAK, name="d_h0_lrelu")(h)  # no BatchNorm on D's input layer
    for i, filters in enumerate((width * 2, width * 4, width * 8), start=1):
        h = conv(filters, f"d_h{i}_conv")(h)
        h = layers.LeakyReLU(LEAK, name=f"d_h{i}_lrelu")(d_normalization(norm, i, k, synchronized_bn)(h))
    h = layers.Flatten(name="d_h3_flatten")(h)
    logit = dense(1, "d_h4_lin", k, dtype="float32")(h)
    return keras.Model(image, logit, name=name)
