"""The DCGAN paper's unconditional architecture, for any square image size.

G: z -> linear to a start_size x start_size map of 8w channels -> 5x5 stride-2 transposed
convolutions halving the channels (4w, 2w, w; each BatchNorm, ReLU) -> a last one to `channels` ->
tanh. D mirrors it: 5x5 stride-2 convolutions to w (no BatchNorm on the input layer), 2w, 4w, 8w
(BatchNorm, or --d-norm's, LeakyReLU 0.2) -> flatten -> linear to one logit. The number of stride-2
layers is the number of halvings from the image size to start_size: four from 64 to the paper's 4x4
(width=128 is the paper's LSUN model, 4x4x1024; width=64 carpedm20's, 4x4x512).

The default start is the paper's 4x4 (default_start_size). carpedm20 halves every size four times
(carpedm20_start_size), which gives 28x28 MNIST and 32x32 images a 2x2 start, from which
unconditional training collapses (benchmarks/README.md, "Unconditional training (issue 16)").

With num_classes > 0 the builders take a one-hot class y as well and concatenate it, as carpedm20's
conditional model does, to z and before every layer of G (tiled over the feature map), and to the
image, before every layer of D and to D's flattened features: the conditional family at sizes
other than carpedm20's 28x28.
"""

from dcgan_cli.models.family import Family


def halvings(size: int, times: int) -> list[int]:
    """carpedm20's conv_out_size_same applied repeatedly: [size, ceil(size/2), ...]."""
    sizes = [size]
    for _ in range(times):
        sizes.append(-(-sizes[-1] // 2))
    return sizes


def carpedm20_start_size(image_size: int) -> int:
    """carpedm20's rule: halve the image four times (2x2 for 28x28 MNIST, 4x4 for 64x64)."""
    return halvings(image_size, 4)[-1]


def default_start_size(image_size: int) -> int:
    """The paper's 4x4 start: halve at most four times, stopping at 4x4 or below.

    64x64 and larger get carpedm20's start (4x4; 8x8 for 128), 28x28 and 32x32 4x4 instead of 2x2.
    """
    return next((s for s in halvings(image_size, 4)[1:] if s <= 4), carpedm20_start_size(image_size))


def start_sizes(image_size: int) -> list[int]:
    """Every start size halving can reach from image_size (at least 2x2), largest first."""
    return sorted({s for s in halvings(image_size, 8)[1:] if s > 1}, reverse=True)


def num_stages(image_size: int, start_size: int | None = None) -> int:
    """The number of stride-2 layers from image_size down to start_size (None: default_start_size)."""
    return halvings(image_size, 8).index(start_size or default_start_size(image_size))


def hidden_layers(image_size: int, start_size: int | None = None) -> tuple[tuple[str, str], ...]:
    """(weight layer, its activation) of each of D's hidden layers, input side first."""
    return tuple((f"d_h{i}_conv", f"d_h{i}_lrelu") for i in range(num_stages(image_size, start_size)))


class DCGAN(Family):
    name = "dcgan"
    description = "the DCGAN paper's unconditional model, any square size (--width, --start-size)"
    options = ("width", "start_size")
    default_width = 64  # carpedm20's gf_dim = df_dim; `dcgan train lsun|folder` default to the paper's 128
    bench_sizes = (28, 64)

    @classmethod
    def default_start_size(cls, image_size):
        return default_start_size(image_size)

    def problem(self):
        if self.start_size not in start_sizes(self.image_size):
            return (f"--start-size {self.start_size} cannot be reached by halving {self.image_size}; use one of "
                    f"{', '.join(map(str, start_sizes(self.image_size)))} (or auto, or carpedm20)")
        return super().problem()

    def hidden_layers(self):
        return hidden_layers(self.image_size, self.start_size)

    def build_generator(self, kernels=None, synchronized_bn=False):
        return generator(self.image_size, self.channels, self.z_dim, self.width, synchronized_bn, kernels,
                         start_size=self.start_size)

    def build_discriminator(self, kernels=None, synchronized_bn=False):
        return discriminator(self.image_size, self.channels, self.width, synchronized_bn, kernels, norm=self.d_norm,
                             start_size=self.start_size, minibatch=self.minibatch, noise=self.d_noise)


def generator(image_size=64, channels=3, z_dim=100, width=128, synchronized_bn=False, kernels=None, name="generator",
              start_size=None, num_classes=0):
    import keras
    from keras import layers

    from dcgan_cli.models.layers import batch_norm, deconv, dense, kernels_or_default

    k = kernels_or_default(kernels)
    n = num_stages(image_size, start_size)
    sizes = halvings(image_size, n)  # e.g. [64, 32, 16, 8, 4] or [28, 14, 7, 4]
    filters = [width * 2 ** (n - 1 - i) for i in range(n)]  # e.g. 8w, 4w, 2w, w
    z = keras.Input((z_dim,), name="z")
    y, concat = _labels(num_classes, "g")
    h = dense(sizes[n] * sizes[n] * filters[0], "g_h0_lin", k)(concat(z, "z"))
    h = layers.Reshape((sizes[n], sizes[n], filters[0]), name="g_h0_reshape")(h)
    h = layers.ReLU(name="g_h0_relu")(batch_norm("g_bn0", k, synchronized_bn)(h))
    for i in range(1, n):
        h = deconv(filters[i], sizes[n - i + 1], sizes[n - i], f"g_h{i}", k)(concat(h, f"h{i - 1}"))
        h = layers.ReLU(name=f"g_h{i}_relu")(batch_norm(f"g_bn{i}", k, synchronized_bn)(h))
    h = deconv(channels, sizes[1], sizes[0], f"g_h{n}", k)(concat(h, f"h{n - 1}"))
    image = layers.Activation("tanh", dtype="float32", name="g_tanh")(h)
    return keras.Model([z, y] if num_classes else z, image, name=name)


def discriminator(image_size=64, channels=3, width=128, synchronized_bn=False, kernels=None, name="discriminator",
                  norm="batch", start_size=None, num_classes=0, features=False, minibatch=False, noise=0.0):
    """features=True: the model returns D's flattened last features instead of the logit (a head goes on top).
    minibatch: minibatch discrimination's features beside the last features, into the logit.
    noise: --d-noise's standard deviation, on the image and after each hidden layer in training."""
    import keras
    from keras import layers

    from dcgan_cli.models.layers import (LEAK, conv, d_normalization, dense, kernels_or_default, with_minibatch_features,
                                         with_noise)

    k = kernels_or_default(kernels)
    n = num_stages(image_size, start_size)
    image = keras.Input((image_size, image_size, channels), name="image")
    y, concat = _labels(num_classes, "d")
    h = conv(width, "d_h0_conv")(concat(with_noise(image, noise, "x"), "x"))
    h = with_noise(layers.LeakyReLU(LEAK, name="d_h0_lrelu")(h), noise, "h0")  # no BatchNorm on D's input layer
    for i in range(1, n):
        h = conv(width * 2 ** i, f"d_h{i}_conv")(concat(h, f"h{i - 1}"))
        h = layers.LeakyReLU(LEAK, name=f"d_h{i}_lrelu")(d_normalization(norm, i, k, synchronized_bn)(h))
        h = with_noise(h, noise, f"h{i}")
    h = layers.Flatten(name=f"d_h{n - 1}_flatten")(h)
    inputs = [image, y] if num_classes else image
    if features:
        return keras.Model(inputs, h, name=name)
    logit = dense(1, f"d_h{n}_lin", k, dtype="float32")(with_minibatch_features(concat(h, f"h{n - 1}"), minibatch))
    return keras.Model(inputs, logit, name=name)


def _labels(num_classes: int, player: str):
    """(the label input or None, concat(features, where) that appends it, or passes features through)."""
    if not num_classes:
        return None, lambda h, where: h
    import keras

    from dcgan_cli.models.layers import ConcatLabels

    y = keras.Input((num_classes,), name="y")
    return y, lambda h, where: ConcatLabels(name=f"{player}_concat_{where}")(h, y)
