"""Pure Keras model builders: no training logic lives here.

`build_models` is the one entry point the trainer, the sampler and the tools use. Conditional
models take [z, y] / [image, y]; unconditional ones take z / image alone.
"""

from dcgan_cli.models import conditional, dcgan

MODEL_NAMES = ("mnist-conditional", "mnist", "dcgan")


def build_models(model, image_size, channels, z_dim, num_classes, width, synchronized_bn=False):
    """Return (generator, discriminator) for one of MODEL_NAMES.

    Layers take the global Keras dtype policy, so call this under the precision policy wanted.
    """
    if model == "mnist-conditional":
        if image_size != 28:
            raise ValueError("the conditional MNIST model is 28x28")
        return (conditional.conditional_generator(z_dim, num_classes, channels, synchronized_bn),
                conditional.conditional_discriminator(num_classes, channels, synchronized_bn))
    if model in ("mnist", "dcgan"):
        if num_classes:
            raise ValueError(f"model {model!r} is unconditional")
        return (dcgan.generator(image_size, channels, z_dim, width, synchronized_bn),
                dcgan.discriminator(image_size, channels, width, synchronized_bn))
    raise ValueError(f"unknown model {model!r}; expected one of {MODEL_NAMES}")
