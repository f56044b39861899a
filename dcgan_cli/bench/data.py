"""`dcgan bench data`: how fast the input pipeline delivers training images.

Two rates from the same run: the real pipeline (read, shuffle, decode, crop, resize, batch) and
the same encoded bytes decoded, cropped and resized straight from memory, with the same
parallelism. The second is the decoder's limit on this machine; the pipeline should come close
to it. The two are measured in alternating rounds, so a machine shared with other work slows
both alike, and the best round of each is reported.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import tensorflow as tf

from dcgan_cli.datasets import DATASETS
from dcgan_cli.datasets.images import AUTOTUNE, decode_to_training_image

MEMORY_RECORDS = 2048  # encoded images held in memory for the reference rate


@dataclass
class DataBench:
    dataset: str
    pipeline: float  # images/s
    memory: float | None  # images/s decoding the same bytes from memory; None for MNIST (nothing to decode)
    image_size: int
    batch_size: int
    records: int
    train_step: float | None = None  # images/s the training step consumes (float32, this machine)
    pipeline_cpu_ms: float | None = None  # process CPU time per image, independent of other load
    memory_cpu_ms: float | None = None


def rate(iterator, batch_size: int, seconds: float) -> tuple[float, float]:
    """(images per second, process CPU milliseconds per image) drawn from iterator for about `seconds`."""
    batches, start, cpu = 0, time.perf_counter(), time.process_time()
    while True:
        next(iterator)
        batches += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            images = batches * batch_size
            return images / elapsed, 1000 * (time.process_time() - cpu) / images


def memory_batches(encoded: list[bytes], image_size: int, channels: int, batch_size: int,
                   crop: int | None = None) -> tf.data.Dataset:
    return (tf.data.Dataset.from_tensor_slices(tf.constant(encoded, tf.string))
            .repeat()
            .map(lambda contents: decode_to_training_image(contents, image_size, channels, crop),
                 num_parallel_calls=AUTOTUNE)
            .ignore_errors()  # as the pipeline does
            .batch(batch_size, drop_remainder=True)
            .prefetch(AUTOTUNE))


def sources(dataset: str, data_dir, image_size: int, channels: int, batch_size: int, category: str,
            pattern: str | None, crop: int | None, limit: int | None):
    """(pipeline dataset, in-memory reference dataset or None, number of records)."""
    if dataset == "lsun":
        from dcgan_cli.datasets.lsun import lsun_batches, open_lsun

        reader, _ = open_lsun(data_dir, category, channels, limit)
        pipeline = lsun_batches(data_dir, category, image_size, channels, batch_size, seed=0, limit=limit)
        encoded = reader.first_values(min(pipeline.num_examples, MEMORY_RECORDS))
        return pipeline.dataset, memory_batches(encoded, image_size, channels, batch_size), pipeline.num_examples
    if dataset == "folder":
        from pathlib import Path

        from dcgan_cli.datasets.folder import folder_batches, list_images

        pipeline = folder_batches(data_dir, pattern, crop, image_size, channels, batch_size, seed=0, limit=limit)
        encoded = [Path(p).read_bytes() for p in list_images(data_dir, pattern)[:min(pipeline.num_examples, MEMORY_RECORDS)]]
        return pipeline.dataset, memory_batches(encoded, image_size, channels, batch_size, crop), pipeline.num_examples
    if DATASETS[dataset].load is not None:
        from dcgan_cli.datasets import load
        from dcgan_cli.datasets.pipeline import training_batches

        data = load(dataset, data_dir)
        images, labels = data.train_images[:limit], data.train_labels[:limit]
        return training_batches(images, labels, batch_size, 0), None, len(images)
    raise ValueError(f"unknown dataset {dataset!r}")


def train_step_rate(dataset: str, batch, image_size: int, channels: int, batch_size: int, width: int,
                    steps: int) -> float:
    """Images/s Trainer.fit trains at, fed one fixed batch (so the input pipeline costs nothing)."""
    from dcgan_cli.config import Config
    from dcgan_cli.train.trainer import Trainer

    if dataset == "mnist":
        config = Config(dataset="mnist", family="conditional", image_size=28, channels=1, num_classes=10,
                        width=64, batch_size=batch_size)
    else:
        config = Config(dataset=dataset, family="dcgan", image_size=image_size, channels=channels, num_classes=0,
                        width=width, batch_size=batch_size)
    trainer = Trainer(config)  # no run directory: nothing is written
    fixed = trainer.batches(tf.data.Dataset.from_tensors(batch).repeat())
    trainer.fit(fixed, 1)  # trace and warm up
    start = time.perf_counter()
    trainer.fit(fixed, 1 + steps)
    trainer.train_step.read_metrics()  # wait for the last step
    return steps * batch_size / (time.perf_counter() - start)


def bench_data(dataset: str, data_dir=None, image_size: int = 64, channels: int = 3, batch_size: int = 64,
               seconds: float = 5.0, rounds: int = 3, category: str = "bedroom", pattern: str | None = None,
               crop: int | None = None, limit: int | None = None, train_steps: int | None = 0, width: int = 128,
               echo=print) -> DataBench:
    """Measure, print and return the pipeline's and the in-memory decoder's images/s."""
    if DATASETS[dataset].shape is not None:
        image_size, _, channels = DATASETS[dataset].shape
    pipeline, memory, count = sources(dataset, data_dir, image_size, channels, batch_size, category, pattern,
                                      crop, limit)
    candidates = {"pipeline": iter(pipeline)}
    if memory is not None:
        candidates["memory"] = iter(memory)
    for iterator in candidates.values():  # warm up: thread pools, autotuning, page cache
        rate(iterator, batch_size, min(2.0, seconds))
    best = {name: (0.0, 0.0) for name in candidates}
    for _ in range(rounds):
        for name, iterator in candidates.items():
            best[name] = max(best[name], rate(iterator, batch_size, seconds))
    result = DataBench(dataset, best["pipeline"][0], best["memory"][0] if memory is not None else None,
                       image_size, batch_size, count, pipeline_cpu_ms=best["pipeline"][1],
                       memory_cpu_ms=best["memory"][1] if memory is not None else None)
    size = f"{image_size}x{image_size}"
    # CPU time per image does not depend on how busy the machine is: compare it when shared.
    echo(f"{dataset} pipeline ({count} records -> {size}, batch {batch_size}): {result.pipeline:.0f} images/s, "
         f"{result.pipeline_cpu_ms:.2f} CPU ms/image")
    if result.memory is not None:
        echo(f"same bytes decoded+cropped+resized from memory: {result.memory:.0f} images/s, "
             f"{result.memory_cpu_ms:.2f} CPU ms/image (pipeline at {100 * result.pipeline / result.memory:.0f}% of it)")
    if train_steps is None:  # auto: a CPU step at 64x64 takes about a minute; time it on accelerators only
        train_steps = 10 if tf.config.list_physical_devices("GPU") else 0
        if not train_steps:
            echo("training step not timed on a CPU-only host; pass --train-steps N to time it")
    if train_steps:
        batch = next(candidates["pipeline"])
        result.train_step = train_step_rate(dataset, batch, image_size, channels, batch_size, width, train_steps)
        model = "conditional MNIST model" if dataset == "mnist" else f"{size} DCGAN, width {width}"
        echo(f"training step ({model}, {train_steps} steps) consumes {result.train_step:.0f} images/s")
    echo(f"{result.pipeline:.0f} images/s")
    return result

