"""The table of a benchmarks/queue.sh directory: one markdown row per run, from its eval-NAME.json,
its TensorBoard logs and its NAME.log.

    python benchmarks/queue_table.py OUT NAME [NAME ...]

ms/step and img/s are the trainer's own time without evaluations (time/train_wall_s; the run's whole
wall time when it made none); a step is one G update, so with --critic-steps 5 it holds 5 critic
updates and 5 real batches. "curve" is the --eval-every evaluations' FID (2,000 samples, so higher
than the final 10,000-sample FID): first, best, last.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from dcgan_cli.viz.plots import read_scalars


def row(out: Path, name: str) -> str:
    run = out / "runs" / name
    results = json.loads((out / f"eval-{name}.json").read_text())
    config = json.loads((run / "config.json").read_text())
    scalars = read_scalars(run / "logs")
    total = float(re.findall(r"([0-9.]+) s wall", (out / f"{name}.log").read_text())[-1])
    # Only --eval-every's evaluations log the trainer's own time; without them there is nothing to subtract.
    steps, wall = scalars.get("time/train_wall_s", ([results["step"]], [total]))
    real_images = steps[-1] * config["batch_size"] * config.get("critic_steps", 1)
    curve = ""
    if "eval/fid" in scalars:
        fid = scalars["eval/fid"][1]
        curve = f"{fid[0]:.0f} / {fid.min():.1f} / {fid[-1]:.1f}"
    # conditional runs: the classifier's agreement with the labels drawn; InfoGAN: its code-to-class matching
    accuracy = results.get("label_accuracy", results.get("code_class_accuracy"))
    shown = "-" if accuracy is None else f"{accuracy:.2%}"
    return (f"| {name} | {int(results['step'])} | {shown} | {results['fid']:.2f} | "
            f"{results['precision']:.3f} | {results['recall']:.3f} | {results['duplicate_share']:.1%} | "
            f"{1000 * wall[-1] / steps[-1]:.0f} | {real_images / wall[-1]:.0f} | {total / 60:.1f} | {curve} |")


def main():
    out = Path(sys.argv[1])
    print("| run | steps | label (infogan: code-to-class) accuracy | FID | precision | recall | near-duplicates | ms/step | real img/s "
          "| wall, min | curve FID: first / best / last |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in sys.argv[2:]:
        print(row(out, name))


if __name__ == "__main__":
    main()
