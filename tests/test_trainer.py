"""Trainer.fit and its callbacks: bookkeeping never changes the training, and a stop saves the step."""

import numpy as np
import pytest
import tensorflow as tf

from dcgan_cli.config import Config
from dcgan_cli.datasets import training_data
from dcgan_cli.errors import TrainingStopped
from dcgan_cli.train.callbacks import Callback, Checkpoints, NanGuard, ProgressLine, SampleGrids, Scalars
from dcgan_cli.train.progress import Progress
from dcgan_cli.train.trainer import Trainer


def mlp_trainer(mnist_dir, run_dir=None):
    config = Config(data_dir=str(mnist_dir), family="mlp", num_classes=0, width=32, depth=1, batch_size=16,
                    limit=640, seed=5)
    trainer = Trainer(config, run_dir)
    return trainer, trainer.batches(training_data(config).dataset)


def weights(trainer):
    return [w.numpy() for w in trainer.generator.weights + trainer.discriminator.weights + trainer.sampler.weights]


def test_fit_with_every_callback_trains_exactly_as_the_bare_fit(mnist_dir, tmp_path):
    bare, batches = mlp_trainer(mnist_dir)
    start = weights(bare)
    assert bare.fit(batches, 12) == 12

    full, batches = mlp_trainer(mnist_dir, tmp_path)
    for w, s in zip(full.generator.weights + full.discriminator.weights + full.sampler.weights, start):
        w.assign(s)
    writer = tf.summary.create_file_writer(str(tmp_path / "logs"))
    (tmp_path / "samples").mkdir()
    callbacks = [NanGuard(), Scalars(writer), ProgressLine(Progress(12, 40, 16)),
                 SampleGrids(tmp_path / "samples", writer, 5, seed=5), Checkpoints(4)]
    assert full.fit(batches, 12, callbacks, metrics_every=3) == 12
    for a, b in zip(weights(bare), weights(full)):
        np.testing.assert_array_equal(a, b)
    assert sorted(p.name for p in (tmp_path / "ckpt").glob("*.index")) == ["ckpt-12.index", "ckpt-4.index", "ckpt-8.index"]
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == \
        [f"step_{s:06d}.png" for s in (0, 5, 10, 12)]


class StopAt(Callback):
    def __init__(self, step):
        self.step = step

    def on_step_end(self, trainer, step):
        if step == self.step:
            trainer.request_stop("terminated", 143)


def test_request_stop_saves_the_step_and_stops_with_its_code(mnist_dir, tmp_path):
    trainer, batches = mlp_trainer(mnist_dir, tmp_path)
    with pytest.raises(TrainingStopped) as stopped:
        trainer.fit(batches, 100, [StopAt(7)])
    assert stopped.value.exit_code == 143
    assert str(stopped.value) == f"terminated at step 7; saved {tmp_path / 'ckpt' / 'ckpt-7'}; continue with --resume"
    assert trainer.last_checkpoint.endswith("ckpt-7") and (tmp_path / "ckpt" / "ckpt-7.index").exists()
