"""`dcgan bench`: the train step's and the input pipelines' speed on this machine, and FLOP counts.

PRESETS are the configurations `dcgan bench train --model` times, named FAMILY-SIZE and read from the
family registry (each family lists its bench sizes): size 28 is MNIST (real data, one channel),
larger sizes synthetic RGB images, each family at its default width.
"""

from dcgan_cli.models import FAMILIES

PRESETS: dict[str, tuple[str, int]] = {f"{name}-{size}": (name, size)
                                       for name, family in FAMILIES.items() for size in family.bench_sizes}
