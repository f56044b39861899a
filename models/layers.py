"""Small building blocks shared by the model builders."""

import math

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


def _synchronized_moments(x, axes):
    """Mean and biased variance over all replicas' batches, the variance about the global mean.

    Keras's synchronised path sums x and x^2 in one all-reduce and takes E[x^2] - E[x]^2, which
    loses float32's digits to cancellation when a channel's mean is large against its spread (a
    mean 100 standard deviations from zero leaves ~3 of ~7; tests/test_models.py shows a case). The
    price is a second all-reduce of one value per channel. Returns the input's dtype, as Keras's
    moments do (statistics in float32).
    """
    import tensorflow as tf

    replica = tf.distribute.get_replica_context()
    values = tf.cast(x, tf.float32)
    count = tf.cast(tf.reduce_prod(tf.gather(tf.shape(values), axes)), tf.float32)
    total, count = replica.all_reduce(tf.distribute.ReduceOp.SUM, [tf.reduce_sum(values, axes, keepdims=True), count])
    mean = total / count
    squares = replica.all_reduce(tf.distribute.ReduceOp.SUM, tf.reduce_sum(tf.square(values - mean), axes, keepdims=True))
    return tf.cast(tf.squeeze(mean, axes), x.dtype), tf.cast(tf.squeeze(squares / count, axes), x.dtype)


@keras.saving.register_keras_serializable(package="dcgan")
class FusedBatchNorm(layers.BatchNormalization):
    """Keras's BatchNormalization, computed in training mode by TensorFlow's fused kernel.

    Keras 3 normalises with ~10 separate element-wise ops (moments, rsqrt, scale, shift) and as
    many again in the gradient, each a pass over the activations; FusedBatchNormV3 and its
    gradient are one pass each (G's 14x14x128 layer at batch 64: 15.0 -> 5.0 ms forward and
    backward). The mathematics is Keras's: statistics in float32 over every axis but the last, the
    biased batch variance for normalising and for the moving average. The variables are Keras's
    own, so checkpoints are unchanged. Inference, synchronised (multi-replica) statistics, small
    layers and other backends take Keras's path, synchronised statistics with the variance taken
    about the global mean (_synchronized_moments).
    """

    # Below this many features per example the fused kernel's fixed cost outweighs the passes it saves.
    FUSED_MIN_FEATURES = 4096

    def _fusable(self, inputs, training, mask) -> bool:
        rank = len(inputs.shape)
        return (keras.backend.backend() == "tensorflow" and training and self.trainable and mask is None
                and not self.synchronized and self.scale and self.center
                and rank in (2, 4) and self.axis in (-1, rank - 1)
                and math.prod(inputs.shape[1:]) >= self.FUSED_MIN_FEATURES)

    def _moments(self, inputs, mask):
        if self.synchronized and mask is None and keras.backend.backend() == "tensorflow":
            return _synchronized_moments(inputs, self._reduction_axes)
        return super()._moments(inputs, mask)

    def call(self, inputs, training=None, mask=None):
        if not self._fusable(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        rank = len(inputs.shape)
        import tensorflow as tf

        # bfloat16/float16 go in as they are: the kernel computes its statistics and the normalisation
        # in float32 (its U type) either way, so casting first would only add two passes.
        x = inputs if inputs.dtype in (tf.float32, tf.bfloat16, tf.float16) else tf.cast(inputs, tf.float32)
        as_image = x if rank == 4 else tf.reshape(x, [-1, 1, 1, x.shape[-1]])
        y, mean, unbiased_variance, _, _, _ = tf.raw_ops.FusedBatchNormV3(
            x=as_image, scale=tf.cast(self.gamma, tf.float32), offset=tf.cast(self.beta, tf.float32),
            mean=tf.zeros([0]), variance=tf.zeros([0]), epsilon=self.epsilon, data_format="NHWC", is_training=True)
        # The kernel returns the Bessel-corrected variance; Keras's moving average uses the biased one.
        count = tf.cast(tf.size(x) // tf.shape(x)[-1], tf.float32)
        variance = unbiased_variance * (count - 1.0) / count
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        y = y if rank == 4 else tf.reshape(y, [-1, x.shape[-1]])
        return tf.cast(y, self.compute_dtype)


def _matmul_with_fast_input_gradient(x, kernel):
    """x @ kernel, whose gradient computes dx as (kernel @ dy^T)^T: the same products and sums.

    TensorFlow's own gradient computes dx = dy @ kernel^T, a matmul with a transposed right-hand
    side, which oneDNN runs 1.4-1.8x slower in float32 than the equivalent product computed this
    way round (measured on Zen 4 at batch 64: D's 3636x1024 layer 9.0 -> 4.9 ms, G's 1034x6272
    8.4 -> 6.1 ms; bfloat16 gains 10-25%). The products are the same; sums may round differently.
    """
    import tensorflow as tf

    @tf.custom_gradient
    def matmul(x, kernel):
        def grad(dy):
            return tf.transpose(tf.matmul(kernel, dy, transpose_b=True)), tf.matmul(x, dy, transpose_a=True)

        return tf.matmul(x, kernel), grad

    # custom_gradient refuses variables read inside it: the kernel goes in as a tensor, so the
    # gradient reaches the variable through that read (and the cast, under mixed precision).
    return matmul(x, tf.convert_to_tensor(kernel))


def _bias_and_activation(layer, x):
    """The rest of a Keras Dense/Conv2DTranspose call after its matmul or convolution."""
    if layer.bias is not None:
        x = ops.add(x, layer.bias)
    return layer.activation(x) if layer.activation is not None else x


@keras.saving.register_keras_serializable(package="dcgan")
class FastGradDense(layers.Dense):
    """Keras's Dense (same variables, same mathematics) with a faster input gradient on TensorFlow."""

    def call(self, inputs, training=None):
        if not (keras.backend.backend() == "tensorflow" and len(inputs.shape) == 2 and not self.lora_enabled
                and self.quantization_mode is None):
            return super().call(inputs, training=training)
        return _bias_and_activation(self, _matmul_with_fast_input_gradient(inputs, self.kernel.value))


def _deconv_filter_gradient(x, dy, kernel_size: int, stride: int):
    """The filter gradient of a 'same'-padded transposed convolution x -> y, given dy.

    dW[kh, kw, co, ci] = sum over b, i, j of x[b, i, j, ci] * dy_padded[b, s*i + kh, s*j + kw, co],
    which is a forward convolution of dy (batch and channels swapped) with x as a filter dilated by
    the stride. oneDNN runs that 1.2x (float32) to 1.6x (bfloat16) faster than its own filter-gradient
    kernel, Conv2DBackpropFilter, for G's 7x7x138 -> 14x14x128 layer at batch 64 (23.4 -> 20.0 ms
    and 19.7 -> 12.0 ms). The products are the same; sums may round differently.
    """
    import tensorflow as tf

    n, m = x.shape[1], dy.shape[1]
    padded = (n - 1) * stride + kernel_size  # the rows a VALID dilated convolution needs
    top = max(padded - m, 0) // 2  # 'same' puts the odd row of padding at the bottom
    d = tf.pad(dy, [[0, 0], [top, padded - m - top], [top, padded - m - top], [0, 0]])
    d = tf.transpose(d, [3, 1, 2, 0])  # [co, rows, cols, batch]
    f = tf.transpose(x, [1, 2, 0, 3])  # [n, n, batch, ci]
    w = tf.nn.conv2d(d, f, strides=1, padding="VALID", dilations=stride)  # [co, k, k, ci]
    return tf.transpose(w, [1, 2, 0, 3])


def _subpixel_deconv(x, kernel, out_size: int):
    """A 'same'-padded 5x5 stride-2 transposed convolution, as a 3x3 convolution to 4x the channels.

    Output pixel (2q + a, 2r + b) receives x[q + u, r + v] through kernel tap
    (a + top - 2u, b + top - 2v) for u, v in -1..1 (top = the 'same' padding, 1 or 2): one stride-1
    3x3 convolution per output phase (a, b), all four in one call, interleaved by depth_to_space.
    oneDNN computes a transposed convolution to 1-3 channels (G's image layer) at ~10 GFLOP/s; this
    way it is 2-2.5x faster (G's 14x14x138 -> 28x28x1 at batch 64: 8.6 -> 4.2 ms in float32, 6.0 ->
    2.5 ms in bfloat16). From ~8 output channels up, the transposed convolution is faster.
    """
    import numpy as np
    import tensorflow as tf

    size, n = kernel.shape[0], x.shape[1]
    top = ((n - 1) * 2 + size - out_size) // 2
    # taps[u + 1, a]: the kernel row that offset u feeds into output phase a; `size` (a zero row) when none.
    taps = np.array([[a + top - 2 * u if 0 <= a + top - 2 * u < size else size for a in (0, 1)] for u in (-1, 0, 1)])
    k = tf.pad(kernel, [[0, 1], [0, 1], [0, 0], [0, 0]])
    k = tf.gather(tf.gather(k, taps, axis=0), taps, axis=2)  # [u, a, v, b, out, in]
    k = tf.reshape(tf.transpose(k, [0, 2, 5, 1, 3, 4]), [3, 3, kernel.shape[3], 4 * kernel.shape[2]])
    y = tf.nn.depth_to_space(tf.nn.conv2d(x, k, strides=1, padding="SAME"), 2)
    return y[:, :out_size, :out_size, :]


@keras.saving.register_keras_serializable(package="dcgan")
class FastGradConv2DTranspose(layers.Conv2DTranspose):
    """Keras's Conv2DTranspose (same variables, same mathematics), computed faster on TensorFlow:
    the filter gradient always (_deconv_filter_gradient), the forward pass to an image's few channels
    too (_subpixel_deconv)."""

    SUBPIXEL_MAX_FILTERS = 4

    def _fast(self, inputs) -> bool:
        return (keras.backend.backend() == "tensorflow" and self.data_format == "channels_last"
                and self.padding == "same" and tuple(self.dilation_rate) == (1, 1)
                and self.strides[0] == self.strides[1] and self.kernel_size[0] == self.kernel_size[1] >= self.strides[0]
                and inputs.shape[1] == inputs.shape[2] and inputs.shape[1] is not None)

    def call(self, inputs):
        if not self._fast(inputs):
            return super().call(inputs)
        import tensorflow as tf

        stride, size = self.strides[0], self.kernel_size[0]
        subpixel = self.filters <= self.SUBPIXEL_MAX_FILTERS and (stride, size) == (2, 5)

        @tf.custom_gradient
        def deconv(x, kernel):
            if subpixel:
                y = _subpixel_deconv(x, kernel, self.compute_output_shape(x.shape)[1])
            else:
                y = ops.conv_transpose(x, kernel, strides=list(self.strides), padding="same",
                                       output_padding=self.output_padding, data_format="channels_last")

            def grad(dy):
                # The input gradient is TensorFlow's own (the forward convolution of dy).
                dx = tf.nn.conv2d(dy, kernel, strides=stride, padding="SAME")
                return dx, _deconv_filter_gradient(x, dy, size, stride)

            return y, grad

        # A tensor: see _matmul_with_fast_input_gradient.
        return _bias_and_activation(self, deconv(inputs, tf.convert_to_tensor(self.kernel.value)))


def batch_norm(name, synchronized=False):
    return FusedBatchNorm(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, synchronized=synchronized, name=name)


def dense(units, name, dtype=None):
    return FastGradDense(units, kernel_initializer=DENSE_INIT, name=name, dtype=dtype)


def conv(filters, name, strides=2):
    return layers.Conv2D(filters, 5, strides=strides, padding="same", kernel_initializer=CONV_INIT, name=name)


def deconv(filters, in_size, out_size, name):
    """A 5x5 stride-2 transposed convolution from in_size to exactly out_size pixels.

    'same' padding doubles the size; output_padding 0 gives 2n - 1 (e.g. 4 -> 7 for 28-pixel
    models), so any target size is reached with no cropping.
    """
    output_padding = out_size - 2 * in_size + 1
    if output_padding not in (0, 1):
        raise ValueError(f"cannot go from {in_size} to {out_size} pixels with a stride-2 deconvolution")
    return FastGradConv2DTranspose(
        filters, 5, strides=2, padding="same", output_padding=output_padding,
        kernel_initializer=DENSE_INIT, name=name)


def halvings(size, times):
    """carpedm20's conv_out_size_same applied repeatedly: [size, ceil(size/2), ...]."""
    sizes = [size]
    for _ in range(times):
        sizes.append(-(-sizes[-1] // 2))
    return sizes
