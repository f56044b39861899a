"""Issue 16's screening runs: train unconditional MNIST with one change, then measure mode coverage.

    python benchmarks/unconditional_screen.py --out RUN --steps 937 [--set g_steps=1] [--set start_size=7]
    python benchmarks/unconditional_screen.py --out RUN --evaluate-only [--step 300] [--num 2000]
    python benchmarks/unconditional_screen.py --out FOLDER_RUN --evaluate-only --classifier mnist

`--set` changes Config fields (as `dcgan train mnist` options do; start_size defaults to the dcgan
family's). Training is `dcgan train`'s own (dcgan_cli.train.trainer.train, i.e. Trainer.fit with its
callbacks). Then the checkpoint's averaged G (when the run has one) and G's own weights are each
measured on --num samples with `dcgan evaluate`'s metrics; RUN/screen.json keeps the figures and one
summary line per G is printed. The issue-16 experiments' other knobs (Keras's stock layers, now
`--kernels keras`; D's own learning rate, joint BatchNorm, label smoothing) were temporary: they live
at commit 13fbb93 of branch `unconditional` (benchmarks/README.md, "Unconditional training").
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

KEYS = ("classes_covered", "min_class_share", "max_class_share", "class_entropy", "fid", "recall",
        "precision", "duplicate_share", "clusters")


def pairs(items) -> dict:
    def value(text):
        try:
            return json.loads(text)
        except ValueError:
            return text

    return {k: value(v) for k, v in (item.split("=", 1) for item in items)}


def measure(run: Path, num: int, classifier=None, step=None) -> dict:
    from dcgan_cli.eval.evaluate import draw, feature_space
    from dcgan_cli.restore import load_run

    checkpoint = run if step is None else run / "ckpt" / f"ckpt-{step}"
    space = None
    out = {}
    for averaged in (True, False):
        loaded = load_run(checkpoint, averaged=averaged)
        name = "generator_ema" if averaged and loaded.config.ema else "generator"
        if name in out:
            continue  # no average kept: G's own weights only
        space = space or feature_space(loaded.config, None, num, classifier=classifier)
        images, _ = draw(loaded.family, loaded.generator, num, 0, space.class_prior)
        scores = space.score(images)
        out[name], out["checkpoint"] = scores, loaded.checkpoint
        print(f"{run.name} {name} {loaded.step}: " + ", ".join(f"{k} {scores[k]:.4g}" for k in KEYS if k in scores)
              + "; shares " + " ".join(f"{scores[f'class_share_{c}']:.3f}" for c in range(10) if f"class_share_{c}" in scores),
              flush=True)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--steps", type=int, default=937)
    parser.add_argument("--num", type=int, default=10000, help="samples per evaluation")
    parser.add_argument("--set", nargs="*", default=[], help="Config fields, e.g. g_steps=1 ema=0 start_size=2")
    parser.add_argument("--evaluate-only", action="store_true")
    parser.add_argument("--step", type=int, default=None, help="with --evaluate-only: this checkpoint, not the last")
    parser.add_argument("--classifier", default=None, help="mnist: measure a folder run with the MNIST classifier")
    args = parser.parse_args(argv)

    if not args.evaluate_only:
        import keras

        from dcgan_cli.config import Config
        from dcgan_cli.models import FAMILIES
        from dcgan_cli.train.trainer import train

        data_dir = os.environ.get("DCGAN_DATA_DIR")
        fields = {"dataset": "mnist", "family": "dcgan", "image_size": 28, "channels": 1, "num_classes": 0,
                  "width": 64, "start_size": FAMILIES["dcgan"].default_start_size(28), "max_steps": args.steps,
                  "checkpoint_every": args.steps, "sample_every": max(args.steps // 3, 1),
                  "data_dir": data_dir and str(Path(data_dir) / "mnist")}
        config = Config(**{**fields, **pairs(args.set)})
        keras.utils.set_random_seed(config.seed)
        train(config, args.out, log=lambda message: print(message, file=sys.stderr, flush=True))
    results = measure(args.out, args.num, args.classifier, args.step)
    name = f"screen{'' if args.step is None else '-' + str(args.step)}.json"
    (args.out / name).write_text(json.dumps(results, indent=2, sort_keys=True, default=float) + "\n")


if __name__ == "__main__":
    main()
