"""A model family: what G takes and how it is sampled, what D returns, and how the losses combine.

In the spirit of TF-GAN's GANModel / ACGANModel / InfoGANModel. Code outside models/ asks the
family instead of knowing whether a model takes labels or how many outputs D has: the train step
(G's inputs, D's outputs, the loss terms), `dcgan sample` and the trainer's grids (G's inputs),
`dcgan evaluate` (which labels to draw), `dcgan probe` and `dcgan filters` (D's hidden features),
the bench presets and the CLI (which options and datasets fit). A family is one module in models/
(its pure Keras builders and a Family subclass) and one entry in models.FAMILIES.

Losses are per-example values, like the objectives in dcgan_cli/train/losses.py; the train step
averages each term over the *global* batch, so a family's terms are right on any number of replicas.

This module and the family modules load TensorFlow and Keras only inside the methods that compute,
so the CLI can read the registry without starting TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Callable, ClassVar

import numpy as np

# The z streams of the one counter-based sampler: training draws step k's z from stream k >= 0,
# everything else (samples, evaluations, the trainer's fixed grid) from SAMPLE_STREAM, so the z's
# that show a model never coincide with the z's it was trained on.
SAMPLE_STREAM = -1
GRID_COLUMNS = 8


def _uniform(key, shape):
    import tensorflow as tf

    return tf.random.stateless_uniform(shape, seed=key, minval=-1.0, maxval=1.0)


def _normal(key, shape):
    import tensorflow as tf

    return tf.random.stateless_normal(shape, seed=key)


# ClusterGAN's z (Mukherjee et al. 2019) beside a one-hot code: at 0.1 z's 62 dimensions give G's first
# layer less variance than InfoGAN's 10-way code does (62 x 0.01 against 10 x 0.09), where U(-1, 1)'s
# give it 23 times more (62 / 3), so the code rather than z decides what G draws early on. Measured on
# InfoGAN, it did not match the code to the digits better and cost the samples' spread (benchmarks/README.md).
NARROW_STD = 0.1


def _narrow(key, shape):
    return NARROW_STD * _normal(key, shape)


@dataclass(frozen=True)
class ZDistribution:
    draw: Callable  # (key, shape) -> tensor
    sweep: tuple[float, float]  # the range `dcgan sample --mode sweep` runs one dimension of z over
    help: str


Z_DISTRIBUTIONS = {
    "uniform": ZDistribution(_uniform, (-1.0, 1.0), "U(-1, 1)"),
    "normal": ZDistribution(_normal, (-2.0, 2.0), "N(0, 1)"),
    "narrow": ZDistribution(_narrow, (-2 * NARROW_STD, 2 * NARROW_STD), f"N(0, {NARROW_STD}^2)"),
}


def sample_z(seed, stream, n, z_dim: int, z_dist: str):
    """n z's from a counter-based RNG keyed on (seed, stream): a pure function of its arguments, so
    a resumed run draws exactly the z's an uninterrupted one would have (the step is the stream)."""
    import tensorflow as tf

    key = tf.stack([tf.cast(seed, tf.int64), tf.cast(stream, tf.int64)])
    return Z_DISTRIBUTIONS[z_dist].draw(key, (n, z_dim))


def labels_like(prior, num: int, seed: int) -> np.ndarray:
    """num class ids in the proportions `prior`, in a seeded order.

    The counts are exact (largest remainder), not sampled: a conditional model's samples should
    follow the data's class frequencies, as real images do (benchmarks/README.md, "Closing the
    FID gap": drawing the classes uniformly costs MNIST FID that is not the model's fault).
    """
    prior = np.asarray(prior, np.float64)
    exact = prior / prior.sum() * num
    counts = np.floor(exact).astype(int)
    counts[np.argsort(counts - exact, kind="stable")[:num - counts.sum()]] += 1
    return np.random.default_rng(seed).permutation(np.repeat(np.arange(len(prior)), counts))


# --d-norm: the normalisation after D's hidden layers (models/layers.py, d_normalization).
D_NORMS = {
    "batch": "BatchNorm, as the DCGAN paper (mixes a batch's examples: no per-example gradient penalty)",
    "layer": "layer normalisation of each example, a scale and offset per channel (WGAN-GP's advice)",
    "none": "no normalisation",
}


@dataclass
class Latents:
    """G's inputs for a batch of images: z, and whatever else the family conditions on."""

    z: Any  # (n, z_dim)
    labels: Any = None  # (n, num_classes) class vectors, one-hot or blended; families that take labels
    classes: Any = None  # (n,) the class ids behind one-hot labels, where there are ids
    codes: Any = None  # (n, code_dim) latent codes (InfoGAN's: one-hot categories, then continuous values)

    def __len__(self) -> int:
        return int(self.z.shape[0])

    def __getitem__(self, rows: slice) -> Latents:
        return replace(self, **{f.name: getattr(self, f.name)[rows] for f in fields(self)
                                if getattr(self, f.name) is not None})


@dataclass
class DOutput:
    """What D says about a batch of images."""

    logits: Any  # the real/fake logit of each image, float32
    aux: dict = field(default_factory=dict)  # auxiliary heads by name (ACGAN's class logits, InfoGAN's Q)
    features: dict = field(default_factory=dict)  # hidden activations by layer name, when asked for


class Family:
    """The base: an unconditional G(z) and a D(image) that returns one logit, trained adversarially."""

    name: ClassVar[str]
    description: ClassVar[str]
    takes_labels: ClassVar[bool] = False  # G takes a class (and, unless its D says otherwise, D too)
    # It trains on the data's class labels: every family whose G takes them, and sgan, whose D learns them.
    uses_labels: ClassVar[bool] = False
    # D has a head that classifies real images into the data's classes (DOutput.aux["classes"]): acgan, sgan.
    classifies: ClassVar[bool] = False
    # The architecture options this family reads (besides image shape and z): "width", "depth", "start_size".
    options: ClassVar[tuple[str, ...]] = ()
    # Other Config fields it reads, passed to __init__ by name (InfoGAN's loss weights).
    settings: ClassVar[tuple[str, ...]] = ()
    default_z_dim: ClassVar[int | None] = None  # its z_dim when --z-dim is not given; None: Config's
    default_width: ClassVar[int | None] = None
    default_depth: ClassVar[int | None] = None
    # Its own defaults for some of its `settings`, where they differ from Config's (InfoGAN's --q-with-g).
    default_settings: ClassVar[dict] = {}
    # Image sizes of `dcgan bench train`'s presets, named FAMILY-SIZE.
    bench_sizes: ClassVar[tuple[int, ...]] = ()
    # (weight layer, the activation after it) for each of D's hidden layers, input side first.
    hidden: ClassVar[tuple[tuple[str, str], ...]] = ()
    # The names of the per-example loss terms whose sums are D's and G's losses.
    d_terms: ClassVar[tuple[str, ...]] = ("d_loss_real", "d_loss_fake")
    g_terms: ClassVar[tuple[str, ...]] = ("g_loss",)
    # G's adversarial term among g_terms: what --g-objective feature_matching replaces.
    g_adversarial: ClassVar[str] = "g_loss"
    # The --d-norm values its D can take (D_NORMS), the first its default.
    d_norms: ClassVar[tuple[str, ...]] = tuple(D_NORMS)
    # The names of the latent codes G takes besides z (InfoGAN's), which `dcgan sample --code` fixes or sweeps.
    code_names: ClassVar[tuple[str, ...]] = ()
    # The --loss values (train/losses.py) its D can be trained with, None: every one; and why not the others.
    losses: ClassVar[tuple[str, ...] | None] = None
    losses_reason: ClassVar[str] = ""
    # Why WGAN's weight clipping (--clip, which clips every weight of D) does not fit its D; None: it does.
    refuses_clip: ClassVar[str | None] = None

    def __init__(self, image_size: int = 28, channels: int = 1, z_dim: int = 100, z_dist: str = "uniform",
                 num_classes: int = 0, width: int | None = None, depth: int | None = None, d_norm: str | None = None,
                 start_size: int | None = None, minibatch: bool = False, d_noise: float = 0.0):
        self.image_size, self.channels, self.z_dim, self.z_dist = image_size, channels, z_dim, z_dist
        self.num_classes = num_classes
        self.width = self.default_width if width is None else width
        self.depth = self.default_depth if depth is None else depth
        self.d_norm = self.d_norms[0] if d_norm is None else d_norm
        self.start_size = self.default_start_size(image_size) if start_size is None else start_size
        self.minibatch = minibatch  # minibatch discrimination before D's real/fake logit (models/layers.py)
        self.d_noise = d_noise  # --d-noise: Gaussian noise on D's input and hidden layers in training (models/layers.py)
        self._views: dict = {}  # (D, layer names) -> a Keras model of D's logits and those activations
        problem = self.problem()
        if problem:
            raise ValueError(problem)

    @classmethod
    def default_start_size(cls, image_size: int) -> int | None:
        """G's first feature map (and D's last) is start_size x start_size, for families with the option."""
        return None

    def problem(self) -> str | None:
        """Why this family cannot build a model of this shape, or None."""
        if self.start_size is not None and "start_size" not in self.options:
            return f"--start-size does not apply to the {self.name} family"
        if self.uses_labels and self.num_classes <= 0:
            return f"the {self.name} family needs class labels, and this data has none"
        if not self.uses_labels and self.num_classes:
            return f"the {self.name} family takes no class labels"
        if self.d_norm not in self.d_norms:
            return f"--d-norm {self.d_norm} does not apply to the {self.name} family's D (it takes {', '.join(self.d_norms)})"
        return None

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.image_size}x{self.image_size}x{self.channels}, z {self.z_dim} "
                f"{self.z_dist}, {self.num_classes} classes, width {self.width}, depth {self.depth}, D norm {self.d_norm}, "
                f"start size {self.start_size}{', minibatch discrimination' if self.minibatch else ''}"
                f"{f', D noise {self.d_noise:g}' if self.d_noise else ''})")

    # --- building ----------------------------------------------------------------------------

    def build(self, kernels=None, synchronized_bn: bool = False):
        """(G, D), under the current Keras dtype policy; kernels: a dcgan_cli.kernels.Kernels (default fast)."""
        generator, discriminator = self.build_generator(kernels, synchronized_bn), self.build_discriminator(kernels, synchronized_bn)
        if self.minibatch and "d_minibatch" not in {layer.name for layer in discriminator.layers}:
            # A family's builder must pass minibatch= on (models/layers.py, with_minibatch_features).
            raise ValueError(f"the {self.name} family's D was built without the minibatch discrimination asked for")
        if self.d_noise and not any(layer.name.startswith("d_noise_") for layer in discriminator.layers):
            # A family's builder must pass noise= on (models/layers.py, with_noise).
            raise ValueError(f"the {self.name} family's D was built without the --d-noise asked for")
        return generator, discriminator

    def build_generator(self, kernels=None, synchronized_bn: bool = False):
        raise NotImplementedError

    def build_discriminator(self, kernels=None, synchronized_bn: bool = False):
        raise NotImplementedError

    def trained_with_g(self, discriminator) -> list:
        """D's variables that G's updates train too, beside G's own (InfoGAN's Q head with --q-with-g)."""
        return []

    # --- what G takes, and how it is sampled ---------------------------------------------------

    def sample_z(self, n: int, seed: int, stream=SAMPLE_STREAM):
        return sample_z(seed, stream, n, self.z_dim, self.z_dist)

    def latents(self, z, classes=None, labels=None) -> Latents:
        """G's inputs from z and, for families that take labels, class ids or class vectors."""
        if not self.takes_labels:
            if classes is not None or labels is not None:
                raise ValueError(f"the {self.name} family takes no class labels")
            return Latents(z)
        if labels is None:
            if classes is None:
                raise ValueError(f"the {self.name} family needs a class for every z")
            labels = self.one_hot(classes)
        return Latents(z, labels=labels, classes=classes)

    def one_hot(self, classes):
        import tensorflow as tf

        return tf.one_hot(np.asarray(classes, np.int32), self.num_classes)

    def training_latents(self, seed, step, global_batch: int, local_batch, labels) -> Latents:
        """G's inputs for this replica's part of a training batch whose real images have `labels`.

        z for step k is drawn for the global batch from stream k and each replica takes its own
        slice, so the update does not depend on how many replicas share the batch.
        """
        import tensorflow as tf

        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        z = sample_z(seed, step, global_batch, self.z_dim, self.z_dist)
        z = z[replica * local_batch:(replica + 1) * local_batch]
        return Latents(z, labels=labels) if self.takes_labels else Latents(z)

    def evaluation_latents(self, n: int, seed: int, class_prior=None) -> Latents:
        """n random inputs for measuring G: classes (if any) in the proportions class_prior (default even)."""
        z = self.sample_z(n, seed)
        if not self.takes_labels:
            return Latents(z)
        prior = np.ones(self.num_classes) if class_prior is None else class_prior
        return self.latents(z, classes=labels_like(prior, n, seed))

    def grid_latents(self, seed: int) -> tuple[Latents, int]:
        """The fixed inputs of the trainer's sample grids, and the grid's rows: one row per class, or 8x8."""
        if self.takes_labels:
            classes = np.repeat(np.arange(self.num_classes), GRID_COLUMNS)
            return self.latents(self.sample_z(len(classes), seed), classes=classes), self.num_classes
        return self.latents(self.sample_z(GRID_COLUMNS * GRID_COLUMNS, seed)), GRID_COLUMNS

    def generator_fields(self) -> tuple[str, ...]:
        """The Latents fields G takes, in the order of its inputs (what `dcgan export`'s signature names)."""
        return ("z", "labels") if self.takes_labels else ("z",)

    def generator_inputs(self, latents: Latents):
        inputs = [getattr(latents, name) for name in self.generator_fields()]
        return inputs if len(inputs) > 1 else inputs[0]

    def generate(self, generator, latents: Latents, batch_size: int = 500) -> np.ndarray:
        """float32 images in [-1, 1], with BatchNorm in inference mode, in batches to bound memory."""
        def part(start):  # numpy throughout: Keras refuses a mix of arrays and tensors
            inputs = self.generator_inputs(latents[start:start + batch_size])
            return [np.asarray(x, np.float32) for x in inputs] if isinstance(inputs, list) else np.asarray(inputs, np.float32)

        out = [np.asarray(generator(part(start), training=False), np.float32)
               for start in range(0, len(latents), batch_size)]
        shape = (0, self.image_size, self.image_size, self.channels)
        return np.concatenate(out) if out else np.zeros(shape, np.float32)

    # --- what D returns --------------------------------------------------------------------------

    def discriminator_inputs(self, images, labels=None):
        return [images, labels] if self.takes_labels else images

    def discriminate(self, discriminator, images, labels=None, training: bool = False, features=()) -> DOutput:
        """D on images (conditioned on labels, for families that take them). `features`: names of hidden
        activations to return as well, from the same forward pass (e.g. for feature matching)."""
        inputs = self.discriminator_inputs(images, labels)
        if not features:
            out = discriminator(inputs, training=training)
            return self.d_output(list(out) if isinstance(out, (list, tuple)) else [out])
        heads = len(discriminator.outputs)
        out = self._view(discriminator, tuple(features))(inputs, training=training)
        return self.d_output(list(out[:heads]), features=dict(zip(features, out[heads:])))

    def d_output(self, heads: list, features=None) -> DOutput:
        """D's outputs (one per head, the real/fake logit first) as a DOutput."""
        return DOutput(heads[0], features=features or {})

    def _view(self, discriminator, names: tuple[str, ...]):
        """D's inputs to [its heads' outputs, the named activations]: D's own layers, so the same variables."""
        import keras

        key = (id(discriminator), names)
        if key not in self._views:
            outputs = [*discriminator.outputs, *(discriminator.get_layer(name).output for name in names)]
            # D's `input` keeps the structure D was built with (one tensor, or a list): with `inputs`, always a
            # list, a one-input view called on a tensor makes Keras warn that the structures differ.
            self._views[key] = keras.Model(discriminator.input, outputs)
        return self._views[key]

    def hidden_layers(self) -> tuple[tuple[str, str], ...]:
        return self.hidden

    def features(self, discriminator, images, labels=None, names=None, batch_size: int = 500,
                 each: Callable | None = None) -> dict[str, np.ndarray]:
        """D's hidden activations (inference mode) by name, default every hidden layer's.

        A family that takes labels gets `labels`, or all-zero label vectors without them, so that no
        label information reaches features meant to say something about the image alone.
        `each(name, batch_of_activations)` may reduce every batch as it comes (e.g. pool it).
        """
        names = tuple(names or [activation for _, activation in self.hidden_layers()])
        out: dict[str, list] = {name: [] for name in names}
        for start in range(0, len(images), batch_size):
            batch = np.asarray(images[start:start + batch_size], np.float32)
            if labels is not None:
                conditioning = np.asarray(labels[start:start + batch_size], np.float32)
            else:
                conditioning = np.zeros((len(batch), self.num_classes), np.float32)
            maps = self.discriminate(discriminator, batch, conditioning, features=names).features
            for name, value in maps.items():
                value = np.asarray(value, np.float32)
                out[name].append(each(name, value) if each else value)
        return {name: np.concatenate(parts) for name, parts in out.items()}

    def classify(self, discriminator, images, batch_size: int = 500) -> np.ndarray:
        """The class ids D's class head gives images (inference mode), for families that have one."""
        if not self.classifies:
            raise ValueError(f"the {self.name} family's D has no class head")
        out = []
        for start in range(0, len(images), batch_size):
            batch = np.asarray(images[start:start + batch_size], np.float32)
            classes = self.discriminate(discriminator, batch).aux["classes"]
            out.append(np.argmax(np.asarray(classes, np.float32), axis=1))
        return np.concatenate(out) if out else np.zeros((0,), np.int64)

    # --- how the losses combine -------------------------------------------------------------------

    def discriminator_loss(self, loss, real: DOutput, fake: DOutput, real_labels, latents: Latents) -> dict:
        """Per-example terms (named as d_terms) whose sum is D's loss; loss: a train.losses.GANLoss."""
        on_real, on_fake = loss.discriminator(real.logits, fake.logits)
        return {"d_loss_real": on_real, "d_loss_fake": on_fake}

    def generator_loss(self, loss, fake: DOutput, latents: Latents) -> dict:
        """Per-example terms (named as g_terms) whose sum is G's loss."""
        return {"g_loss": loss.generator(fake.logits)}

