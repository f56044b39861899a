"""Use dcgan from Python: load a run's generator, draw images, save them, and measure the run.

    python examples/generate_and_evaluate.py RUN OUT_DIR [--num 16] [--seed 0] [--eval-num 2000]

RUN is a run directory written by `dcgan train` (or api.train). The images are the tiles that
`dcgan sample --checkpoint RUN --num N --seed S` draws; the metrics are `dcgan evaluate`'s.
"""

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow loads: no C++ start-up chatter

from PIL import Image  # noqa: E402

from dcgan_cli import api  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--num", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-num", type=int, default=2000)
    args = parser.parse_args()

    generator = api.load_generator(args.run)
    print(f"{generator.checkpoint}: the {generator.config.family} family at step {generator.step}")
    # Labelled families take one class id per image; here every class in turn.
    labels = [i % generator.num_classes for i in range(args.num)] if generator.num_classes else None
    images = api.generate(generator, args.num, labels=labels, seed=args.seed)  # uint8, N x H x W x C

    args.out_dir.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(args.out_dir / f"{i:04d}.png")
    print(f"wrote {len(images)} images to {args.out_dir}")

    metrics = api.evaluate(args.run, num=args.eval_num, log=lambda message: None)
    print(json.dumps({key: round(metrics[key], 4) for key in ("fid", "real_fid", "kid", "real_kid")}, indent=2))


if __name__ == "__main__":
    main()
