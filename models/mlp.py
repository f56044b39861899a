"""The MLP GAN our users start from (the TF1 MNIST tutorial; reference.md section 6).

G: z -> `depth` hidden layers of `width` tanh units (400 and 1: the tutorial's) -> H*W*C units,
tanh (the tutorial's sigmoid, moved to our data range [-1, 1]) -> an H x W x C image.
D: the image flattened to H*W*C -> the same hidden layers -> one logit.
No BatchNorm, no convolutions: the baseline the DCGAN paper argued convolutions beat.
"""

from dcgan_cli.models.family import Family


class MLP(Family):
    name = "mlp"
    description = "the MLP GAN of the TF1 tutorial: --depth hidden layers of --width tanh units in G and D"
    options = ("width", "depth")
    default_width = 400
    default_depth = 1
    bench_sizes = (28,)
    d_norms = ("none",)  # the tutorial's D has no normalisation to choose

    def problem(self):
        if self.depth is None or self.depth < 1:
            return f"--depth must be a positive integer, got {self.depth}"
        return super().problem()

    def hidden_layers(self):
        return tuple((f"d_h{i}_lin", f"d_h{i}_tanh") for i in range(self.depth))

    def build_generator(self, kernels=None, synchronized_bn=False):
        return generator(self.image_size, self.channels, self.z_dim, self.width, self.depth, kernels)

    def build_discriminator(self, kernels=None, synchronized_bn=False):
        return discriminator(self.image_size, self.channels, self.width, self.depth, kernels, minibatch=self.minibatch,
                             noise=self.d_noise)


def initializer():
    """N(0, 1/fan_in), as the tutorial: 1/fan_in is the *variance*, so the standard deviation is
    sqrt(1/fan_in) (0.1 for z's 100 inputs, 0.036 for MNIST's 784 pixels)."""
    import keras

    return keras.initializers.VarianceScaling(scale=1.0, mode="fan_in", distribution="untruncated_normal")


def generator(image_size=28, channels=1, z_dim=100, width=400, depth=1, kernels=None, name="generator"):
    import keras
    from keras import layers

    from dcgan_cli.models.layers import dense, kernels_or_default

    k = kernels_or_default(kernels)
    z = keras.Input((z_dim,), name="z")
    h = z
    for i in range(depth):
        h = layers.Activation("tanh", name=f"g_h{i}_tanh")(dense(width, f"g_h{i}_lin", k, initializer=initializer())(h))
    h = dense(image_size * image_size * channels, f"g_h{depth}_lin", k, initializer=initializer())(h)
    h = layers.Reshape((image_size, image_size, channels), name="g_reshape")(h)
    image = layers.Activation("tanh", dtype="float32", name="g_tanh")(h)
    return keras.Model(z, image, name=name)


def discriminator(image_size=28, channels=1, width=400, depth=1, kernels=None, name="discriminator", minibatch=False,
                  noise=0.0):
    import keras
    from keras import layers

    from dcgan_cli.models.layers import dense, kernels_or_default, with_minibatch_features, with_noise

    k = kernels_or_default(kernels)
    image = keras.Input((image_size, image_size, channels), name="image")
    h = with_noise(layers.Flatten(name="d_flatten")(image), noise, "x")
    for i in range(depth):
        h = layers.Activation("tanh", name=f"d_h{i}_tanh")(dense(width, f"d_h{i}_lin", k, initializer=initializer())(h))
        h = with_noise(h, noise, f"h{i}")
    logit = dense(1, f"d_h{depth}_lin", k, dtype="float32", initializer=initializer())(with_minibatch_features(h, minibatch))
    return keras.Model(image, logit, name=name)
