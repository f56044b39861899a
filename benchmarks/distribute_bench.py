"""Throughput of the real train step under a tf.distribute strategy (issue 6 figures).

    python benchmarks/distribute_bench.py --strategy default --batch-size 64
    python benchmarks/distribute_bench.py --strategy mirrored --batch-size 64      # same device, strategy path
    TF_CONFIG=... python benchmarks/distribute_bench.py --strategy multiworker      # once per worker

Real MNIST batches ($DCGAN_DATA_DIR/mnist or --data-dir), the conditional model, float32. Prints
global images/s over --steps timed steps after --warmup untimed ones (tracing included there), and
this process's CPU milliseconds per image, which a busy shared machine distorts far less than wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--strategy", default="default")
    parser.add_argument("--cpu-replicas", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=64, help="global batch")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="TensorFlow intra-op threads per process")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()

    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    from dcgan_cli.config import Config
    from dcgan_cli.datasets import training_data
    from dcgan_cli.train.distribute import describe, make_strategy
    from dcgan_cli.train.trainer import Trainer

    strategy = make_strategy(args.strategy, args.cpu_replicas)
    data_dir = args.data_dir or str(Path(os.environ["DCGAN_DATA_DIR"]) / "mnist")
    config = Config(family="conditional", data_dir=data_dir, batch_size=args.batch_size,
                    precision="float32", jit=False)
    trainer = Trainer(config, strategy=strategy)  # no run directory: never saves
    batches = trainer.batches(training_data(config).dataset)
    trainer.fit(batches, args.warmup)
    trainer.step.numpy()  # wait for the warm-up steps
    start, cpu_start = time.perf_counter(), time.process_time()
    trainer.fit(batches, args.warmup + args.steps)
    trainer.step.numpy()
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    print(json.dumps({"strategy": describe(strategy), "global_batch": args.batch_size, "threads": args.threads,
                      "steps": args.steps, "seconds": round(seconds, 2),
                      "images_per_second": round(args.steps * args.batch_size / seconds, 1),
                      # CPU time of this process (all threads) per image: what a shared machine's load distorts least.
                      "cpu_ms_per_image": round(1000 * cpu_seconds / (args.steps * args.batch_size), 2)}))


if __name__ == "__main__":
    main()
