"""Resolving `--precision auto` and `--jit auto` for the devices at hand; PRECISIONS is the registry
--precision's choices read (so TensorFlow is imported only inside the functions)."""

from __future__ import annotations

import contextlib

PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")


def has_gpu() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AVX512-BF16 or AMX); Linux only."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return False
    return bool({"avx512_bf16", "amx_bf16"} & set(flags))


def resolve_precision(precision: str) -> str:
    """auto: mixed_float16 on a GPU (tensor cores, with loss scaling), float32 on a CPU.

    CPUs stay float32 even with native BF16: mixed_bfloat16's speed-up there falls short of the one
    that would justify changing the default, and without native BF16 it is emulated and far slower
    (benchmarks/README.md, "Train step speed").
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; expected one of {PRECISIONS}")
    if precision != "auto":
        return precision
    return "mixed_float16" if has_gpu() else "float32"


def resolve_jit(jit: bool | None) -> bool:
    """None (auto): XLA on GPUs, where it fuses the BatchNorm and activation kernels; off on CPUs,
    where it measured slower for every model and precision (benchmarks/README.md)."""
    return has_gpu() if jit is None else bool(jit)


@contextlib.contextmanager
def dtype_policy(precision: str):
    """Build layers under `precision` and restore the previous global policy afterwards."""
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
