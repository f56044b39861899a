"""The semi-supervised GAN (Odena 2016; Salimans et al. 2016): D classifies an image into the data's
K classes or "fake"; G is the unconditional DCGAN G (models/dcgan.py).

D is the DCGAN D's body with a head of K class logits l_k. We use Salimans et al.'s parametrisation
(reference.md section 6): K + 1 classes with the fake class's logit fixed at 0, so

    P(real | x) = Z / (Z + 1),  Z = sum_k exp(l_k),  i.e. the real/fake logit is logsumexp_k l_k,

and P(class k | x, real) = softmax(l)_k. A (K + 1)-th free logit would only add a redundant degree of
freedom (softmax is invariant to shifting all logits); fixing it leaves the real/fake logit an exact
logsumexp, computed without overflow, so the unsupervised terms are the run's own cross-entropy
objective (--loss non_saturating or minimax) on that logit, unchanged.

D's loss, per example: the objective's real term on every real image (labelled or not), its fake
term on G's images, and the K-way cross-entropy on the labelled real images. Rows whose label the
run hides (`--labels N`) come with an all-zero label vector and contribute no supervised term; the
supervised term is the mean over the labelled images of the *global* batch: each labelled row's
cross-entropy times (global rows / global labelled rows), which the train step's mean over the
global batch turns into exactly that mean on any number of replicas. G's loss is the objective's
generator term on the real/fake logit (Salimans et al. trained G by feature matching instead).
"""

from dcgan_cli.models import dcgan
from dcgan_cli.models.acgan import CLASS_HEAD
from dcgan_cli.models.dcgan import DCGAN
from dcgan_cli.models.family import DOutput


class SGAN(DCGAN):
    name = "sgan"
    description = ("the semi-supervised GAN: the dcgan family's G; its D classifies images into the K classes "
                   "or fake (--labels N: only N labelled images)")
    uses_labels = True
    classifies = True
    settings = ("labels",)
    bench_sizes = (28,)
    d_terms = ("d_loss_real", "d_loss_fake", "d_loss_class")
    losses = ("non_saturating", "minimax")
    losses_reason = ("its D is a (K+1)-way softmax whose real/fake logit is the logsumexp of its class logits, a "
                     "probability only a cross-entropy objective trains")

    def __init__(self, *args, labels: int | None = None, **kwargs):
        self.labels = labels  # labelled training images (None: all); the data pipeline picks them
        super().__init__(*args, **kwargs)

    def problem(self):
        if self.labels is not None and self.num_classes > 0 and self.labels < self.num_classes:
            return (f"--labels {self.labels} leaves classes without a labelled image: pass at least one per class "
                    f"({self.num_classes}), or drop --labels to use every label")
        return super().problem()

    def build_discriminator(self, kernels=None, synchronized_bn=False):
        return discriminator(self.image_size, self.channels, self.width, self.num_classes, synchronized_bn, kernels,
                             norm=self.d_norm, start_size=self.start_size, minibatch=self.minibatch, noise=self.d_noise)

    def d_output(self, heads, features=None):
        import tensorflow as tf

        (classes,) = heads
        return DOutput(tf.reduce_logsumexp(tf.cast(classes, tf.float32), axis=1, keepdims=True),
                       aux={"classes": classes}, features=features or {})

    def discriminator_loss(self, loss, real, fake, real_labels, latents):
        on_real, on_fake = loss.discriminator(real.logits, fake.logits)
        return {"d_loss_real": on_real, "d_loss_fake": on_fake,
                "d_loss_class": supervised_term(real_labels, real.aux["classes"])}


def supervised_term(labels, class_logits):
    """Per-example cross-entropy on the labelled rows (one-hot labels; all-zero rows are unlabelled),
    scaled so that its mean over the global batch is its mean over the global batch's labelled rows."""
    import tensorflow as tf

    labels = tf.cast(labels, tf.float32)
    labelled = tf.reduce_sum(labels, axis=1)
    counts = tf.stack([tf.cast(tf.shape(labels)[0], tf.float32), tf.reduce_sum(labelled)])
    rows, labelled_rows = tf.unstack(tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, counts))
    # -sum(y log softmax(l)), not tf.nn.softmax_cross_entropy_with_logits: that op's gradient is
    # softmax(l) - y, right only for labels that sum to 1, so on an unlabelled (all-zero) row it would
    # push every class logit down, i.e. teach D that unlabelled real images are fake.
    cross_entropy = -tf.reduce_sum(labels * tf.nn.log_softmax(tf.cast(class_logits, tf.float32)), axis=1)
    return cross_entropy * rows / tf.maximum(labelled_rows, 1.0)


def discriminator(image_size=28, channels=1, width=64, num_classes=10, synchronized_bn=False, kernels=None,
                  norm="batch", start_size=None, name="discriminator", minibatch=False, noise=0.0):
    """image -> its K class logits (float32), from the DCGAN D's flattened last features.
    minibatch: minibatch discrimination's features beside them, into the class logits (whose logsumexp is
    the real/fake logit)."""
    import keras

    from dcgan_cli.models.layers import dense, kernels_or_default, with_minibatch_features

    k = kernels_or_default(kernels)
    body = dcgan.discriminator(image_size, channels, width, synchronized_bn, k, name="d_body", norm=norm,
                               start_size=start_size, features=True, noise=noise)
    classes = dense(num_classes, CLASS_HEAD, k, dtype="float32")(with_minibatch_features(body.output, minibatch))
    return keras.Model(body.input, classes, name=name)
