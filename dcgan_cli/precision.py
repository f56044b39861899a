"""Resolving `--precision auto` and `--jit auto` for the devices at hand."""

from __future__ import annotations

import contextlib

import keras
import tensorflow as tf

PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")


def has_gpu() -> bool:
    return bool(tf.config.list_physical_devices("GPU"))


def resolve_precision(precision: str) -> str:
    """auto: mixed_float16 on a GPU (tensor cores, with loss scaling), float32 on a CPU."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; expected one of {PRECISIONS}")
    if precision != "auto":
        return precision
    return "mixed_float16" if has_gpu() else "float32"


def resolve_jit(jit: bool | None) -> bool:
    """None (auto): XLA on GPUs, where it fuses the BatchNorm and activation kernels; off on CPUs."""
    return has_gpu() if jit is None else bool(jit)


@contextlib.contextmanager
def dtype_policy(precision: str):
    """Build layers under `precision` and restore the previous global policy afterwards."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
