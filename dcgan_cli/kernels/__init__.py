"""`--kernels keras|fast`: which computational forms the models' layers and Adam take.

    fast   (default) dcgan_cli/kernels/fast.py: Keras's classes computed in forms that run faster
           (fused BatchNorm, Dense's input gradient, Conv2DTranspose's filter gradient and a
           sub-pixel forward to few channels, the fused Adam kernel)
    keras  Keras's own BatchNormalization, Dense, Conv2DTranspose and Adam, public API only

Both create the same variables under the same names, so a checkpoint written with one loads with
the other and a resumed run may switch. The fast forms rely on Keras internals, so they are used
only under the Keras versions the test suite passed on (TESTED_KERAS, the pin in setup.cfg); under
any other Keras, `fast` falls back to `keras` with a one-line warning.

This module is imported by the CLI for its option choices, so it loads Keras only when asked.
"""

from __future__ import annotations

from dataclasses import dataclass

# Keras minor versions whose internals kernels/fast.py was tested against (setup.cfg pins the same).
TESTED_KERAS = ("3.15.",)

KERNELS = {
    "fast": "Keras's layers and Adam in faster forms with the same mathematics and variables",
    "keras": "Keras's own layers and Adam (public API only)",
}


@dataclass(frozen=True)
class Kernels:
    """The classes a model builder and the optimizer instantiate."""

    name: str
    BatchNormalization: type
    Dense: type
    Conv2DTranspose: type
    Adam: type


def untested_keras() -> str | None:
    """The running Keras's version when the fast forms were never tested with it, else None."""
    import keras

    return None if keras.__version__.startswith(TESTED_KERAS) else keras.__version__


def resolve_kernels(name: str = "fast", warn=None) -> Kernels:
    """The Kernels for `--kernels NAME`; `fast` under an untested Keras is `keras`, said through warn."""
    import keras

    if name not in KERNELS:
        raise ValueError(f"unknown kernels {name!r}; expected one of {sorted(KERNELS)}")
    version = untested_keras() if name == "fast" else None
    if version is not None:
        if warn is not None:
            warn(f"warning: dcgan's fast kernels were tested with Keras {', '.join(v + 'x' for v in TESTED_KERAS)}, "
                 f"not {version}; using --kernels keras")
        name = "keras"
    if name == "keras":
        return Kernels("keras", keras.layers.BatchNormalization, keras.layers.Dense, keras.layers.Conv2DTranspose,
                       keras.optimizers.Adam)
    from dcgan_cli.kernels import fast

    return Kernels("fast", fast.FusedBatchNorm, fast.FastGradDense, fast.FastGradConv2DTranspose, fast.FusedAdam)
