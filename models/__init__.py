"""The model families: each module holds its pure Keras builders and its Family (models/family.py).

FAMILIES is the registry that the CLI's --family, config.json's `family`, the bench presets and
the validation read. Adding a family is one module here and one entry below. Nothing here starts
TensorFlow until a model is built.
"""

from dcgan_cli.models.acgan import ACGAN
from dcgan_cli.models.conditional import Conditional
from dcgan_cli.models.dcgan import DCGAN
from dcgan_cli.models.family import Family
from dcgan_cli.models.infogan import InfoGAN
from dcgan_cli.models.mlp import MLP
from dcgan_cli.models.sgan import SGAN

FAMILIES: dict[str, type[Family]] = {
    "dcgan": DCGAN,
    "conditional": Conditional,
    "mlp": MLP,
    "acgan": ACGAN,
    "infogan": InfoGAN,
    "sgan": SGAN,
}


def family_names(labelled: bool = True) -> list[str]:
    """The families in registry order; those that train on class labels only for labelled data."""
    return [name for name, family in FAMILIES.items() if labelled or not family.uses_labels]
