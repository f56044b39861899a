"""D's test accuracy at every kept checkpoint of semi-supervised (--family sgan) runs: the
curve behind issue 18's "at most 5% error with 100 labels within 10 epochs".

    python benchmarks/sgan_curve.py RUN [RUN ...]      e.g. $S/runs/sgan-l100-s0 (queue.sh's OUT/runs/NAME)

One markdown row per checkpoint: the run, its labelled images and their draw (--labels, --seed),
the step, the epochs it is (an sgan epoch is a pass of the unlabelled half of each batch), D's
accuracy on the 10,000 test images (the figure `dcgan evaluate` reports as d_test_accuracy) and its
error. D is the trained D itself, not an average: --ema averages G only.
"""

from __future__ import annotations

import sys
from pathlib import Path


def checkpoints(run: Path) -> list[Path]:
    """RUN/ckpt's checkpoints (their prefixes, RUN/ckpt/ckpt-N), by step."""
    steps = sorted(int(index.name[len("ckpt-"):-len(".index")]) for index in (run / "ckpt").glob("ckpt-*.index"))
    return [run / "ckpt" / f"ckpt-{step}" for step in steps]


def main():
    from dcgan_cli.config import Config
    from dcgan_cli.datasets import load
    from dcgan_cli.eval.evaluate import discriminator_accuracy
    from dcgan_cli.restore import load_run

    print("| run | labels | draw | step | epochs | D's test accuracy | error |")
    print("|---|---|---|---|---|---|---|")
    for run_dir in map(Path, sys.argv[1:]):
        config = Config.load(run_dir)
        if config.family != "sgan":
            sys.exit(f"{run_dir} is a {config.family} run, not sgan: D classifies only in sgan runs")
        # Each step's batch holds batch_size - batch_size // 2 unlabelled rows (datasets/pipeline.py).
        unlabelled_rows = config.batch_size - config.batch_size // 2
        images = len(load(config.dataset, config.data_dir).train_labels)
        for prefix in checkpoints(run_dir):
            run = load_run(prefix, generator=False, discriminator=True)
            accuracy = discriminator_accuracy(run)["d_test_accuracy"]
            epochs = run.step * unlabelled_rows / images
            print(f"| {run_dir.name} | {config.labels or 'all'} | {config.seed} | {run.step} | {epochs:.2f} | "
                  f"{accuracy:.2%} | {1 - accuracy:.2%} |", flush=True)


if __name__ == "__main__":
    main()
