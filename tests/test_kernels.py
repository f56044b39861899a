"""--kernels keras|fast: the same training from one start, interchangeable checkpoints, the Keras pin."""

import keras
import numpy as np

from dcgan_cli.config import Config
from dcgan_cli.datasets import training_data
from dcgan_cli.kernels import TESTED_KERAS, resolve_kernels
from dcgan_cli.train.trainer import Trainer

STEPS = 50
# A tenth of the default learning rate: GAN training with Adam amplifies the two forms' rounding
# differences step by step, and at this rate that stays far below what a wrong gradient shows
# (benchmarks/README.md, "--kernels keras|fast").
LR = 2e-5


def trained(kernels, mnist_dir, start=None, run_dir=None):
    """A conditional MNIST trainer after STEPS steps from `start` (G's and D's weights; drawn if None),
    and the mean of each metric over the steps."""
    config = Config(data_dir=str(mnist_dir), batch_size=16, limit=4000, ema=0, lr=LR, kernels=kernels,
                    precision="float32", jit=False, seed=3)
    trainer = Trainer(config, run_dir)
    if start is None:  # drawn here: Keras's initialisers draw differently from process to process
        rng = np.random.default_rng(3)
        start = [[rng.normal(0, 0.02, w.shape).astype(w.dtype) if w.ndim > 1 else w for w in model.get_weights()]
                 for model in (trainer.generator, trainer.discriminator)]
    trainer.generator.set_weights(start[0])
    trainer.discriminator.set_weights(start[1])
    trainer.fit(trainer.batches(training_data(config).dataset), STEPS)
    return trainer, start, trainer.train_step.read_metrics()


def test_keras_and_fast_kernels_train_alike_and_share_checkpoints(mnist_dir, tmp_path):
    fast, start, fast_means = trained("fast", mnist_dir, run_dir=tmp_path)
    reference, _, keras_means = trained("keras", mnist_dir, start)
    assert type(fast.generator.get_layer("g_h2")) is not type(reference.generator.get_layer("g_h2"))
    for name in ("d_loss_real", "d_loss_fake", "d_loss", "g_loss"):
        assert abs(fast_means[name] - keras_means[name]) <= 1e-3 * abs(keras_means[name]), (name, fast_means, keras_means)
    moved = [not np.allclose(w, s) for w, s in zip(reference.generator.get_weights(), start[0])]
    assert any(moved)

    # The same variables: a checkpoint of the fast forms restores, whole, into Keras's.
    fast.save_checkpoint()
    restored = Trainer(Config(batch_size=16, ema=0, kernels="keras", seed=3), tmp_path)
    assert restored.restore().endswith(f"ckpt-{STEPS}")
    for a, b in zip(restored.generator.weights + restored.discriminator.weights,
                    fast.generator.weights + fast.discriminator.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_an_untested_keras_gets_the_keras_kernels_with_one_warning(monkeypatch):
    assert resolve_kernels("fast").name == "fast" and keras.__version__.startswith(TESTED_KERAS)
    monkeypatch.setattr(keras, "__version__", "3.99.0")
    warnings = []
    kernels = resolve_kernels("fast", warn=warnings.append)
    assert kernels.name == "keras" and kernels.Dense is keras.layers.Dense and kernels.Adam is keras.optimizers.Adam
    assert len(warnings) == 1 and "3.99.0" in warnings[0] and "--kernels keras" in warnings[0]
    assert resolve_kernels("keras", warn=warnings.append).name == "keras" and len(warnings) == 1
