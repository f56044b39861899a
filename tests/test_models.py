"""The models match reference.md layer for layer: output shapes and parameter counts."""

import numpy as np
import pytest

from dcgan_cli.models import FAMILIES


def build_models(family, image_size, channels, z_dim, num_classes, width):
    """(G, D) of a family at a shape, with the default (fast) kernels."""
    return FAMILIES[family](image_size, channels, z_dim, "uniform", num_classes, width).build()

# carpedm20's conditional MNIST model (reference.md section 2), layer by layer:
# (layer name, output shape without batch, parameter count)
CONDITIONAL_G = [
    ("g_concat_z", (110,), 0),  # concat(z[100], y[10])
    ("g_h0_lin", (1024,), 110 * 1024 + 1024),
    ("g_bn0", (1024,), 4 * 1024),
    ("g_concat_h0", (1034,), 0),
    ("g_h1_lin", (6272,), 1034 * 6272 + 6272),  # 128*7*7
    ("g_bn1", (6272,), 4 * 6272),
    ("g_h1_reshape", (7, 7, 128), 0),
    ("g_concat_h1", (7, 7, 138), 0),
    ("g_h2", (14, 14, 128), 5 * 5 * 138 * 128 + 128),
    ("g_bn2", (14, 14, 128), 4 * 128),
    ("g_concat_h2", (14, 14, 138), 0),
    ("g_h3", (28, 28, 1), 5 * 5 * 138 * 1 + 1),
    ("g_tanh", (28, 28, 1), 0),
]
CONDITIONAL_D = [
    ("d_concat_x", (28, 28, 11), 0),
    ("d_h0_conv", (14, 14, 11), 5 * 5 * 11 * 11 + 11),
    ("d_concat_h0", (14, 14, 21), 0),
    ("d_h1_conv", (7, 7, 74), 5 * 5 * 21 * 74 + 74),
    ("d_bn1", (7, 7, 74), 4 * 74),
    ("d_h1_flatten", (3626,), 0),
    ("d_concat_h1", (3636,), 0),
    ("d_h2_lin", (1024,), 3636 * 1024 + 1024),
    ("d_bn2", (1024,), 4 * 1024),
    ("d_concat_h2", (1034,), 0),
    ("d_h3_lin", (1,), 1034 + 1),
]


def layer_table(model, names):
    by_name = {layer.name: layer for layer in model.layers}
    return [(n, tuple(by_name[n].output.shape[1:]), by_name[n].count_params()) for n in names]


def test_conditional_mnist_matches_carpedm20_layer_for_layer():
    G, D = build_models("conditional", 28, 1, 100, 10, 64)
    assert layer_table(G, [n for n, _, _ in CONDITIONAL_G]) == CONDITIONAL_G
    assert layer_table(D, [n for n, _, _ in CONDITIONAL_D]) == CONDITIONAL_D
    assert G.count_params() == sum(p for _, _, p in CONDITIONAL_G)
    assert D.count_params() == sum(p for _, _, p in CONDITIONAL_D)


@pytest.mark.parametrize("size,width,start_size,start,stages", [
    (64, 128, None, 4, 4), (128, 64, None, 8, 4), (32, 64, None, 4, 3), (28, 64, None, 4, 3),  # the paper's 4x4
    (28, 64, 2, 2, 4), (32, 64, 2, 2, 4), (28, 64, 7, 7, 2)])  # carpedm20's 2x2 (halving four times); 7x7
def test_dcgan_shapes_follow_the_paper(size, width, start_size, start, stages):
    channels = 1 if size == 28 else 3
    G, D = FAMILIES["dcgan"](size, channels, 100, "uniform", 0, width, start_size=start_size).build()
    convs = [l for l in G.layers if l.name.startswith("g_h") and l.count_params()]
    shapes = [tuple(l.output.shape[1:]) for l in convs]
    # z -> start x start x w*2^(stages-1), then doubling the size and halving the channels up to the image: the
    # paper's 4x4x1024 -> 8x8x512 -> 16x16x256 -> 32x32x128 -> 64x64x3 at width 128; 4x4x256 -> 7x7x128 -> ... at 28.
    sizes = [size]
    for _ in range(stages):
        sizes.append(-(-sizes[-1] // 2))
    assert sizes[-1] == start
    assert shapes[0] == (start * start * width * 2 ** (stages - 1),)
    assert shapes[1:] == [(sizes[i], sizes[i], width * 2 ** (i - 1)) for i in range(stages - 1, 0, -1)] + \
        [(size, size, channels)]
    d_convs = [tuple(l.output.shape[1:]) for l in D.layers if l.name.endswith("_conv")]
    assert d_convs == [(sizes[i + 1], sizes[i + 1], width * 2 ** i) for i in range(stages)]
    assert D.output.shape[1:] == (1,)


def test_batchnorm_settings_and_placement():
    for model in build_models("conditional", 28, 1, 100, 10, 64) + build_models("dcgan", 64, 3, 100, 0, 64):
        bns = [l for l in model.layers if "bn" in l.name]
        assert bns and all(l.momentum == 0.9 and l.epsilon == 1e-5 for l in bns)
    import keras

    # No BatchNorm on G's output layer nor on D's input layer.
    for G, D in (build_models("conditional", 28, 1, 100, 10, 64), build_models("dcgan", 64, 3, 100, 0, 64)):
        producer = G.get_layer("g_tanh").input._keras_history.operation
        assert isinstance(producer, keras.layers.Conv2DTranspose)
        assert D.get_layer("d_h0_lrelu").input._keras_history.operation is D.get_layer("d_h0_conv")


def test_weights_start_from_normal_0_02():
    G, D = build_models("conditional", 28, 1, 100, 10, 64)
    kernel = G.get_layer("g_h1_lin").kernel.numpy()
    assert abs(kernel.std() - 0.02) < 0.001 and abs(kernel.mean()) < 0.001
    conv = D.get_layer("d_h1_conv").kernel.numpy()
    assert np.abs(conv).max() <= 0.04 + 1e-6  # truncated at two standard deviations
    assert not G.get_layer("g_h1_lin").bias.numpy().any()


def test_any_batch_size_works_and_outputs_are_in_range():
    G, D = build_models("conditional", 28, 1, 100, 10, 64)
    for n in (1, 7, 130):
        z = np.random.uniform(-1, 1, (n, 100)).astype("float32")
        y = np.eye(10, dtype="float32")[np.arange(n) % 10]
        images = G([z, y], training=False).numpy()
        assert images.shape == (n, 28, 28, 1) and np.abs(images).max() <= 1.0
        assert D([images, y], training=False).shape == (n, 1)


def test_mixed_precision_keeps_images_and_logits_in_float32():
    import keras

    from dcgan_cli.train.precision import dtype_policy

    with dtype_policy("mixed_float16"):
        G, D = build_models("conditional", 28, 1, 100, 10, 64)
    assert G.get_layer("g_h2").compute_dtype == "float16"
    z, y = np.zeros((2, 100), "float32"), np.eye(10, dtype="float32")[:2]
    images = G([z, y])
    assert images.dtype == "float32" and D([np.asarray(images), y]).dtype == "float32"
    assert keras.config.dtype_policy().name == "float32"  # the global policy was restored


@pytest.mark.parametrize("shape", [(8, 16, 16, 32), (8, 6272), (8, 7, 7, 74)])
def test_fused_batchnorm_is_keras_batchnorm(shape):
    """Same outputs, gradients and moving statistics as Keras's layer, and the same variables."""
    import keras
    import tensorflow as tf

    from dcgan_cli.kernels.fast import FusedBatchNorm
    from dcgan_cli.models.layers import BN_EPSILON, BN_MOMENTUM

    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(2, 3, shape).astype("float32"))
    upstream = tf.constant(rng.normal(size=shape).astype("float32"))
    gamma, beta = rng.normal(1, 0.1, shape[-1:]), rng.normal(0, 0.1, shape[-1:])
    results = []
    for layer in (keras.layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name="bn"),
                  FusedBatchNorm(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name="bn")):
        layer.build(shape)
        layer.gamma.assign(gamma)
        layer.beta.assign(beta)
        for _ in range(2):  # the second call normalises with statistics the first one moved
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x, training=True)
                loss = tf.reduce_sum(y * upstream)
            grads = tape.gradient(loss, [x, layer.gamma, layer.beta])
        results.append([y, *grads, layer.moving_mean, layer.moving_variance, layer(x, training=False)])
        results[-1].append(sorted(v.path for v in layer.weights))
    keras_names, fused_names = results[0].pop(), results[1].pop()
    assert keras_names == fused_names
    for name, a, b in zip(["y", "dx", "dgamma", "dbeta", "moving_mean", "moving_variance", "inference"], *results):
        scale = float(tf.reduce_max(tf.abs(a)))
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), atol=2e-6 * max(1.0, scale), err_msg=name)


def test_fused_batchnorm_in_mixed_bfloat16_matches_keras():
    """bfloat16 activations enter the fused kernel uncast; statistics still come out in float32."""
    import keras
    import tensorflow as tf

    from dcgan_cli.kernels.fast import FusedBatchNorm

    x = tf.cast(tf.constant(np.random.default_rng(0).normal(2, 3, (8, 16, 16, 32)).astype("float32")), tf.bfloat16)
    outputs = []
    for layer in (keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, dtype="mixed_bfloat16"),
                  FusedBatchNorm(momentum=0.9, epsilon=1e-5, dtype="mixed_bfloat16")):
        y = layer(x, training=True)
        assert y.dtype == tf.bfloat16 and layer.moving_mean.dtype == tf.float32
        outputs.append([tf.cast(y, tf.float32), layer.moving_mean, layer.moving_variance])
    for a, b in zip(*outputs):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-2, atol=1e-2)


def test_synchronized_batchnorm_variance_survives_a_large_mean():
    """Synchronised BatchNorm's variance is taken about the mean, not as E[x^2] - E[x]^2."""
    import keras
    import tensorflow as tf

    from dcgan_cli.kernels.fast import FusedBatchNorm

    # A mean 10^4 spreads from zero: E[x^2] - E[x]^2 keeps no correct digit of the variance in float32.
    x = np.random.default_rng(0).normal(1000.0, 0.1, (16, 4, 4, 8)).astype("float32")
    exact = x.astype("float64").var(axis=(0, 1, 2))
    ours = FusedBatchNorm(momentum=0.0, synchronized=True)
    keras_own = keras.layers.BatchNormalization(momentum=0.0, synchronized=True)
    for layer in (ours, keras_own):
        layer(tf.constant(x), training=True)  # momentum 0: the moving variance is the batch's
    np.testing.assert_allclose(ours.moving_variance.numpy(), exact, rtol=1e-4)
    assert np.max(np.abs(keras_own.moving_variance.numpy() / exact - 1)) > 0.1  # the check can fail


@pytest.mark.parametrize("units, batch, features", [(6272, 8, 1034), (1, 4, 1034)])
def test_fast_gradient_dense_is_keras_dense(units, batch, features):
    """Same outputs and gradients (input, kernel, bias) as Keras's Dense, and the same variables."""
    import keras
    import tensorflow as tf

    from dcgan_cli.kernels.fast import FastGradDense

    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(batch, features)).astype("float32"))
    upstream = tf.constant(rng.normal(size=(batch, units)).astype("float32"))
    results = []
    for layer in (keras.layers.Dense(units, name="lin"), FastGradDense(units, name="lin")):
        layer.build((batch, features))
        layer.kernel.assign(rng.normal(0, 0.02, (features, units)) if not results else results[0][-1])
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(layer(x) * upstream)
        results.append([layer(x), *tape.gradient(loss, [x, layer.kernel, layer.bias]),
                        sorted(v.path for v in layer.weights), layer.kernel.numpy()])
    for name, a, b in zip(["y", "dx", "dkernel", "dbias", "variables"], results[0], results[1]):
        if name == "variables":
            assert a == b
        else:
            # Summed in another order: equal to float32 rounding of the largest value.
            scale = max(1.0, float(np.abs(np.asarray(a)).max()))
            np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=0, atol=2e-6 * scale, err_msg=name)


@pytest.mark.parametrize("kind", ["dense", "deconv", "image deconv"])
def test_fast_gradient_layers_in_mixed_bfloat16(kind):
    """bfloat16 compute with float32 variables and float32 kernel gradients, as Keras's layers."""
    import keras
    import tensorflow as tf

    from dcgan_cli.kernels.fast import FastGradConv2DTranspose, FastGradDense

    init = keras.initializers.Constant(0.01)
    if kind == "dense":
        shape, classes, args = (8, 64), (keras.layers.Dense, FastGradDense), dict(units=32)
    else:
        shape, classes = (4, 7, 7, 24), (keras.layers.Conv2DTranspose, FastGradConv2DTranspose)
        args = dict(filters=8 if kind == "deconv" else 1, kernel_size=5, strides=2, padding="same", output_padding=1)
    x = tf.constant(np.random.default_rng(0).normal(size=shape).astype("float32"))
    grads = []
    for cls, dtype in ((classes[0], "float32"), *((cls, "mixed_bfloat16") for cls in classes)):
        layer = cls(**args, dtype=dtype, kernel_initializer=init)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(tf.cast(y, tf.float32) ** 2)
        assert layer.kernel.dtype == tf.float32 and y.dtype == (tf.float32 if dtype == "float32" else tf.bfloat16)
        grads.append(tape.gradient(loss, [x, layer.kernel]))
    # Both bfloat16 forms against the float32 truth, not against each other: on a CPU without native
    # BF16 (Zen 3) TensorFlow's own bfloat16 kernel gradient is 1.9% of its largest value off the truth,
    # the fast form 0.6%, so the two differ by more than either's error on a CPU with it.
    for truth, keras_grad, fast_grad in zip(*grads):
        assert keras_grad.dtype == fast_grad.dtype == truth.dtype
        scale = float(np.abs(truth).max())
        keras_error = float(np.abs(np.asarray(keras_grad) - truth).max()) / scale
        fast_error = float(np.abs(np.asarray(fast_grad) - truth).max()) / scale
        assert fast_error <= max(1e-2, keras_error), (fast_error, keras_error)


@pytest.mark.parametrize("in_size, out_size, cin, cout", [(7, 14, 138, 16), (4, 7, 12, 8), (4, 8, 6, 5),  # transposed
                                                           (14, 28, 20, 1), (4, 7, 12, 3), (32, 64, 8, 3)])  # sub-pixel
def test_fast_gradient_deconv_is_keras_conv2d_transpose(in_size, out_size, cin, cout):
    """Same outputs and gradients (input, kernel, bias) as Keras's Conv2DTranspose, for every size
    step the builders use (2n and 2n - 1 pixels), both ways of computing the forward pass, and the
    same variables."""
    import keras
    import tensorflow as tf

    from dcgan_cli.kernels import resolve_kernels
    from dcgan_cli.kernels.fast import FastGradConv2DTranspose
    from dcgan_cli.models.layers import deconv

    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(3, in_size, in_size, cin)).astype("float32"))
    upstream = tf.constant(rng.normal(size=(3, out_size, out_size, cout)).astype("float32"))
    fast = deconv(cout, in_size, out_size, "g_h", resolve_kernels("fast"))
    assert isinstance(fast, FastGradConv2DTranspose)
    plain = keras.layers.Conv2DTranspose(cout, 5, strides=2, padding="same", output_padding=fast.output_padding, name="g_h")
    results = []
    for layer in (plain, fast):
        layer.build(x.shape)
        layer.kernel.assign(rng.normal(0, 0.02, layer.kernel.shape) if not results else plain.kernel)
        layer.bias.assign(np.linspace(-1, 1, cout))
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(layer(x) * upstream)
        results.append([layer(x), *tape.gradient(loss, [x, layer.kernel, layer.bias]), sorted(v.path for v in layer.weights)])
    assert results[0].pop() == results[1].pop()
    for name, a, b in zip(["y", "dx", "dkernel", "dbias"], *results):
        scale = max(1.0, float(np.abs(np.asarray(a)).max()))
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=0, atol=2e-6 * scale, err_msg=name)
