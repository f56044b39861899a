"""The FID Inception network: TensorFlow's 2015-12-05 Inception v3 graph, the network of the FID
paper's code (TTUR) and so of published FIDs, rebuilt from stock Keras layers.

Its weights are the ones pytorch-fid and torch-fidelity use (the original graph's, ported to a
PyTorch state dict: FILE_NAME, sha256 SHA256). No package that installs beside TensorFlow ships
them, so the user downloads the file once (`dcgan download inception`) and every use checks its
sha256. The preprocessing is the original graph's, as torch-fidelity reproduces it: uint8 RGB
pixels (grayscale repeated to three channels), resized to 299x299 by TensorFlow 1's bilinear
resize (no half-pixel centres, no antialiasing), then (x - 128) / 128. Features are the 2048-d
pool3 layer; Inception Score uses the 1008 logits without their bias (as OpenAI's IS code).

The architecture is torchvision's Inception3 with pytorch-fid's changes towards the TF graph:
average pools that leave padding out of the count (TensorFlow's SAME), and a max pool in the last
block's pooling branch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dcgan_cli.errors import UserError

FILE_NAME = "pt_inception-2015-12-05-6726825d.pth"
URL = "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/" + FILE_NAME
# torch.hub names weights files by their sha256's first 8 hex digits; this is the whole digest.
SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
INPUT_SIZE = 299
BN_EPSILON = 1e-3
NUM_LOGITS = 1008
BATCH_SIZE = 50
DESCRIPTION = ("FID Inception v3 (TensorFlow's 2015-12-05 graph, weights sha256 6726825d...), 2048-d pool3 features; "
               "images as uint8 RGB resized to 299x299 by TF1 bilinear resize")


def default_weights_path() -> Path:
    from dcgan_cli.eval.classifier import cache_dir

    return cache_dir("inception") / FILE_NAME


def how_to_get() -> str:
    return (f"run `dcgan download inception` (91 MB, once), or download {URL} yourself "
            f"and pass --inception-weights FILE")


# --- The network ---------------------------------------------------------------------------------

class _Builder:
    """Builds the network with stock layers, recording which layers hold each PyTorch module's weights."""

    def __init__(self):
        self.convs: dict[str, tuple] = {}  # "Mixed_5b.branch1x1" -> (Conv2D, BatchNormalization)

    def conv(self, x, name, filters, kernel, strides=1, padding="valid"):
        """pytorch-fid's BasicConv2d: convolution without bias, BatchNorm (epsilon 1e-3), ReLU."""
        from keras import layers

        conv = layers.Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=False, name=f"{name}_conv")
        norm = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn")
        self.convs[name] = (conv, norm)
        return layers.ReLU(name=f"{name}_relu")(norm(conv(x)))

    def block_a(self, x, name, pool_features):
        from keras import layers

        b1 = self.conv(x, f"{name}.branch1x1", 64, 1)
        b5 = self.conv(self.conv(x, f"{name}.branch5x5_1", 48, 1), f"{name}.branch5x5_2", 64, 5, padding="same")
        b3 = self.conv(x, f"{name}.branch3x3dbl_1", 64, 1)
        b3 = self.conv(self.conv(b3, f"{name}.branch3x3dbl_2", 96, 3, padding="same"), f"{name}.branch3x3dbl_3", 96, 3,
                       padding="same")
        pool = layers.AveragePooling2D(3, strides=1, padding="same", name=f"{name}_avgpool")(x)
        bp = self.conv(pool, f"{name}.branch_pool", pool_features, 1)
        return layers.Concatenate(name=name)([b1, b5, b3, bp])

    def block_b(self, x, name):
        from keras import layers

        b3 = self.conv(x, f"{name}.branch3x3", 384, 3, strides=2)
        bd = self.conv(x, f"{name}.branch3x3dbl_1", 64, 1)
        bd = self.conv(self.conv(bd, f"{name}.branch3x3dbl_2", 96, 3, padding="same"), f"{name}.branch3x3dbl_3", 96, 3,
                       strides=2)
        return layers.Concatenate(name=name)([b3, bd, layers.MaxPooling2D(3, strides=2, name=f"{name}_maxpool")(x)])

    def block_c(self, x, name, c7):
        from keras import layers

        b1 = self.conv(x, f"{name}.branch1x1", 192, 1)
        b7 = self.conv(x, f"{name}.branch7x7_1", c7, 1)
        b7 = self.conv(b7, f"{name}.branch7x7_2", c7, (1, 7), padding="same")
        b7 = self.conv(b7, f"{name}.branch7x7_3", 192, (7, 1), padding="same")
        bd = self.conv(x, f"{name}.branch7x7dbl_1", c7, 1)
        for i, (filters, kernel) in enumerate(((c7, (7, 1)), (c7, (1, 7)), (c7, (7, 1)), (192, (1, 7))), start=2):
            bd = self.conv(bd, f"{name}.branch7x7dbl_{i}", filters, kernel, padding="same")
        pool = layers.AveragePooling2D(3, strides=1, padding="same", name=f"{name}_avgpool")(x)
        return layers.Concatenate(name=name)([b1, b7, bd, self.conv(pool, f"{name}.branch_pool", 192, 1)])

    def block_d(self, x, name):
        from keras import layers

        b3 = self.conv(self.conv(x, f"{name}.branch3x3_1", 192, 1), f"{name}.branch3x3_2", 320, 3, strides=2)
        b7 = self.conv(x, f"{name}.branch7x7x3_1", 192, 1)
        b7 = self.conv(b7, f"{name}.branch7x7x3_2", 192, (1, 7), padding="same")
        b7 = self.conv(b7, f"{name}.branch7x7x3_3", 192, (7, 1), padding="same")
        b7 = self.conv(b7, f"{name}.branch7x7x3_4", 192, 3, strides=2)
        return layers.Concatenate(name=name)([b3, b7, layers.MaxPooling2D(3, strides=2, name=f"{name}_maxpool")(x)])

    def block_e(self, x, name, last):
        from keras import layers

        b1 = self.conv(x, f"{name}.branch1x1", 320, 1)
        b3 = self.conv(x, f"{name}.branch3x3_1", 384, 1)
        b3 = [self.conv(b3, f"{name}.branch3x3_2a", 384, (1, 3), padding="same"),
              self.conv(b3, f"{name}.branch3x3_2b", 384, (3, 1), padding="same")]
        bd = self.conv(self.conv(x, f"{name}.branch3x3dbl_1", 448, 1), f"{name}.branch3x3dbl_2", 384, 3, padding="same")
        bd = [self.conv(bd, f"{name}.branch3x3dbl_3a", 384, (1, 3), padding="same"),
              self.conv(bd, f"{name}.branch3x3dbl_3b", 384, (3, 1), padding="same")]
        # The TF graph's last block pools with a max, not an average (pytorch-fid's FIDInceptionE_2).
        pool_layer = layers.MaxPooling2D if last else layers.AveragePooling2D
        pool = pool_layer(3, strides=1, padding="same", name=f"{name}_pool")(x)
        return layers.Concatenate(name=name)([b1, *b3, *bd, self.conv(pool, f"{name}.branch_pool", 192, 1)])


def build_network():
    """(Keras model: normalised 299x299x3 images -> (pool3 features, unbiased logits), {module: layers})."""
    import keras
    from keras import layers

    build = _Builder()
    image = keras.Input((INPUT_SIZE, INPUT_SIZE, 3), name="image")
    h = build.conv(image, "Conv2d_1a_3x3", 32, 3, strides=2)
    h = build.conv(h, "Conv2d_2a_3x3", 32, 3)
    h = build.conv(h, "Conv2d_2b_3x3", 64, 3, padding="same")
    h = layers.MaxPooling2D(3, strides=2, name="MaxPool_1")(h)
    h = build.conv(h, "Conv2d_3b_1x1", 80, 1)
    h = build.conv(h, "Conv2d_4a_3x3", 192, 3)
    h = layers.MaxPooling2D(3, strides=2, name="MaxPool_2")(h)
    for name, pool_features in (("Mixed_5b", 32), ("Mixed_5c", 64), ("Mixed_5d", 64)):
        h = build.block_a(h, name, pool_features)
    h = build.block_b(h, "Mixed_6a")
    for name, c7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
        h = build.block_c(h, name, c7)
    h = build.block_d(h, "Mixed_7a")
    h = build.block_e(h, "Mixed_7b", last=False)
    h = build.block_e(h, "Mixed_7c", last=True)
    features = layers.GlobalAveragePooling2D(name="pool3")(h)
    fc = layers.Dense(NUM_LOGITS, use_bias=False, name="fc")
    return keras.Model(image, [features, fc(features)], name="fid_inception"), {**build.convs, "fc": (fc,)}


def assign_weights(parts: dict, state: dict[str, np.ndarray], source) -> None:
    """Copy a pytorch-fid state dict into the network's layers (OIHW kernels become HWIO)."""
    def take(key, shape):
        if key not in state:
            raise UserError(f"{source} is not the FID Inception weights: it has no {key}; {how_to_get()}")
        value = np.asarray(state[key], np.float32)
        if value.shape != tuple(shape):
            raise UserError(f"{source} is not the FID Inception weights: {key} is {value.shape}, expected "
                            f"{tuple(shape)}; {how_to_get()}")
        return value

    for name, layers_ in parts.items():
        if name == "fc":
            (fc,) = layers_
            fc.set_weights([take("fc.weight", fc.kernel.shape[::-1]).T])
            continue
        conv, norm = layers_
        kh, kw, cin, cout = conv.kernel.shape
        conv.set_weights([take(f"{name}.conv.weight", (cout, cin, kh, kw)).transpose(2, 3, 1, 0)])
        norm.set_weights([take(f"{name}.bn.{key}", (cout,)) for key in ("weight", "bias", "running_mean", "running_var")])


# --- Using it --------------------------------------------------------------------------------------

def check_weights_file(path) -> Path:
    """The weights file to use (default: the one `dcgan download inception` writes); one-line errors
    when it is missing or not the published file."""
    from dcgan_cli.datasets.download import digest_of

    path = Path(path) if path is not None else default_weights_path()
    if not path.is_file():
        raise UserError(f"--features inception needs the FID Inception weights, not found at {path}: {how_to_get()}")
    actual = digest_of(path, "sha256")
    if actual != SHA256:
        raise UserError(f"{path} has sha256 {actual[:16]}..., not the FID Inception weights' {SHA256[:16]}...; "
                        f"{how_to_get()}")
    return path


class FidInception:
    """features_and_probs(uint8 images) -> (N x 2048 pool3 features, N x 1008 softmax of unbiased logits)."""

    def __init__(self, weights_path=None):
        from dcgan_cli.eval.torch_weights import NotAStateDict, load_state_dict

        path = check_weights_file(weights_path)
        self.sha256 = SHA256
        try:
            state = load_state_dict(path)
        except (OSError, NotAStateDict) as exc:
            raise UserError(f"cannot read {path} as a PyTorch state dict ({exc}); {how_to_get()}") from None
        self.model, self.parts = build_network()
        assign_weights(self.parts, state, path)
        self.weights_path = path
        self._run = None

    def features_and_probs(self, images_uint8, batch_size: int = BATCH_SIZE) -> tuple[np.ndarray, np.ndarray]:
        import tensorflow as tf

        images = np.asarray(images_uint8)
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] not in (1, 3):
            raise ValueError(f"FID Inception takes N x H x W x 1|3 uint8 images, got {images.dtype} {images.shape}")
        if self._run is None:
            @tf.function(reduce_retracing=True)
            def run(batch):
                x = tf.cast(batch, tf.float32)
                x = tf.tile(x, [1, 1, 1, 3]) if x.shape[-1] == 1 else x
                # TF1's bilinear resize, as inside the original graph (and torch-fidelity).
                x = tf.raw_ops.ResizeBilinear(images=x, size=[INPUT_SIZE, INPUT_SIZE], align_corners=False,
                                              half_pixel_centers=False)
                features, logits = self.model((x - 128.0) / 128.0, training=False)
                return features, tf.nn.softmax(logits)

            self._run = run
        features, probs = [], []
        for start in range(0, len(images), batch_size):
            f, p = self._run(tf.constant(images[start:start + batch_size]))
            features.append(f.numpy())
            probs.append(p.numpy())
        if not features:
            return np.zeros((0, 2048), np.float32), np.zeros((0, NUM_LOGITS), np.float32)
        return np.concatenate(features), np.concatenate(probs)
