"""Sample quality against training cost, for runs trained with --eval-every.

    python benchmarks/quality_curve.py RUN [RUN ...] --out benchmarks/quality-vs-time.png [--target 0.98]

Reads each run's eval/label_accuracy and eval/fid and the training time logged beside them
(time/train_wall_s and time/train_cpu_s: the trainer's time without the evaluations), plots both
metrics against wall-clock minutes, and prints when each run first reached the target label accuracy.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from dcgan_cli.viz.plots import read_scalars


def curve(run: Path) -> dict:
    scalars = read_scalars(run / "logs")
    config = json.loads((run / "config.json").read_text())
    steps, accuracy = scalars["eval/label_accuracy"]
    return {"run": run, "config": config, "steps": steps, "accuracy": accuracy, "fid": scalars["eval/fid"][1],
            "wall": scalars["time/train_wall_s"][1], "cpu": scalars["time/train_cpu_s"][1]}


def label(c: dict) -> str:
    k = c["config"]
    ema = k.get("ema", 0.0)
    parts = [k["precision"], f"batch {k['batch_size']}", f"lr {k['lr']:g}", f"G steps {k['g_steps']}", k["loss"]]
    if k.get("recipe", "dcgan") != "dcgan":
        parts.insert(0, f"recipe {k['recipe']}")
    if k.get("gradient_penalty") not in (None, "none"):
        parts.append(f"{k['gradient_penalty']} penalty")
    if k.get("label_smoothing", 1.0) != 1.0:
        parts.append(f"smoothing {k['label_smoothing']:g}")
    if k.get("g_objective", "adversarial") != "adversarial":
        parts.append(k["g_objective"])
    if k.get("minibatch_discrimination"):
        parts.append("minibatch discrimination")
    if k.get("historical_averaging"):
        parts.append(f"historical averaging {k['historical_averaging']:g}")
    parts.append(f"EMA {ema:g}" if ema else "no EMA")
    return f"{c['run'].name}: " + ", ".join(parts)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/quality-vs-time.png"))
    parser.add_argument("--target", type=float, default=0.98)
    parser.add_argument("--xlabel", default="training wall-clock minutes on the 2-core CPU (evaluations excluded)")
    parser.add_argument("--ylim", type=float, default=80.0, help="lowest label accuracy shown (%%)")
    args = parser.parse_args()
    curves = [curve(run) for run in args.runs]

    for c in curves:
        reached = np.nonzero(c["accuracy"] >= args.target)[0]
        when = (f"step {c['steps'][reached[0]]}, {c['wall'][reached[0]] / 60:.1f} min wall, "
                f"{c['cpu'][reached[0]] / 60:.1f} CPU-min" if len(reached) else "not reached")
        print(f"{label(c)}\n  {args.target:.0%} label accuracy: {when}; last: step {c['steps'][-1]}, "
              f"label accuracy {c['accuracy'][-1]:.2%}, FID {c['fid'][-1]:.2f}, "
              f"best FID {c['fid'].min():.2f}, {c['wall'][-1] / 60:.1f} min wall")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 8), sharex=True)
    for ax in (top, bottom):
        ax.set_prop_cycle(color=plt.cm.tab20.colors)  # up to 20 runs, each its own colour
    for c in curves:
        minutes = c["wall"] / 60
        top.plot(minutes, 100 * c["accuracy"], marker=".", label=label(c))
        bottom.plot(minutes, c["fid"], marker=".", label=label(c))
    top.axhline(100 * args.target, color="grey", linestyle=":", linewidth=0.8)
    top.set_ylabel("label accuracy (%)")
    top.set_ylim(args.ylim, 100)
    bottom.set_ylabel("FID (classifier features, 2,000 samples)")
    bottom.set_yscale("log")
    bottom.set_xlabel(args.xlabel)
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    top.legend(fontsize="small" if len(curves) <= 8 else "x-small", loc="lower right")
    fig.suptitle("conditional MNIST: sample quality against training time")
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
