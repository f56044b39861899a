"""Where the train step's time goes: TensorFlow's profiler over a few real steps, summed per op type.

    python benchmarks/profile_step.py --model conditional-28 --precision float32 --steps 10

Prints, for the ops the executor ran on the CPU, the share of the summed op time per op type and
per layer (the name scope the op ran in). Op times overlap when both cores run ops at once, so the
shares are of summed op time, not of wall time.
"""

from __future__ import annotations

import argparse
import collections
import glob
import re
import tempfile

import tensorflow as tf
from tensorflow.tsl.profiler.protobuf import xplane_pb2

from dcgan_cli.bench import PRESETS
from dcgan_cli.bench.train import WARMUP_STEPS, batches, bench_config
from dcgan_cli.kernels import KERNELS
from dcgan_cli.train.trainer import Trainer


def op_times(logdir: str) -> list[tuple[str, str, float]]:
    """(op name, op type, microseconds) of every TensorFlow op event in the trace."""
    space = xplane_pb2.XSpace()
    with open(glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True)[0], "rb") as f:
        space.ParseFromString(f.read())
    events = []
    for plane in space.planes:
        names = {k: v.name for k, v in plane.event_metadata.items()}
        for line in plane.lines:
            if line.name not in ("TensorFlow Ops", "XLA Ops") and not line.name.startswith("tf_"):
                continue
            for event in line.events:
                name = names.get(event.metadata_id, "")
                if ":" in name:  # "scope/op_name:OpType"
                    op, kind = name.rsplit(":", 1)
                    if kind not in CONTAINERS:
                        events.append((op, kind, event.duration_ps / 1e6))
    return events


CONTAINERS = {"Process", "__inference", "PartitionedCall", "StatefulPartitionedCall"}  # hold other ops' time


def layer_of(op: str) -> str:
    """The layer an op belongs to, and whether it is a forward op, a gradient or an optimizer update."""
    parts = [re.sub(r"_\d+$", "", p) for p in op.split("/") if re.match(r"^(g|d)_", p)]
    phase = "grad " if "gradient" in op.lower() else "update " if "adam" in op.lower() else ""
    return phase + (parts[-1] if parts else op.split("/")[0])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="conditional-28", choices=list(PRESETS))
    parser.add_argument("--kernels", default="fast", choices=list(KERNELS))
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--jit", action="store_true")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()

    config = bench_config(args.model, args.precision, args.jit, args.batch_size, args.kernels)
    trainer = Trainer(config)
    iterator = trainer.batches(batches(config))
    trainer.fit(iterator, WARMUP_STEPS)
    trainer.step.numpy()
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        trainer.fit(iterator, WARMUP_STEPS + args.steps)
        trainer.step.numpy()
        tf.profiler.experimental.stop()
        events = op_times(logdir)

    total = sum(us for _, _, us in events)
    print(f"{len(events)} op events, {total / 1e3 / args.steps:.1f} ms of op time per step")
    for title, key in (("op type", lambda e: e[1]), ("layer", lambda e: layer_of(e[0])),
                       ("layer and op type", lambda e: f"{layer_of(e[0])}: {e[1]}")):
        sums = collections.Counter()
        for event in events:
            sums[key(event)] += event[2]
        print(f"\nby {title}:")
        for name, us in sums.most_common(args.top):
            print(f"  {100 * us / total:5.1f}%  {us / 1e3 / args.steps:7.2f} ms/step  {name}")


if __name__ == "__main__":
    main()
