"""D's test accuracy at every kept checkpoint of semi-supervised (--family sgan) runs: the
curve behind issue 18's "at most 5% error with 100 labels within 10 epochs".

    python benchmarks/sgan_curve.py RUN [RUN ...]      e.g. $S/runs/sgan-l100-s0 (queue.sh's OUT/runs/NAME)
    python benchmarks/sgan_curve.py --from-step 5625 RUN   only the checkpoints from that step on

One markdown row per checkpoint: the run, its labelled images and their draw (--labels, --seed),
the step, the epochs it is (an sgan epoch is a pass of the unlabelled half of each batch), D's
accuracy on the 10,000 test images (the figure `dcgan evaluate` reports as d_test_accuracy) and its
error. D is the trained D itself, not an average: --ema averages G only.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main():
    parser = argparse.ArgumentParser(description="D's test accuracy at every kept checkpoint of sgan runs")
    parser.add_argument("runs", nargs="+", type=Path, help="sgan run directories")
    parser.add_argument("--from-step", type=int, default=0, help="skip checkpoints before this step")
    args = parser.parse_args()

    from dcgan_cli.checkpoint_files import checkpoints
    from dcgan_cli.config import Config
    from dcgan_cli.datasets import training_data
    from dcgan_cli.eval.evaluate import discriminator_accuracy
    from dcgan_cli.restore import load_run
    from dcgan_cli.train.trainer import schedule

    print("| run | labels | draw | step | epochs | D's test accuracy | error |")
    print("|---|---|---|---|---|---|---|")
    for run_dir in args.runs:
        config = Config.load(run_dir)
        if config.family != "sgan":
            parser.error(f"{run_dir} is a {config.family} run, not sgan: pass sgan runs")
        data = training_data(config)  # the run's own pipeline says how many steps an epoch is
        steps_per_epoch, _ = schedule(config, data.num_examples, data.epoch_rows)
        for step, prefix in reversed(checkpoints(run_dir / "ckpt")):
            if step < args.from_step:
                continue
            run = load_run(prefix, generator=False, discriminator=True)
            accuracy = discriminator_accuracy(run)["d_test_accuracy"]
            print(f"| {run_dir.name} | {config.labels or 'all'} | {config.seed} | {run.step} | "
                  f"{run.step / steps_per_epoch:.2f} | {accuracy:.2%} | {1 - accuracy:.2%} |", flush=True)


if __name__ == "__main__":
    main()
