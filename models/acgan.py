"""ACGAN (Odena, Olah & Shlens 2017): G is the conditional family's G (z and a class); D is the
unconditional DCGAN D with a second head that classifies the image into the K classes.

With L_S the log-likelihood of the right source (real or fake) and L_C that of the right class, on
real images and on fakes alike, D maximises L_S + L_C and G maximises L_C - L_S (reference.md
section 6). So D's loss adds the class cross-entropy on real images (their labels) and on fakes
(the class they were generated for); G's loss adds it on its fakes. The source terms are the run's
objective (--loss), with G's in its usual non-saturating or other form. D sees no label: it has to
tell the class from the image.
"""

from dcgan_cli.models import dcgan
from dcgan_cli.models.conditional import Conditional
from dcgan_cli.models.family import DOutput

CLASS_HEAD = "d_class_lin"


class ACGAN(Conditional):
    name = "acgan"
    description = ("ACGAN: the conditional family's G; the dcgan family's D plus a class head; both players add "
                   "the class cross-entropy")
    d_terms = ("d_loss_real", "d_loss_fake", "d_loss_class_real", "d_loss_class_fake")
    g_terms = ("g_loss_adv", "g_loss_class")
    g_adversarial = "g_loss_adv"
    classifies = True
    refuses_clip = ("it would clip the class head's weights too, which need no Lipschitz bound; use --gradient-penalty "
                    "wgan-gp instead (Gulrajani et al. 2017 trained ACGAN so)")

    def hidden_layers(self):
        return dcgan.hidden_layers(self.image_size)

    def build_discriminator(self, kernels=None, synchronized_bn=False):
        return discriminator(self.image_size, self.channels, self.width, self.num_classes, synchronized_bn, kernels,
                             minibatch=self.minibatch, noise=self.d_noise)

    def discriminator_inputs(self, images, labels=None):
        return images

    def d_output(self, heads, features=None):
        logits, classes = heads
        return DOutput(logits, aux={"classes": classes}, features=features or {})

    def discriminator_loss(self, loss, real, fake, real_labels, latents):
        on_real, on_fake = loss.discriminator(real.logits, fake.logits)
        return {"d_loss_real": on_real, "d_loss_fake": on_fake,
                "d_loss_class_real": class_cross_entropy(real_labels, real.aux["classes"]),
                "d_loss_class_fake": class_cross_entropy(latents.labels, fake.aux["classes"])}

    def generator_loss(self, loss, fake, latents):
        return {"g_loss_adv": loss.generator(fake.logits),
                "g_loss_class": class_cross_entropy(latents.labels, fake.aux["classes"])}


def class_cross_entropy(labels, class_logits):
    """-log P(C = c | x) per example; labels one-hot (or blended) class vectors."""
    import tensorflow as tf

    return tf.nn.softmax_cross_entropy_with_logits(labels=tf.cast(labels, tf.float32),
                                                   logits=tf.cast(class_logits, tf.float32))


def discriminator(image_size=28, channels=1, width=64, num_classes=10, synchronized_bn=False, kernels=None,
                  name="discriminator", minibatch=False, noise=0.0):
    """image -> [real/fake logit, K class logits] (float32), from the DCGAN D's flattened last features.
    minibatch: minibatch discrimination's features into the real/fake logit (a class is each image's own)."""
    import keras

    from dcgan_cli.models.layers import dense, kernels_or_default, with_minibatch_features

    k = kernels_or_default(kernels)
    body = dcgan.discriminator(image_size, channels, width, synchronized_bn, k, name="d_body", features=True, noise=noise)
    logit = dense(1, "d_h4_lin", k, dtype="float32")(with_minibatch_features(body.output, minibatch))
    classes = dense(num_classes, CLASS_HEAD, k, dtype="float32")(body.output)
    return keras.Model(body.input, [logit, classes], name=name)
