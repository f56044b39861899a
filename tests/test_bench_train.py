"""`dcgan bench train` runs the real step and writes every figure; no timing is asserted."""

import json

import pytest

from conftest import run_cli

KEYS = {"ms_per_step", "images_per_s", "step_gflop", "gflops_per_s", "matmul_gflops_per_s",
        "fraction_of_peak", "input_wait_fraction"}


@pytest.mark.slow  # builds, traces and times two configurations, with matmul rounds between them
def test_bench_train_writes_the_figures(data_root, tmp_path, capsys):
    out = tmp_path / "bench.json"
    code, stdout, err = run_cli(["bench", "train", "--model", "dcgan-28", "--precision", "float32", "--precision",
                                 "mixed_bfloat16", "--no-jit", "--batch-size", "4", "--steps", "2", "--rounds", "2",
                                 "--json", out], capsys)
    assert code == 0, err
    float32, bfloat16 = json.loads(out.read_text())
    for result in (float32, bfloat16):
        assert KEYS <= set(result)
        assert result["step_gflop"] > 0 and result["ms_per_step"] > 0 and 0 <= result["input_wait_fraction"] < 1
        assert result["traces"] == 1  # the step never retraces
    # The speed-up is measured round by round against float32, which has none of its own.
    assert float32["speedup_vs_float32"] is None and bfloat16["speedup_vs_float32"] > 0
    assert stdout.count("GFLOP/s") == 4 and "x float32" in stdout


@pytest.mark.parametrize("option", ["--batch-size", "--steps", "--rounds"])
def test_bench_train_rejects_a_count_that_is_not_positive(option, capsys):
    code, _, err = run_cli(["bench", "train", option, "0"], capsys)
    assert code == 2 and err.startswith("error: ") and option in err and len(err.strip().splitlines()) == 1
