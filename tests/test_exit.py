"""The `dcgan` process's own exit (cli.run): it leaves without Python's teardown of TensorFlow, which
took 2-61 s after a stopped run had saved everything. What it prints must still arrive whole through
a pipe, with main()'s exit code."""

import os
import subprocess
import sys

from conftest import run_cli
from test_cli_errors import assert_one_line_error


def dcgan_process(args, **kwargs):
    env = {key: value for key, value in os.environ.items() if key != "TF_CONFIG"}  # TF_CONFIG keeps Python's exit
    return subprocess.run([sys.executable, "-m", "dcgan_cli", *map(str, args)], env={**env, "TF_CPP_MIN_LOG_LEVEL": "3"},
                          text=True, timeout=300, **kwargs)


def test_output_through_a_pipe_arrives_whole_with_main_exit_codes(tmp_path, mnist_dir, capsys):
    args = ["train", "mnist", "--data-dir", mnist_dir, "--dry-run", "--out", tmp_path / "run"]
    code, out, _ = run_cli(args, capsys)
    assert code == 0 and len(out.splitlines()) > 40
    piped = dcgan_process(args, capture_output=True)  # stdout block-buffered, flushed before the exit
    assert (piped.returncode, piped.stdout) == (0, out), piped.stderr[-2000:]
    bad = dcgan_process(["train", "mnist", "--data-dir", mnist_dir, "--batch-size", 0, "--out", tmp_path / "run"],
                        capture_output=True)
    assert_one_line_error(bad.returncode, bad.stderr, "--batch-size must be a positive integer")
    assert not (tmp_path / "run").exists()
