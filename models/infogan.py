"""InfoGAN (Chen et al. 2016): G takes noise z plus latent codes c; a head Q on D's body recovers c
from G's images, and both players add lambda * the information term (a lower bound on I(c; G(z, c))
up to a constant) to their losses, so that each code comes to control something the images show.

The paper's MNIST setting is the default (reference.md section 6): 62 noise variables, one 10-way
categorical code Cat(K=10, p=0.1) and two continuous codes U(-1, 1); at 28x28 its networks (G: FC
1024 - FC 7x7x128 - 4x4 up-conv 64 - 4x4 up-conv to the image, BatchNorm + ReLU between; D: 4x4
conv 64 stride 2 - 4x4 conv 128 stride 2 - FC 1024, LeakyReLU 0.1, BatchNorm on every layer but
the first), elsewhere our DCGAN body (models/dcgan.py, --width). Q shares every layer of D but
the last and adds one hidden layer (128 units, BatchNorm, LeakyReLU) and the code outputs: the
categorical code's K logits and the continuous codes' means.

The information terms, per example, only on fakes (only there is c known): the categorical code's
cross-entropy, weighted by --info-weight (the paper's lambda = 1), and the continuous codes' mean
squared error, i.e. the log-likelihood of a unit-variance factored Gaussian Q up to constants,
weighted by --info-weight-continuous. The paper asks for a smaller weight there without giving one;
0.1 is eriklindernoren/PyTorch-GAN's (implementations/infogan: lambda_con = 0.1 on the same MSE).
"""

from __future__ import annotations

import numpy as np

from dcgan_cli.models import dcgan
from dcgan_cli.models.family import DOutput, Family, Latents

NOISE = 62
CATEGORIES = 10
CONTINUOUS = 2
Q_UNITS = 128
LEAK = 0.1  # the paper's LeakyReLU slope (DCGAN's is 0.2)
INFO_WEIGHT = 1.0
INFO_WEIGHT_CONTINUOUS = 0.1
# G's updates train Q's head too (--q-with-g), as the paper's objective has it. On MNIST the code-to-class
# matching over seeds 0-4 went from 94.96, 84.97, 89.05, 89.90, 91.06% to 99.49, 83.79, 99.37, 89.51,
# 80.28%: the median of seeds 0-2 from 89.05% to 99.37%, that of all five from 89.90% to 89.51%; the
# code settles on all ten digits or leaves a few values mixing two (benchmarks/README.md, "InfoGAN with
# Q trained in G's updates").
Q_WITH_G = True
PAPER_SIZE = 28
PAPER_WIDTH = 64  # its G's last up-conv and D's first conv: 64 filters; the others 128 and 1024
# What `dcgan sample --code` and `dcgan evaluate` call the codes: the categorical one, then the continuous
# ones (the training metrics' d_info_cat and d_info_cont terms).
CATEGORICAL = "cat"
CODE_NAMES = (CATEGORICAL, *(f"cont{i + 1}" for i in range(CONTINUOUS)))
# The paper's figures run a continuous code from -2 to 2, beyond its U(-1, 1) training range, to show
# that the factor it learned extrapolates.
CONTINUOUS_SWEEP = (-2.0, 2.0)


class InfoGAN(Family):
    name = "infogan"
    description = ("InfoGAN: G takes z (62-d) plus a 10-way categorical and two continuous codes; Q on D's body "
                   "recovers them (the paper's MNIST nets at 28x28, the DCGAN body elsewhere)")
    options = ("width",)
    settings = ("info_weight", "info_weight_continuous", "q_with_g")
    default_settings = {"q_with_g": Q_WITH_G}
    default_width = PAPER_WIDTH
    default_z_dim = NOISE
    bench_sizes = (28,)
    hidden = (("d_h0_conv", "d_h0_lrelu"), ("d_h1_conv", "d_h1_lrelu"), ("d_h2_lin", "d_h2_lrelu"))
    d_terms = ("d_loss_real", "d_loss_fake", "d_info_cat", "d_info_cont")
    g_terms = ("g_loss_adv", "g_info_cat", "g_info_cont")
    g_adversarial = "g_loss_adv"
    refuses_clip = "it would clip Q's weights too, which need no Lipschitz bound; use --gradient-penalty wgan-gp instead"
    categories = CATEGORIES
    continuous = CONTINUOUS
    code_names = CODE_NAMES
    continuous_sweep = CONTINUOUS_SWEEP

    def __init__(self, *args, info_weight: float = INFO_WEIGHT, info_weight_continuous: float = INFO_WEIGHT_CONTINUOUS,
                 q_with_g: bool = Q_WITH_G, **kwargs):
        self.info_weight, self.info_weight_continuous, self.q_with_g = info_weight, info_weight_continuous, q_with_g
        super().__init__(*args, **kwargs)

    @property
    def paper(self) -> bool:
        return self.image_size == PAPER_SIZE

    @property
    def code_dim(self) -> int:
        return self.categories + self.continuous

    def problem(self):
        if self.paper and self.width != PAPER_WIDTH:
            return f"at 28x28 the infogan family is the paper's MNIST model, whose widths are fixed: drop --width {self.width}"
        if self.info_weight < 0 or self.info_weight_continuous < 0:
            return "--info-weight and --info-weight-continuous must be 0 or more"
        return super().problem()

    def hidden_layers(self):
        return self.hidden if self.paper else dcgan.hidden_layers(self.image_size)

    # --- building ------------------------------------------------------------------------------

    def build_generator(self, kernels=None, synchronized_bn=False):
        if self.paper:
            return paper_generator(self.z_dim, self.code_dim, self.channels, synchronized_bn, kernels)
        return coded_generator(self.image_size, self.channels, self.z_dim, self.code_dim, self.width, synchronized_bn, kernels)

    def build_discriminator(self, kernels=None, synchronized_bn=False):
        if self.paper:
            body = paper_discriminator_body(self.channels, synchronized_bn, kernels, noise=self.d_noise)
        else:
            body = dcgan.discriminator(self.image_size, self.channels, self.width, synchronized_bn, kernels,
                                       name="d_body", features=True, noise=self.d_noise)
        return with_heads(body, self.categories, self.continuous, "d_h3_lin" if self.paper else "d_h4_lin",
                          synchronized_bn, kernels, minibatch=self.minibatch)

    # --- what G takes ----------------------------------------------------------------------------

    def codes(self, seed, stream, n):
        """n codes from the counter-based RNG, keyed apart from z's: one-hot categories, then U(-1, 1)."""
        import tensorflow as tf

        key = tf.random.experimental.stateless_fold_in(tf.stack([tf.cast(seed, tf.int64), tf.cast(stream, tf.int64)]), 1)
        categories = tf.random.stateless_uniform((n,), seed=key, minval=0, maxval=self.categories, dtype=tf.int32)
        continuous = tf.random.stateless_uniform((n, self.continuous), seed=tf.random.experimental.stateless_fold_in(key, 1),
                                                 minval=-1.0, maxval=1.0)
        return tf.concat([tf.one_hot(categories, self.categories), continuous], axis=1)

    # --- naming, fixing and sweeping one code (`dcgan sample --code`) ------------------------------

    def is_categorical(self, name: str) -> bool:
        return name == CATEGORICAL

    def describe_codes(self) -> str:
        """e.g. "cat (0..9), cont1, cont2 (continuous, trained on -1..1)"."""
        continuous = ", ".join(self.code_names[1:])
        return f"{CATEGORICAL} (0..{self.categories - 1}), {continuous} (continuous, trained on -1..1)"

    def code_columns(self) -> str:
        """Where each code sits in G's codes input (what `dcgan export`'s signature documents)."""
        continuous = ", ".join(f"{self.categories + i} {name}" for i, name in enumerate(self.code_names[1:]))
        return (f"latent codes: columns 0-{self.categories - 1} the categorical code {CATEGORICAL}, one-hot (a blend of "
                f"values is allowed); columns {continuous}, continuous (U(-1, 1) in training)")

    def code_value(self, name: str, text: str) -> int | float:
        """--code NAME=TEXT's value (the categorical code's an int), or a ValueError saying why it is not one."""
        if name not in self.code_names:
            raise ValueError(f"this run has no code {name!r}; its codes are {self.describe_codes()}")
        if self.is_categorical(name):
            if not text.strip().lstrip("-").isdigit() or not 0 <= int(text) < self.categories:
                raise ValueError(f"{name} takes a value 0..{self.categories - 1}, got {text!r}")
            return int(text)
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{name} takes a number, e.g. {name}=0.5, got {text!r}") from None
        if not np.isfinite(value):
            raise ValueError(f"{name} takes a finite number, got {text!r}")
        return value

    def set_code(self, codes, name: str, values) -> np.ndarray:
        """codes (..., code_dim) with code `name` set to `values` (broadcast over the leading axes); a copy."""
        codes = np.array(codes, np.float32)
        if self.is_categorical(name):
            codes[..., :self.categories] = np.eye(self.categories, dtype=np.float32)[np.asarray(values, np.int64)]
        else:
            codes[..., self.categories + self.code_names.index(name) - 1] = values
        return codes

    def categorical_codes(self, codes) -> np.ndarray:
        """The categorical code's value of each row of codes (..., code_dim)."""
        return np.argmax(np.asarray(codes)[..., :self.categories], axis=-1)

    def latents(self, z, classes=None, labels=None, codes=None) -> Latents:
        """G's inputs; without `codes`, random ones (seed 0), so that any z makes images."""
        if classes is not None or labels is not None:
            raise ValueError("the infogan family takes no class labels; its categorical code is learned without them")
        if codes is None:
            codes = self.codes(0, -1, len(z))
        return Latents(z, codes=codes)

    def training_latents(self, seed, step, global_batch, local_batch, labels):
        import tensorflow as tf

        from dcgan_cli.models.family import sample_z

        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        rows = slice(replica * local_batch, (replica + 1) * local_batch)
        codes = self.codes(seed, step, global_batch)
        return Latents(sample_z(seed, step, global_batch, self.z_dim, self.z_dist)[rows], codes=codes[rows])

    def evaluation_latents(self, n, seed, class_prior=None):
        """Random z and codes. No `classes`: the categorical code is not a label, whatever it comes to show."""
        return Latents(self.sample_z(n, seed), codes=self.codes(seed, -1, n))

    def grid_latents(self, seed):
        """One row per value of the categorical code; z and the continuous codes fixed down each column."""
        import tensorflow as tf

        from dcgan_cli.models.family import GRID_COLUMNS

        columns = self.codes(seed, -1, GRID_COLUMNS)
        z = tf.tile(self.sample_z(GRID_COLUMNS, seed), [self.categories, 1])
        categories = np.repeat(np.arange(self.categories), GRID_COLUMNS)
        codes = tf.concat([tf.one_hot(categories, self.categories), tf.tile(columns[:, self.categories:], [self.categories, 1])], 1)
        return Latents(z, codes=codes), self.categories

    def generator_fields(self):
        return ("z", "codes")

    # --- what D returns, and the losses ------------------------------------------------------------

    def trained_with_g(self, discriminator) -> list:
        """Q's head with --q-with-g (the default). The paper minimises the information term over G and Q
        together; the openai/InfoGAN code trains Q in D's update only (Q's head is D's there), as
        --no-q-with-g does. Only the head: G's adversarial term must not move D's shared body, and the
        head takes no part in it, so G's loss trains the head on the information terms alone. Q then
        learns twice as often as D, following G's two updates per step."""
        if not self.q_with_g:
            return []
        return [v for layer in discriminator.layers if layer.name.startswith("q_") for v in layer.trainable_variables]

    def d_output(self, heads, features=None):
        logits, categorical, continuous = heads
        return DOutput(logits, aux={"categorical": categorical, "continuous": continuous}, features=features or {})

    def information_terms(self, fake: DOutput, latents: Latents):
        """(weighted categorical cross-entropy, weighted continuous MSE) per example, of Q on G's images."""
        import tensorflow as tf

        codes = tf.cast(latents.codes, tf.float32)
        categorical = tf.nn.softmax_cross_entropy_with_logits(labels=codes[:, :self.categories],
                                                              logits=tf.cast(fake.aux["categorical"], tf.float32))
        continuous = tf.reduce_mean(tf.square(codes[:, self.categories:] - tf.cast(fake.aux["continuous"], tf.float32)), axis=1)
        return self.info_weight * categorical, self.info_weight_continuous * continuous

    def discriminator_loss(self, loss, real, fake, real_labels, latents):
        on_real, on_fake = loss.discriminator(real.logits, fake.logits)
        categorical, continuous = self.information_terms(fake, latents)
        return {"d_loss_real": on_real, "d_loss_fake": on_fake, "d_info_cat": categorical, "d_info_cont": continuous}

    def generator_loss(self, loss, fake, latents):
        categorical, continuous = self.information_terms(fake, latents)
        return {"g_loss_adv": loss.generator(fake.logits), "g_info_cat": categorical, "g_info_cont": continuous}


def _up_conv(filters, name, kernels):
    return kernels.Conv2DTranspose(filters, 4, strides=2, padding="same", kernel_initializer=_init(), name=name)


def _init():
    from dcgan_cli.models.layers import DENSE_INIT

    return DENSE_INIT


def paper_generator(z_dim=NOISE, code_dim=CATEGORIES + CONTINUOUS, channels=1, synchronized_bn=False, kernels=None,
                    name="generator"):
    """[z, c] -> 28x28xchannels in [-1, 1]: FC 1024 - FC 7x7x128 - 4x4 up-conv 64 - 4x4 up-conv to the image."""
    import keras
    from keras import layers

    from dcgan_cli.models.layers import batch_norm, dense, kernels_or_default

    k = kernels_or_default(kernels)
    z = keras.Input((z_dim,), name="z")
    c = keras.Input((code_dim,), name="c")
    h = layers.Concatenate(name="g_concat_zc")([z, c])
    h = layers.ReLU(name="g_h0_relu")(batch_norm("g_bn0", k, synchronized_bn)(dense(1024, "g_h0_lin", k)(h)))
    h = layers.ReLU(name="g_h1_relu")(batch_norm("g_bn1", k, synchronized_bn)(dense(7 * 7 * 128, "g_h1_lin", k)(h)))
    h = layers.Reshape((7, 7, 128), name="g_h1_reshape")(h)
    h = layers.ReLU(name="g_h2_relu")(batch_norm("g_bn2", k, synchronized_bn)(_up_conv(PAPER_WIDTH, "g_h2", k)(h)))
    h = _up_conv(channels, "g_h3", k)(h)
    image = layers.Activation("tanh", dtype="float32", name="g_tanh")(h)
    return keras.Model([z, c], image, name=name)


def coded_generator(image_size, channels, z_dim, code_dim, width, synchronized_bn=False, kernels=None, name="generator"):
    """[z, c] -> the DCGAN G of z and c concatenated."""
    import keras
    from keras import layers

    z = keras.Input((z_dim,), name="z")
    c = keras.Input((code_dim,), name="c")
    body = dcgan.generator(image_size, channels, z_dim + code_dim, width, synchronized_bn, kernels, name="g_body")
    return keras.Model([z, c], body(layers.Concatenate(name="g_concat_zc")([z, c])), name=name)


def paper_discriminator_body(channels=1, synchronized_bn=False, kernels=None, noise=0.0):
    """image -> D's last hidden layer: 4x4 conv 64/2 - 4x4 conv 128/2 - FC 1024, LeakyReLU 0.1; noise: --d-noise."""
    import keras
    from keras import layers

    from dcgan_cli.models.layers import CONV_INIT, batch_norm, dense, kernels_or_default, with_noise

    k = kernels_or_default(kernels)
    image = keras.Input((PAPER_SIZE, PAPER_SIZE, channels), name="image")
    h = layers.Conv2D(PAPER_WIDTH, 4, strides=2, padding="same", kernel_initializer=CONV_INIT,
                      name="d_h0_conv")(with_noise(image, noise, "x"))
    h = with_noise(layers.LeakyReLU(LEAK, name="d_h0_lrelu")(h), noise, "h0")  # no BatchNorm on D's input layer
    h = layers.Conv2D(128, 4, strides=2, padding="same", kernel_initializer=CONV_INIT, name="d_h1_conv")(h)
    h = with_noise(layers.LeakyReLU(LEAK, name="d_h1_lrelu")(batch_norm("d_bn1", k, synchronized_bn)(h)), noise, "h1")
    h = layers.Flatten(name="d_h1_flatten")(h)
    h = layers.LeakyReLU(LEAK, name="d_h2_lrelu")(batch_norm("d_bn2", k, synchronized_bn)(dense(1024, "d_h2_lin", k)(h)))
    h = with_noise(h, noise, "h2")
    return keras.Model(image, h, name="d_body")


def with_heads(body, categories, continuous, logit_name, synchronized_bn=False, kernels=None, name="discriminator",
               minibatch=False):
    """D's body -> [real/fake logit, Q's categorical logits, Q's continuous means], all float32. minibatch:
    minibatch discrimination's features into the real/fake logit only (Q reads each image's own code)."""
    import keras
    from keras import layers

    from dcgan_cli.models.layers import batch_norm, dense, kernels_or_default, with_minibatch_features

    k = kernels_or_default(kernels)
    h = body.output
    logit = dense(1, logit_name, k, dtype="float32")(with_minibatch_features(h, minibatch))
    q = layers.LeakyReLU(LEAK, name="q_h0_lrelu")(batch_norm("q_bn0", k, synchronized_bn)(dense(Q_UNITS, "q_h0_lin", k)(h)))
    categorical = dense(categories, "q_categorical", k, dtype="float32")(q)
    continuous_means = dense(continuous, "q_continuous", k, dtype="float32")(q)
    return keras.Model(body.input, [logit, categorical, continuous_means], name=name)
