"""`--kernels fast`: Keras's BatchNormalization, Dense, Conv2DTranspose and Adam, computed in forms
oneDNN and TensorFlow run faster, with the same mathematics and the same variables.

Each class here is a subclass of the Keras class it replaces and creates exactly its variables, so
a checkpoint written with these forms loads with Keras's own and the other way round. They reach
into Keras internals (private attributes, the layers' call paths), which is why they are used only
under the Keras versions the suite passed on (dcgan_cli.kernels.TESTED_KERAS). tests/test_models.py
and tests/test_optimizer.py check each against the Keras original: outputs, gradients, moving
statistics and optimizer slots. What each form saves is measured in benchmarks/README.md ("Train
step speed").
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf
from keras import layers, ops


def _synchronized_moments(x, axes):
    """Mean and biased variance over all replicas' batches, the variance about the global mean.

    Keras's synchronised path sums x and x^2 in one all-reduce and takes E[x^2] - E[x]^2, which
    loses float32's digits to cancellation when a channel's mean is large against its spread
    (tests/test_models.py shows a case). The price is a second all-reduce of one value per channel.
    Returns the input's dtype, as Keras's moments do (statistics in float32).
    """
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

    Keras 3 normalises with about ten separate element-wise ops (moments, rsqrt, scale, shift) and
    as many again in the gradient, each a pass over the activations; FusedBatchNormV3 and its
    gradient are one pass each. The mathematics is Keras's: statistics in float32 over every axis
    but the last, the biased batch variance for normalising and for the moving average. Inference,
    synchronised (multi-replica) statistics and small layers take Keras's path, synchronised
    statistics with the variance taken about the global mean (_synchronized_moments).
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
    side, which oneDNN runs markedly slower than the equivalent product computed this way round.
    The products are the same; sums may round differently.
    """

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
    the stride. oneDNN runs that faster than its own filter-gradient kernel, Conv2DBackpropFilter,
    in float32 and much faster in bfloat16. The products are the same; sums may round differently.
    """
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
    oneDNN computes a transposed convolution to an image's 1-3 channels far below its matmul rate;
    this way it is about twice as fast. From ~8 output channels up, the transposed convolution wins.
    """
    import numpy as np

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


class FusedAdam(keras.optimizers.Adam):
    """Keras's Adam, each variable updated by TensorFlow's fused ResourceApplyAdam kernel.

    Keras 3's Adam updates a variable with about ten separate element-wise ops, each a pass over
    memory; the fused kernel computes the same update in one pass:

        alpha = lr * sqrt(1 - beta2^t) / (1 - beta1^t)
        m <- beta1 m + (1 - beta1) g,   v <- beta2 v + (1 - beta2) g^2,   w <- w - alpha m / (sqrt(v) + eps)

    which is Keras's formula exactly (epsilon added to sqrt(v), "epsilon hat"). The slots are
    Keras's own, so checkpoints are unchanged.
    """

    def update_step(self, gradient, variable, learning_rate):
        if self.amsgrad or isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        # Inside a strategy's update call, a mirrored slot's handle is this device's copy.
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle, m=m.value.handle, v=v.value.handle,
            beta1_power=tf.pow(beta_1, step), beta2_power=tf.pow(beta_2, step),
            lr=tf.cast(learning_rate, dtype), beta1=beta_1, beta2=beta_2, epsilon=tf.cast(self.epsilon, dtype),
            grad=tf.cast(gradient, dtype), use_locking=False, use_nesterov=False)
