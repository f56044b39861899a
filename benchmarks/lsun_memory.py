"""Peak resident memory of one pass of the LSUN pipeline over an LMDB, as the database grows.

    python benchmarks/lsun_memory.py DIR [--passes 1] [--image-size 64] [--batch-size 64]

Runs the pass in a fresh process per database so that each peak is its own, and prints
`records, seconds, images/s, peak RSS MB` and the peak of its anonymous part (sampled every
50 ms): the rest is the LMDB's memory map, page cache the kernel reclaims at will. Make the databases with `--make N SOURCE_DIR`, which
repeats SOURCE_DIR's encoded images under new keys (the pipeline's memory does not depend on
which pictures they are, only on how many records there are).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import threading
import time


def make(count: int, source: str, dest: str) -> None:
    from dcgan_cli.datasets.lsun import LmdbReader, find_lmdb
    from dcgan_cli.datasets.testdata import write_lsun_lmdb

    reader = LmdbReader(find_lmdb(source, "bedroom"))
    values = reader.first_values(reader.entries())
    values = [values[i % len(values)] for i in range(count)]
    write_lsun_lmdb(dest, count, corrupt=0, values=values)
    print(f"wrote {count} records to {dest}")


def rss_anon_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def one_pass(data_dir: str, image_size: int, batch_size: int, passes: int) -> None:
    from dcgan_cli.datasets.lsun import lsun_batches

    peak_anon = [0.0]
    done = threading.Event()

    def sample():
        while not done.wait(0.05):
            peak_anon[0] = max(peak_anon[0], rss_anon_mb())

    threading.Thread(target=sample, daemon=True).start()
    pipeline = lsun_batches(data_dir, "bedroom", image_size, 3, batch_size, seed=0)
    dataset, count = pipeline.dataset, pipeline.num_examples
    steps = passes * (count // batch_size)
    start = time.perf_counter()
    for _ in dataset.take(steps):
        pass
    seconds = time.perf_counter() - start
    done.set()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{count} records, {seconds:.1f} s, {steps * batch_size / seconds:.0f} images/s, "
          f"peak RSS {peak_mb:.0f} MB, peak anonymous RSS {peak_anon[0]:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dirs", nargs="*")
    parser.add_argument("--make", nargs=2, metavar=("N", "SOURCE_DIR"))
    parser.add_argument("--dest")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--passes", type=int, default=1)
    parser.add_argument("--child", action="store_true")
    args = parser.parse_args()
    if args.make:
        make(int(args.make[0]), args.make[1], args.dest)
        return
    if args.child:
        one_pass(args.dirs[0], args.image_size, args.batch_size, args.passes)
        return
    for data_dir in args.dirs:
        subprocess.run([sys.executable, __file__, "--child", data_dir, "--image-size", str(args.image_size),
                        "--batch-size", str(args.batch_size), "--passes", str(args.passes)], check=True)


if __name__ == "__main__":
    main()
