"""Analytic FLOP counts of a train step, from the layer shapes of built Keras models.

Conventions (one multiply-add = 2 FLOPs; counts are per step, for the whole batch):
- Dense: 2*in*out per example, plus `out` for the bias. Conv2D: 2*k*k*Cin per output element, plus
  the bias. Conv2DTranspose: 2*k*k*Cout per *input* element (each input pixel is scattered over a
  k x k window of every output channel), plus the bias on the output.
- BatchNormalization (training mode): BN_FLOPS per element (mean, variance, scale and shift).
  ReLU, LeakyReLU, tanh, sigmoid: ACTIVATION_FLOPS per element. Concatenations, reshapes and
  flattens move data and count 0.
- Backward: a weight layer's gradient w.r.t. its input costs as much as its forward matmul, and the
  gradient w.r.t. its weights as much again (so backward = 2x forward). The first weight layer's
  input gradient is omitted when nothing upstream needs it (D's input in the D update, G's input
  always: z and labels are data); TensorFlow prunes that op in a tf.function as well. When only input
  gradients are needed (D inside a G update) weight gradients are omitted instead. Element-wise
  layers cost 2x their forward in backward.
- The optimizer: ADAM_FLOPS per trainable parameter per update.
"""

from __future__ import annotations

import math

BN_FLOPS = 5
ACTIVATION_FLOPS = 1
ADAM_FLOPS = 12  # two moment updates, bias corrections, sqrt, divide, the update itself

WEIGHT_LAYERS = ("Dense", "Conv2D", "Conv2DTranspose")
ELEMENTWISE_LAYERS = {"BatchNormalization": BN_FLOPS, "ReLU": ACTIVATION_FLOPS,
                      "LeakyReLU": ACTIVATION_FLOPS, "Activation": ACTIVATION_FLOPS}


def _kind(layer) -> str:
    """The Keras class a layer is or derives from (models.layers.FusedBatchNorm is a BatchNormalization)."""
    known = (*WEIGHT_LAYERS, *ELEMENTWISE_LAYERS)
    return next((c.__name__ for c in type(layer).__mro__ if c.__name__ in known), type(layer).__name__)


def _elements(shape) -> int:
    return math.prod(int(d) for d in shape[1:])


def _matmul_flops(layer) -> int:
    """Per-example FLOPs of a weight layer's matmul (no bias)."""
    kind = _kind(layer)
    if kind == "Dense":
        return 2 * int(layer.input.shape[-1]) * layer.units
    k = math.prod(layer.kernel_size)
    if kind == "Conv2D":
        return 2 * k * int(layer.input.shape[-1]) * _elements(layer.output.shape)
    if kind == "Conv2DTranspose":
        return 2 * k * layer.filters * _elements(layer.input.shape)
    raise ValueError(f"not a weight layer: {kind}")


def _bias_flops(layer) -> int:
    return _elements(layer.output.shape) if getattr(layer, "use_bias", False) else 0


def _elementwise_flops(layer) -> int:
    return ELEMENTWISE_LAYERS.get(_kind(layer), 0) * _elements(layer.output.shape)


def forward_flops(model, batch: int) -> int:
    total = 0
    for layer in model.layers:
        if _kind(layer) in WEIGHT_LAYERS:
            total += _matmul_flops(layer) + _bias_flops(layer)
        else:
            total += _elementwise_flops(layer)
    return total * batch


def backward_flops(model, batch: int, weight_grads: bool = True, first_input_grad: bool = False) -> int:
    """FLOPs of one backward pass; see the module docstring for what is counted."""
    total, first = 0, True
    for layer in model.layers:
        if _kind(layer) in WEIGHT_LAYERS:
            matmul = _matmul_flops(layer)
            if weight_grads:
                total += matmul + _bias_flops(layer)
            if not first or first_input_grad:
                total += matmul
            first = False
        else:
            total += 2 * _elementwise_flops(layer)
    return total * batch


def optimizer_flops(model) -> int:
    return ADAM_FLOPS * sum(math.prod(v.shape) for v in model.trainable_variables)


def train_step_flops(G, D, batch: int, d_steps: int = 1, g_steps: int = 2) -> int:
    """FLOPs of one train step: d_steps D updates, then g_steps G updates (as train_step.py)."""
    g_fwd, d_fwd = forward_flops(G, batch), forward_flops(D, batch)
    d_update = (g_fwd + 2 * d_fwd  # G forward, D on the real and on the fake batch
                + 2 * backward_flops(D, batch)  # D's weight gradients from both batches
                + optimizer_flops(D))
    g_update = (g_fwd + d_fwd
                + backward_flops(D, batch, weight_grads=False, first_input_grad=True)  # through D to the image
                + backward_flops(G, batch)
                + optimizer_flops(G))
    return d_steps * d_update + g_steps * g_update
