"""`dcgan bench train`: how fast Trainer.fit trains, against the bare step and this machine's matmul rate.

The trainer is `dcgan train`'s own (the same family, optimizers, precision, XLA setting and kernels),
fed by the real MNIST pipeline at size 28 (synthetic images otherwise), and timed through
Trainer.fit with no callbacks. Every round also times the bare step on the same stream of batches
(next batch, run the step, nothing else), the two alternating in short blocks, so the figures show
what the loop itself costs (`fit_vs_bare`). Its FLOPs are counted analytically (bench/flops.py). The practical peak is a dense
matmul in the step's compute dtype, timed in the same run, alternating with the step, so that a
machine shared with other work slows both alike; the fastest round of each is reported, and their
ratio is the robust figure. Ratios between configurations (mixed precision against float32, fast
kernels against Keras's) are medians of round-by-round ratios, all configurations' rounds interleaved.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import tensorflow as tf

from dcgan_cli.bench import PRESETS
from dcgan_cli.bench.flops import train_step_flops
from dcgan_cli.config import Config
from dcgan_cli.models import FAMILIES
from dcgan_cli.train.precision import cpu_has_native_bf16

WARMUP_STEPS = 5
BLOCK_STEPS = 5  # fit and the bare step alternate in blocks this long within a round
MATMUL_SIZE = 1024
ROUNDS = 4
MNIST_SIZE = 28


@dataclass
class TrainBench:
    model: str  # the preset, FAMILY-SIZE
    precision: str
    kernels: str
    jit: bool
    batch_size: int
    steps: int
    ms_per_step: float  # Trainer.fit with no callbacks, fastest round
    images_per_s: float
    step_gflop: float
    gflops_per_s: float
    matmul_gflops_per_s: float
    fraction_of_peak: float
    input_wait_fraction: float
    bare_ms_per_step: float  # the bare step on the same batches, fastest round
    fit_vs_bare: float  # fit's time over the bare step's, the median of per-round ratios
    speedup_vs_float32: float | None  # images/s against float32's, measured round by round in the same run
    speedup_vs_keras_kernels: float | None  # images/s against --kernels keras, likewise
    traces: int  # times the step's tf.function was traced: 1 means no retracing
    cpu_native_bf16: bool  # whether mixed_bfloat16 could pay on this CPU (see precision.py)
    fit_ms_rounds: list  # every round's ms/step, in the order run
    bare_ms_rounds: list

    def to_dict(self) -> dict:
        return asdict(self)


def bench_config(preset: str, precision: str, jit: bool | None, batch_size: int, kernels: str = "fast") -> Config:
    """The Config a preset FAMILY-SIZE times: MNIST at 28, synthetic RGB images above."""
    name, size = PRESETS[preset]
    family = FAMILIES[name]
    mnist = size == MNIST_SIZE
    return Config(dataset="mnist" if mnist else "synthetic", family=name, image_size=size, channels=1 if mnist else 3,
                  num_classes=10 if family.uses_labels else 0, width=family.default_width,
                  depth=family.default_depth, z_dim=family.default_z_dim or Config.z_dim, batch_size=batch_size,
                  precision=precision, jit=jit, kernels=kernels, **family.default_settings)


def synthetic_batches(config: Config) -> tf.data.Dataset:
    """Random images in [-1, 1], as a pipeline that costs nothing per step."""
    shape = (config.batch_size, config.image_size, config.image_size, config.channels)
    images = tf.random.stateless_uniform(shape, seed=(config.seed, 0), minval=-1.0, maxval=1.0)
    labels = tf.zeros((config.batch_size, config.num_classes))
    return tf.data.Dataset.from_tensors((images, labels)).repeat().prefetch(tf.data.AUTOTUNE)


def batches(config: Config) -> tf.data.Dataset:
    if config.dataset == "synthetic":
        return synthetic_batches(config)
    from dcgan_cli.datasets import training_data

    return training_data(config).dataset


def compute_dtype(precision: str) -> tf.DType:
    return {"mixed_bfloat16": tf.bfloat16, "mixed_float16": tf.float16}.get(precision, tf.float32)


def matmul_rate(dtype: tf.DType, seconds: float, n: int = MATMUL_SIZE) -> float:
    """GFLOP/s of an n x n x n matmul in dtype: this machine's practical peak for that dtype."""
    a = tf.random.stateless_uniform((n, n), seed=(1, 2), dtype=tf.float32)
    a, b = tf.cast(a, dtype), tf.cast(tf.transpose(a), dtype)
    matmul = tf.function(tf.linalg.matmul)
    matmul(a, b).numpy()  # trace and warm up
    calls, start = 0, time.perf_counter()
    while True:
        matmul(a, b).numpy()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return 2 * n**3 * calls / elapsed / 1e9


def ratio(numerators: list[float], denominators: list[float]) -> float:
    """The median of round-by-round ratios: rounds ran side by side, in the same conditions."""
    return float(np.median(np.asarray(numerators) / np.asarray(denominators)))


class _Timed:
    """One configuration under test: its trainer, input and per-round timings."""

    def __init__(self, preset: str, precision: str, kernels: str, jit: bool | None, batch_size: int):
        from dcgan_cli.train.trainer import Trainer

        self.preset, self.batch_size = preset, batch_size
        self.config = bench_config(preset, precision, jit, batch_size, kernels)
        self.config.validate()
        self.trainer = Trainer(self.config)  # no run directory: nothing is written
        self.batches = self.trainer.batches(batches(self.config))
        self.fit(WARMUP_STEPS)
        self.bare(1)
        self.trainer.train_step.read_metrics()
        self.seconds, self.bare_seconds, self.wait, self.matmul = [], [], [], []

    def fit(self, steps: int) -> tuple[float, float]:
        """(seconds, of which waiting for batches) of `steps` steps of Trainer.fit with no callbacks."""
        until = int(self.trainer.step.numpy()) + steps
        waited, start = self.trainer.input_seconds, time.perf_counter()
        self.trainer.fit(self.batches, until)
        self.trainer.step.numpy()  # the step runs synchronously, but make sure nothing is left in flight
        return time.perf_counter() - start, self.trainer.input_seconds - waited

    def bare(self, steps: int) -> float:
        """Seconds of `steps` calls of the step function alone: the reference fit is measured against."""
        step, start = self.trainer.train_step, time.perf_counter()
        for _ in range(steps):
            step(next(self.batches))
        step.step.numpy()
        return time.perf_counter() - start

    def run_round(self, steps: int, fit_first: bool):
        """`steps` steps of fit and as many bare steps, in alternating blocks of BLOCK_STEPS, so that
        the machine's drift within the round falls on both alike."""
        fit = waited = bare = 0.0
        for done in range(0, steps, BLOCK_STEPS):
            block = min(BLOCK_STEPS, steps - done)
            for kind in ("fit", "bare") if fit_first else ("bare", "fit"):
                if kind == "fit":
                    seconds, wait = self.fit(block)
                    fit, waited = fit + seconds, waited + wait
                else:
                    bare += self.bare(block)
        self.seconds.append(fit / steps)
        self.wait.append(waited / fit)
        self.bare_seconds.append(bare / steps)
        dtype = compute_dtype(self.trainer.precision)
        self.matmul.append(matmul_rate(dtype, min(2.0, max(0.3, fit / 2))))

    def result(self, steps: int, float32: _Timed | None, keras: _Timed | None) -> TrainBench:
        # The fastest round against the fastest matmul of the run: each the least disturbed by other
        # work on the machine (pairing a round with the matmul right after it let one disturbed
        # matmul put the step above 100% of "peak").
        best = int(np.argmin(self.seconds))
        seconds, peak = self.seconds[best], max(self.matmul)
        gflop = train_step_flops(self.trainer.generator, self.trainer.discriminator, self.batch_size,
                                 self.config.d_steps, self.config.g_steps) / 1e9
        return TrainBench(model=self.preset, precision=self.trainer.precision, kernels=self.trainer.kernels.name,
                          jit=self.trainer.jit, batch_size=self.batch_size, steps=steps, ms_per_step=seconds * 1e3,
                          images_per_s=self.batch_size / seconds, step_gflop=gflop, gflops_per_s=gflop / seconds,
                          matmul_gflops_per_s=peak, fraction_of_peak=gflop / seconds / peak,
                          input_wait_fraction=self.wait[best], bare_ms_per_step=min(self.bare_seconds) * 1e3,
                          fit_vs_bare=ratio(self.seconds, self.bare_seconds),
                          speedup_vs_float32=ratio(float32.seconds, self.seconds) if float32 else None,
                          speedup_vs_keras_kernels=ratio(keras.seconds, self.seconds) if keras else None,
                          traces=self.trainer.train_step._step_fn.experimental_get_tracing_count(),
                          cpu_native_bf16=cpu_has_native_bf16(),
                          fit_ms_rounds=[round(s * 1e3, 2) for s in self.seconds],
                          bare_ms_rounds=[round(s * 1e3, 2) for s in self.bare_seconds])


def bench_train_many(configurations, jit: bool | None = None, batch_size: int = 64, steps: int = 30,
                     rounds: int = ROUNDS) -> list[TrainBench]:
    """Time each (preset, precision, kernels) in `configurations`, their rounds interleaved.

    All trainers are built first; then every round times each configuration in turn (the order
    rotating, and fit and the bare step alternating which goes first), so that a machine whose speed
    drifts, as shared ones do within minutes, affects them alike. A mixed-precision row
    is compared with the same preset and kernels in float32, a fast-kernels row with the same
    preset and precision on Keras's kernels, when those are among the configurations.
    """
    timed = [_Timed(preset, precision, kernels, jit, batch_size) for preset, precision, kernels in configurations]
    for r in range(rounds):
        for t in timed[r % len(timed):] + timed[:r % len(timed)]:
            t.run_round(steps, fit_first=r % 2 == 0)

    def twin(t, **differs):
        """The configuration that differs from t only in `differs` (precision or kernels)."""
        key = {"preset": t.preset, "precision": t.trainer.precision, "kernels": t.trainer.kernels.name, "jit": t.trainer.jit}
        wanted = {**key, **differs}
        if wanted == key:
            return None
        return next((o for o in timed if {"preset": o.preset, "precision": o.trainer.precision,
                                          "kernels": o.trainer.kernels.name, "jit": o.trainer.jit} == wanted), None)

    return [t.result(steps, twin(t, precision="float32"), twin(t, kernels="keras")) for t in timed]


def bench_train(preset: str = "conditional-28", precision: str = "float32", jit: bool | None = None,
                batch_size: int = 64, steps: int = 30, rounds: int = ROUNDS, kernels: str = "fast") -> TrainBench:
    return bench_train_many([(preset, precision, kernels)], jit, batch_size, steps, rounds)[0]


def format_row(r: TrainBench) -> str:
    return (f"{r.model:16s} {r.precision:15s} {r.kernels:5s} jit={'on ' if r.jit else 'off'} batch {r.batch_size:4d}: "
            f"{r.ms_per_step:8.1f} ms/step {r.images_per_s:8.1f} images/s  step {r.step_gflop:6.2f} GFLOP  "
            f"{r.gflops_per_s:7.1f} GFLOP/s  matmul {r.matmul_gflops_per_s:7.1f} GFLOP/s  "
            f"{100 * r.fraction_of_peak:5.1f}% of peak  input wait {100 * r.input_wait_fraction:4.1f}%  "
            f"bare step {r.bare_ms_per_step:8.1f} ms (fit/bare {r.fit_vs_bare:.3f})  traces {r.traces}"
            + (f"  {r.speedup_vs_float32:.2f}x float32" if r.speedup_vs_float32 is not None else "")
            + (f"  {r.speedup_vs_keras_kernels:.2f}x keras kernels" if r.speedup_vs_keras_kernels is not None else ""))
