"""Small building blocks shared by the model builders.

The classes behind batch_norm, dense and deconv come from a dcgan_cli.kernels.Kernels (`--kernels`):
Keras's own or the faster forms with the same variables.
"""

import keras
from keras import layers, ops

# carpedm20: convolutions use a truncated normal, transposed convolutions and linear layers a
# normal, all with stddev 0.02; biases start at zero.
CONV_INIT = keras.initializers.TruncatedNormal(stddev=0.02)
DENSE_INIT = keras.initializers.RandomNormal(stddev=0.02)
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5
LEAK = 0.2


@keras.saving.register_keras_serializable(package="dcgan")
class ConcatLabels(layers.Layer):
    """Concatenate a one-hot label to features: y itself for a vector, y tiled over H x W for a map.

    This is carpedm20's `conv_cond_concat` (yb = reshape(y, [-1, 1, 1, 10]) tiled) and plain concat,
    written so that it works for any batch size.
    """

    def call(self, features, labels):
        labels = ops.cast(labels, features.dtype)
        if len(features.shape) == 4:
            shape = ops.shape(features)
            labels = ops.broadcast_to(labels[:, None, None, :], (shape[0], shape[1], shape[2], labels.shape[-1]))
        return ops.concatenate([features, labels], axis=-1)

    def compute_output_shape(self, features_shape, labels_shape):
        return tuple(features_shape[:-1]) + (features_shape[-1] + labels_shape[-1],)


def batch_norm(name, kernels, synchronized=False):
    return kernels.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, synchronized=synchronized, name=name)


def d_normalization(kind, index, kernels, synchronized=False):
    """The --d-norm layer after D's hidden layer `index`: d_bn{index} (BatchNorm), d_ln{index} (all of an
    example's features normalised together, a scale and offset per channel: Gulrajani et al.'s layer
    norm, which GroupNormalization with one group is), or an identity."""
    if kind == "batch":
        return batch_norm(f"d_bn{index}", kernels, synchronized)
    if kind == "layer":
        return layers.GroupNormalization(groups=1, epsilon=BN_EPSILON, name=f"d_ln{index}")
    return layers.Identity(name=f"d_norm{index}")


def dense(units, name, kernels, dtype=None, initializer=DENSE_INIT):
    return kernels.Dense(units, kernel_initializer=initializer, name=name, dtype=dtype)


def conv(filters, name, strides=2):
    return layers.Conv2D(filters, 5, strides=strides, padding="same", kernel_initializer=CONV_INIT, name=name)


def deconv(filters, in_size, out_size, name, kernels):
    """A 5x5 stride-2 transposed convolution from in_size to exactly out_size pixels.

    'same' padding doubles the size; output_padding 0 gives 2n - 1 (e.g. 4 -> 7 for 28-pixel
    models), so any target size is reached with no cropping.
    """
    output_padding = out_size - 2 * in_size + 1
    if output_padding not in (0, 1):
        raise ValueError(f"cannot go from {in_size} to {out_size} pixels with a stride-2 deconvolution")
    return kernels.Conv2DTranspose(
        filters, 5, strides=2, padding="same", output_padding=output_padding,
        kernel_initializer=DENSE_INIT, name=name)


def kernels_or_default(kernels):
    """The builders' kernels: the given dcgan_cli.kernels.Kernels, or the default (`fast`)."""
    if kernels is not None:
        return kernels
    from dcgan_cli.kernels import resolve_kernels

    return resolve_kernels("fast")


# Minibatch discrimination's size: B kernels of C dimensions each, the 100 x 5 of Salimans et al.'s code
# (openai/improved-gan, MinibatchLayer(num_kernels=100, dim_per_kernel=5)).
MINIBATCH_KERNELS = 100
MINIBATCH_DIMS = 5


@keras.saving.register_keras_serializable(package="dcgan")
class MinibatchDiscrimination(layers.Layer):
    """Salimans et al. 2016, section 3.2: how close each example's features are to the others' in its batch.

    The features f(x_i) in R^A times a learned tensor T in R^{A x B x C} give M_i in R^{B x C}; then
    c_b(x_i, x_j) = exp(-||M_{i,b} - M_{j,b}||_L1) and o(x_i)_b = sum_j c_b(x_i, x_j), j over the batch
    (itself included, as the paper writes it: a constant 1 the next layer's bias absorbs). The layer
    returns o(x) in R^B, which D's last layer reads beside f(x), so that D can see a batch of fakes
    that all look alike. It mixes the examples of a batch, as BatchNorm does.
    """

    def __init__(self, kernels=MINIBATCH_KERNELS, dims=MINIBATCH_DIMS, **kwargs):
        super().__init__(**kwargs)
        self.kernels, self.dims = kernels, dims

    def build(self, input_shape):
        self.tensor = self.add_weight(name="tensor", shape=(input_shape[-1], self.kernels * self.dims),
                                      initializer=DENSE_INIT)

    def call(self, features):
        m = ops.reshape(ops.matmul(features, ops.cast(self.tensor, features.dtype)), (-1, self.kernels, self.dims))
        distances = ops.sum(ops.abs(m[:, None] - m[None, :]), axis=-1)  # (i, j, b): L1 over the C dimensions
        return ops.sum(ops.exp(-distances), axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.kernels)

    def get_config(self):
        return {**super().get_config(), "kernels": self.kernels, "dims": self.dims}


def with_minibatch_features(features, enabled: bool):
    """D's last features, with minibatch discrimination's o(x) concatenated when enabled (the input of its logit)."""
    if not enabled:
        return features
    return layers.Concatenate(name="d_minibatch_concat")([features, MinibatchDiscrimination(name="d_minibatch")(features)])


@keras.saving.register_keras_serializable(package="dcgan")
class TrainingNoise(layers.Layer):
    """Gaussian noise of standard deviation `stddev` added to D's input and hidden layers in training only
    (`--d-noise`; Salimans et al. 2016's semi-supervised D: noise on every layer, so that D cannot win by
    memorising its few labelled images or G's current samples).

    Not keras.layers.GaussianNoise: its random state lives outside what tf.train.Checkpoint saves, so a
    resumed run would draw the noise afresh. Here each draw is keyed by (key, draws so far, replica),
    held in a variable the checkpoint keeps: a resumed run draws what an uninterrupted one would, and
    two replicas draw different noise for their different examples. The key is drawn at build time
    from numpy's generator, which `keras.utils.set_random_seed(--seed)` seeds.
    """

    def __init__(self, stddev: float, **kwargs):
        super().__init__(**kwargs)
        self.stddev = stddev

    def build(self, input_shape):
        import numpy as np

        key = int(np.random.randint(2 ** 31))
        # ONLY_FIRST_REPLICA: every replica counts the same draws, and the count goes up once per draw.
        self.state = self.add_weight(name="state", shape=(2,), dtype="int64", trainable=False,
                                     initializer=keras.initializers.Constant([key, 0]), aggregation="only_first_replica")

    def call(self, inputs, training=False):
        if not training:
            return inputs
        import tensorflow as tf

        context = tf.distribute.get_replica_context()
        replica = tf.cast(context.replica_id_in_sync_group if context is not None else 0, tf.int64)
        state = tf.convert_to_tensor(self.state)
        seed = tf.stack([state[0], state[1] * 1024 + replica])
        self.state.assign_add(tf.constant([0, 1], tf.int64))
        noise = tf.random.stateless_normal(tf.shape(inputs), seed, stddev=self.stddev, dtype=tf.float32)
        return inputs + tf.cast(noise, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev}


def with_noise(features, stddev: float, where: str):
    """D's features with TrainingNoise added (named d_noise_{where}), or unchanged for stddev 0 (no layer)."""
    return features if not stddev else TrainingNoise(stddev, name=f"d_noise_{where}")(features)
