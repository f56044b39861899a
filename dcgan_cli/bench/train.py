"""`dcgan bench train`: how fast the real train step runs, against this machine's own matmul rate.

The step is the trainer's own (built by `Trainer`, so the same models, optimizers, precision and XLA
setting as `dcgan train`), fed by the real MNIST pipeline (synthetic images for dcgan64). Its FLOPs
are counted analytically (dcgan_cli.bench.flops). The practical peak is a dense matmul in the step's
compute dtype, timed in the same run, alternating with the step, so that a machine shared with
other work slows both alike; the fastest round of each is reported, and their ratio is the robust
figure.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass

import numpy as np
import tensorflow as tf

from dcgan_cli.config import Config
from dcgan_cli.bench.flops import train_step_flops
from dcgan_cli.train.precision import cpu_has_native_bf16

MODELS = ("mnist-conditional", "mnist", "dcgan64")
WARMUP_STEPS = 5
MATMUL_SIZE = 1024
ROUNDS = 4


@dataclass
class TrainBench:
    model: str
    precision: str
    jit: bool
    batch_size: int
    steps: int
    ms_per_step: float
    images_per_s: float
    step_gflop: float
    gflops_per_s: float
    matmul_gflops_per_s: float
    fraction_of_peak: float
    input_wait_fraction: float
    speedup_vs_float32: float | None  # images/s against float32's, measured round by round in the same run
    traces: int  # times the step's tf.function was traced: 1 means no retracing
    cpu_native_bf16: bool  # whether mixed_bfloat16 could pay on this CPU (see precision.py)

    def to_dict(self) -> dict:
        return asdict(self)


def bench_config(model: str, precision: str, jit: bool | None, batch_size: int) -> Config:
    if model == "mnist-conditional":
        return Config(model=model, batch_size=batch_size, precision=precision, jit=jit)
    if model == "mnist":
        return Config(model="mnist", num_classes=0, width=64, batch_size=batch_size, precision=precision, jit=jit)
    if model == "dcgan64":
        return Config(dataset="synthetic", model="dcgan", image_size=64, channels=3, num_classes=0, width=64,
                      batch_size=batch_size, precision=precision, jit=jit)
    raise ValueError(f"unknown model {model!r}; expected one of {MODELS}")


def synthetic_batches(config: Config) -> tf.data.Dataset:
    """Random images in [-1, 1], as a pipeline that costs nothing per step (for the 64x64 model)."""
    shape = (config.batch_size, config.image_size, config.image_size, config.channels)
    images = tf.random.stateless_uniform(shape, seed=(config.seed, 0), minval=-1.0, maxval=1.0)
    labels = tf.zeros((config.batch_size, config.num_classes))
    return tf.data.Dataset.from_tensors((images, labels)).repeat().prefetch(tf.data.AUTOTUNE)


def batches(config: Config) -> tf.data.Dataset:
    if config.dataset == "synthetic":
        return synthetic_batches(config)
    from dcgan_cli.datasets import training_data

    return training_data(config)[0]


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


def time_steps(step, iterator, steps: int) -> tuple[float, float]:
    """(seconds per step, fraction of the time spent waiting on the input iterator)."""
    waiting, start = 0.0, time.perf_counter()
    for _ in range(steps):
        before = time.perf_counter()
        batch = next(iterator)
        waiting += time.perf_counter() - before
        step(batch)
    step.step.numpy()  # the step runs synchronously, but make sure nothing is left in flight
    elapsed = time.perf_counter() - start
    return elapsed / steps, waiting / elapsed


class _Timed:
    """One configuration under test: its trainer, input and per-round timings."""

    def __init__(self, model: str, precision: str, jit: bool | None, batch_size: int):
        from dcgan_cli.train.trainer import Trainer

        self.model, self.batch_size = model, batch_size
        config = bench_config(model, precision, jit, batch_size)
        config.validate()
        with tempfile.TemporaryDirectory() as tmp:  # the trainer's checkpoint manager wants a directory; nothing is written
            self.trainer = Trainer(config, tmp)
        self.config = config
        self.step = self.trainer.train_step
        self.iterator = iter(batches(config))
        for _ in range(WARMUP_STEPS):
            self.step(next(self.iterator))
        self.step.step.numpy()
        self.step.read_metrics()
        self.seconds, self.wait, self.matmul = [], [], []

    def run_round(self, steps: int):
        seconds, waited = time_steps(self.step, self.iterator, steps)
        self.seconds.append(seconds)
        self.wait.append(waited)
        dtype = compute_dtype(self.trainer.precision)
        self.matmul.append(matmul_rate(dtype, min(2.0, max(0.3, seconds * steps / 2))))

    def result(self, steps: int, float32_seconds: list[float] | None) -> TrainBench:
        # The fastest round against the fastest matmul of the run: each the least disturbed by other
        # work on the machine (pairing a round with the matmul right after it let one disturbed
        # matmul put the step above 100% of "peak").
        best = int(np.argmin(self.seconds))
        seconds, peak = self.seconds[best], max(self.matmul)
        gflop = train_step_flops(self.trainer.generator, self.trainer.discriminator, self.batch_size,
                                 self.config.d_steps, self.config.g_steps) / 1e9
        speedup = None
        if float32_seconds is not None:  # round by round: the two ran side by side, in the same conditions
            speedup = float(np.median(np.asarray(float32_seconds) / np.asarray(self.seconds)))
        return TrainBench(model=self.model, precision=self.trainer.precision, jit=self.trainer.jit,
                          batch_size=self.batch_size, steps=steps, ms_per_step=seconds * 1e3,
                          images_per_s=self.batch_size / seconds, step_gflop=gflop, gflops_per_s=gflop / seconds,
                          matmul_gflops_per_s=peak, fraction_of_peak=gflop / seconds / peak,
                          input_wait_fraction=self.wait[best], speedup_vs_float32=speedup,
                          traces=self.step._step_fn.experimental_get_tracing_count(),
                          cpu_native_bf16=cpu_has_native_bf16())


def bench_train_many(configurations, jit: bool | None = None, batch_size: int = 64, steps: int = 30,
                     rounds: int = ROUNDS) -> list[TrainBench]:
    """Time each (model, precision) in `configurations`, their rounds interleaved.

    All steps are built first; then every round times each configuration in turn (the order rotating),
    so that a machine whose speed drifts, as shared ones do by 10-20% within minutes, affects them
    alike, and `speedup_vs_float32` (the median of per-round ratios against the same model in
    float32, when that is among the configurations) compares like with like.
    """
    timed = [_Timed(model, precision, jit, batch_size) for model, precision in configurations]
    for r in range(rounds):
        for t in timed[r % len(timed):] + timed[:r % len(timed)]:
            t.run_round(steps)
    float32 = {(t.model, t.trainer.jit): t.seconds for t in timed if t.trainer.precision == "float32"}
    return [t.result(steps, float32.get((t.model, t.trainer.jit)) if t.trainer.precision != "float32" else None)
            for t in timed]


def bench_train(model: str = "mnist-conditional", precision: str = "float32", jit: bool | None = None,
                batch_size: int = 64, steps: int = 30, rounds: int = ROUNDS) -> TrainBench:
    return bench_train_many([(model, precision)], jit, batch_size, steps, rounds)[0]


def format_row(r: TrainBench) -> str:
    return (f"{r.model:18s} {r.precision:15s} jit={'on ' if r.jit else 'off'} batch {r.batch_size:4d}: "
            f"{r.ms_per_step:8.1f} ms/step {r.images_per_s:8.1f} images/s  step {r.step_gflop:6.2f} GFLOP  "
            f"{r.gflops_per_s:7.1f} GFLOP/s  matmul {r.matmul_gflops_per_s:7.1f} GFLOP/s  "
            f"{100 * r.fraction_of_peak:5.1f}% of peak  input wait {100 * r.input_wait_fraction:4.1f}%  traces {r.traces}"
            + (f"  {r.speedup_vs_float32:.2f}x float32" if r.speedup_vs_float32 is not None else ""))
