"""Mixed precision trains correctly on a CPU, so the GPU path (mixed_float16) is tested where CI runs."""

import math

import keras
import pytest
import tensorflow as tf

from dcgan_cli.config import Config
from dcgan_cli.datasets import training_data
from dcgan_cli.train.trainer import Trainer


@pytest.mark.parametrize("steps", [
    10,  # quick: the wiring (loss scaling, dtypes) in the default suite
    pytest.param(150, marks=pytest.mark.slow),  # fp16 is emulated on CPUs, slowly
])
def test_mixed_float16_trains_real_mnist_without_nans(steps, mnist_dir, tmp_path):
    config = Config(data_dir=str(mnist_dir), batch_size=8, precision="mixed_float16", jit=False, limit=2000)
    trainer = Trainer(config, tmp_path)
    step = trainer.train_step
    assert isinstance(trainer.g_optimizer, keras.optimizers.LossScaleOptimizer)
    assert isinstance(trainer.d_optimizer, keras.optimizers.LossScaleOptimizer)
    kernel = trainer.generator.get_layer("g_h2").kernel
    before = kernel.numpy()
    iterator = iter(training_data(config).dataset)
    for i in range(steps):
        step(next(iterator))
        if (i + 1) % 10 == 0:
            metrics = step.read_metrics()
            assert all(math.isfinite(v) for v in metrics.values()), (i, metrics)
    for optimizer in (trainer.g_optimizer, trainer.d_optimizer):
        scale = float(optimizer.dynamic_scale.numpy())
        assert math.isfinite(scale) and scale >= 1.0  # loss scaling is active and did not collapse
        assert all(bool(tf.reduce_all(tf.math.is_finite(v))) for v in optimizer.variables if "float" in str(v.dtype))
    assert (kernel.numpy() != before).any()  # the scaled gradients did reach G and were applied
    for model in (trainer.generator, trainer.discriminator):
        assert all(bool(tf.reduce_all(tf.math.is_finite(v))) for v in model.variables)

    images, labels = next(iterator)
    family = trainer.family
    latents = family.latents(tf.random.uniform((8, config.z_dim), -1.0, 1.0), labels=labels)
    fake = trainer.generator(family.generator_inputs(latents), training=False)
    logits = family.discriminate(trainer.discriminator, images, labels).logits
    assert fake.dtype == tf.float32 and logits.dtype == tf.float32
    # The layers in between do compute in half precision.
    assert trainer.generator.get_layer("g_h2").compute_dtype == "float16"
    assert trainer.discriminator.get_layer("d_h1_conv").compute_dtype == "float16"
    assert trainer.generator.get_layer("g_h2").variable_dtype == "float32"


def test_the_gpu_default_step_mixed_float16_under_xla_trains_on_cpu(mnist_dir, tmp_path):
    """What a GPU runs with no flags (mixed_float16, XLA, the models' custom-gradient layers),
    compiled and trained here: finite losses, moved weights, one trace."""
    config = Config(data_dir=str(mnist_dir), batch_size=8, precision="mixed_float16", jit=True, limit=2000)
    trainer = Trainer(config, tmp_path)
    assert trainer.jit
    step = trainer.train_step
    before = {name: trainer.generator.get_layer(name).kernel.numpy() for name in ("g_h1_lin", "g_h2", "g_h3")}
    iterator = iter(training_data(config).dataset)
    for _ in range(5):
        step(next(iterator))
    metrics = step.read_metrics()
    assert set(metrics) and all(math.isfinite(v) for v in metrics.values()), metrics
    for name, kernel in before.items():  # the dense, transposed and sub-pixel layers all got gradients
        assert (trainer.generator.get_layer(name).kernel.numpy() != kernel).any(), name
    assert step._step_fn.experimental_get_tracing_count() == 1
