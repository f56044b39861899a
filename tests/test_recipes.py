"""--recipe and --config: where each value comes from (typed > --config > recipe > family > defaults), what
config.json stores, what --resume may change, and the combinations refused before anything is written."""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import run_cli, tiny_train
from test_cli_errors import assert_one_line_error, snapshot


def test_resolve_takes_each_value_from_the_first_layer_that_has_it():
    from dcgan_cli.train.recipes import resolve

    defaults = {"lr": 2e-4, "beta2": 0.999, "width": None, "seed": 0, "loss": "non_saturating", "batch_size": 64}
    values, sources = resolve(defaults, typed={"lr": 3e-4}, from_file={"lr": 1e-3, "seed": 9}, recipe="wgan-gp",
                              family=("mlp", {"width": 400}), file_name="old/config.json")
    assert values == {"lr": 3e-4, "beta2": 0.9, "width": 400, "seed": 9, "loss": "wasserstein", "batch_size": 64}
    assert sources == {"lr": "command line", "beta2": "recipe wgan-gp", "width": "family mlp",
                       "seed": "--config old/config.json", "loss": "recipe wgan-gp", "batch_size": "default"}


def test_help_shows_the_precedence_and_the_recipes(capsys):
    code, out, _ = run_cli(["train", "mnist", "--help"], capsys)
    assert code == 0
    text = " ".join(out.split())
    assert ("the options typed, --config FILE, --recipe (by default the family's own, if it has one), the family's "
            "defaults, the defaults shown") in text
    assert "[default: the family's own (--family mlp: mlp; --family sgan: sgan), else dcgan]" in text
    for name in ("wgan-gp", "dragan", "lsgan", "carpedm20", "Gulrajani et al. 2017", "Salimans et al. 2016"):
        assert name in text, name


def test_recipe_values_typed_options_win_and_config_json_stores_them(tmp_path, tiny_images, capsys):
    run = tmp_path / "run"
    code, _, err = run_cli(tiny_train(tiny_images, run, "--recipe", "wgan-gp", "--lr", "3e-4", "--critic-steps", "2",
                                      "--max-steps", "1"), capsys)
    assert code == 0, err
    saved = json.loads((run / "config.json").read_text())
    assert saved["recipe"] == "wgan-gp"
    assert {k: saved[k] for k in ("loss", "gradient_penalty", "gp_weight", "optimizer", "beta1", "beta2", "d_norm",
                                  "g_steps", "lr", "critic_steps")} == {
        "loss": "wasserstein", "gradient_penalty": "wgan-gp", "gp_weight": 10.0, "optimizer": "adam", "beta1": 0.0,
        "beta2": 0.9, "d_norm": "layer", "g_steps": 1, "lr": 3e-4, "critic_steps": 2}

    # --config starts a new run from it: its values, the recipe's name, and typed options over both.
    again = tmp_path / "again"
    code, _, err = run_cli(tiny_train(tiny_images, again, "--config", run / "config.json", "--seed", "5",
                                      "--max-steps", "1"), capsys)
    assert code == 0, err
    copied = json.loads((again / "config.json").read_text())
    assert copied == {**saved, "seed": 5}


def test_recipe_mlp_picks_the_family_and_its_defaults(tmp_path, mnist_dir, capsys):
    run = tmp_path / "mlp"
    code, _, err = run_cli(["train", "mnist", "--data-dir", mnist_dir, "--out", run, "--recipe", "mlp", "--max-steps", "1"],
                           capsys)
    assert code == 0, err
    saved = json.loads((run / "config.json").read_text())
    assert (saved["family"], saved["width"], saved["depth"], saved["d_norm"], saved["batch_size"]) == \
        ("mlp", 400, 1, "none", 128)


@pytest.mark.parametrize("family, recipe_values", [
    ("mlp", {"batch_size": 128, "g_steps": 2, "label_smoothing": 0.9}),
    ("sgan", {"g_objective": "feature_matching", "d_noise": 0.5}),
])
def test_a_family_with_a_recipe_of_its_own_starts_from_it(family, recipe_values, tmp_path, mnist_dir, capsys):
    # The "--family mlp applies the mlp recipe": its settings are part of what the model is
    # (sgan's D without the noise forgets the classes it learnt: benchmarks/README.md).
    def dry_run(*args):
        code, out, err = run_cli(["train", "mnist", "--data-dir", mnist_dir, "--out", tmp_path / "run", "--family",
                                  family, *args, "--dry-run"], capsys)
        assert code == 0, err
        rows = [line.split() for line in out.splitlines()]
        return {row[0]: (row[1], " ".join(row[2:])) for row in rows if len(row) >= 3}

    rows = dry_run()
    assert rows["recipe"] == (family, f"family {family}")
    for name, value in recipe_values.items():
        assert rows[name] == (str(value), f"recipe {family}"), name
    # A typed option wins over the recipe; --recipe names another one; nothing was written.
    name = next(iter(recipe_values))
    other = {"batch_size": "32", "g_objective": "adversarial"}[name]
    assert dry_run(f"--{name.replace('_', '-')}", other)[name] == (other, "typed")
    rows = dry_run("--recipe", "dcgan")
    assert rows["recipe"] == ("dcgan", "typed")
    assert all(rows[name][1] == "default" for name in recipe_values), rows
    assert not (tmp_path / "run").exists()


def test_an_sgan_run_from_before_its_recipe_resumes_as_it_was(tmp_path, mnist_dir, capsys):
    # Such a run's config.json says recipe dcgan (no noise, G adversarial); the recipe is fixed on resume.
    common = ["train", "mnist", "--data-dir", mnist_dir, "--out", tmp_path / "old", "--family", "sgan",
              "--batch-size", "8", "--log-every", "1"]
    code, _, err = run_cli([*common, "--recipe", "dcgan", "--max-steps", "1"], capsys)
    assert code == 0, err
    saved = json.loads((tmp_path / "old" / "config.json").read_text())
    code, _, err = run_cli([*common, "--resume", "--max-steps", "2"], capsys)
    assert code == 0, err
    assert json.loads((tmp_path / "old" / "config.json").read_text()) == {**saved, "max_steps": 2}


def test_config_of_another_dataset_or_family_is_refused(tmp_path, tiny_run, mnist_dir, capsys):
    code, _, err = run_cli(["train", "mnist", "--data-dir", mnist_dir, "--out", tmp_path / "a", "--config", tiny_run],
                           capsys)
    assert_one_line_error(code, err, "--config", "folder-dcgan", "dcgan train folder")
    code, _, err = run_cli(["train", "folder", "--family", "mlp", "--out", tmp_path / "b", "--config",
                            tiny_run / "config.json"], capsys)
    assert_one_line_error(code, err, "--config", "folder-dcgan", "--family dcgan")
    code, _, err = run_cli(["train", "folder", "--out", tmp_path / "c", "--config", tmp_path / "missing.json"], capsys)
    assert_one_line_error(code, err, "--config", "does not exist")
    assert not any((tmp_path / name).exists() for name in "abc")


def test_config_with_resume_is_refused(tmp_path, tiny_run, tiny_images, capsys):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    before = snapshot(run)
    code, _, err = run_cli(tiny_train(tiny_images, run, "--resume", "--config", tiny_run), capsys)
    assert_one_line_error(code, err, "--config", "--resume")
    assert snapshot(run) == before


NONSENSE = {
    "penalty with BatchNorm": (["--gradient-penalty", "wgan-gp"], "--d-norm batch"),
    "clip without a critic": (["--clip", "0.01"], "--loss wasserstein"),
    "critic without a constraint": (["--loss", "wasserstein"], "Lipschitz"),
    "clip and penalty": (["--loss", "wasserstein", "--clip", "0.01", "--gradient-penalty", "wgan-gp", "--d-norm", "layer"],
                         "drop one"),
    "critic steps and d steps": (["--critic-steps", "2", "--d-steps", "2"], "use one"),
    "betas with rmsprop": (["--optimizer", "rmsprop", "--beta2", "0.9"], "--optimizer adam"),
    "gp weight without a penalty": (["--gp-weight", "5"], "--gradient-penalty"),
    "d-norm for mlp": (["--family", "mlp", "--d-norm", "batch"], "mlp"),
    "negative clip": (["--loss", "wasserstein", "--clip", "-1"], "--clip"),
    "zero gp weight": (["--gradient-penalty", "r1", "--d-norm", "none", "--gp-weight", "0"], "--gp-weight"),
    "beta2 of 1": (["--beta2", "1"], "--beta2"),
    "no critic steps": (["--critic-steps", "0"], "--critic-steps"),
    "smoothing a critic": (["--loss", "wasserstein", "--clip", "0.01", "--label-smoothing", "0.9"], "no target"),
    "smoothing hinge": (["--loss", "hinge", "--label-smoothing", "0.9"], "--loss hinge has no target"),
    "smoothing hinge from the mlp recipe": (["--recipe", "mlp", "--loss", "hinge"], "--label-smoothing 1"),
    "smoothing above 1": (["--label-smoothing", "1.1"], "(0, 1]"),
    "smoothing of 0": (["--label-smoothing", "0"], "(0, 1]"),
    "minibatch discrimination with a penalty": (["--minibatch-discrimination", "--gradient-penalty", "r1", "--d-norm",
                                                 "none"], "--minibatch-discrimination mixes"),
    "minimax with feature matching only": (["--loss", "minimax", "--g-objective", "feature_matching"], "--g-objective both"),
    "negative historical averaging": (["--historical-averaging", "-1"], "--historical-averaging"),
    "unknown g objective": (["--g-objective", "mean"], "--g-objective"),
    # Family x objective: sgan's D is a (K+1)-way softmax, trained by cross-entropy objectives only.
    "sgan with least squares": (["--family", "sgan", "--loss", "least_squares"], "does not fit the sgan family"),
    "sgan with hinge and the adversarial G": (["--family", "sgan", "--loss", "hinge", "--g-objective", "adversarial"],
                                              "use --loss non_saturating or minimax"),
    "sgan with minimax, whose recipe's G matches features": (["--family", "sgan", "--loss", "minimax"],
                                                             "(the sgan recipe sets it)"),
    "sgan with a critic": (["--family", "sgan", "--loss", "wasserstein", "--gradient-penalty", "wgan-gp", "--d-norm",
                            "layer"], "--loss wasserstein does not fit the sgan family"),
    "acgan with clipping": (["--family", "acgan", "--loss", "wasserstein", "--clip", "0.01"], "class head"),
    "infogan with clipping": (["--family", "infogan", "--loss", "wasserstein", "--clip", "0.01"], "Q's weights"),
    "labels for another family": (["--family", "dcgan", "--labels", "100"], "--labels does not apply"),
    "no labels": (["--family", "sgan", "--labels", "0"], "--labels must be a positive integer"),
    "negative labels": (["--family", "sgan", "--labels", "-10"], "--labels must be a positive integer"),
    "fewer labels than classes": (["--family", "sgan", "--labels", "5"], "at least one per class"),
    "more labels than images": (["--family", "sgan", "--labels", "60001"], "more than the 60000 training images"),
}


def test_the_fix_named_for_sgan_with_hinge_is_one_its_recipe_accepts(tmp_path, mnist_dir, capsys):
    """The recipe's G matches features, beside which minimax is refused: the message offers non_saturating alone."""
    code, _, err = run_cli(["train", "mnist", "--data-dir", mnist_dir, "--family", "sgan", "--loss", "hinge",
                            "--out", tmp_path / "run"], capsys)
    assert_one_line_error(code, err, "use --loss non_saturating")
    assert "minimax" not in err and not (tmp_path / "run").exists()


@pytest.mark.parametrize("case", list(NONSENSE))
def test_nonsense_combinations_are_refused_before_anything_is_written(tmp_path, mnist_dir, capsys, case):
    args, needle = NONSENSE[case]
    code, _, err = run_cli(["train", "mnist", "--data-dir", mnist_dir, "--out", tmp_path / "run", *args], capsys)
    assert_one_line_error(code, err, needle)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("args, needle", [
    (["--d-norm", "layer"], "--d-norm layer differs"),
    (["--optimizer", "rmsprop"], "--optimizer rmsprop differs"),
    (["--recipe", "wgan-gp"], "--recipe wgan-gp differs"),
    (["--critic-steps", "3"], "--critic-steps 3 differs"),
    (["--minibatch-discrimination"], "--minibatch-discrimination True differs"),
    (["--historical-averaging", "0.1"], "--historical-averaging 0.1 differs"),
    (["--label-smoothing", "0.9"], "--label-smoothing 0.9 differs"),
    (["--g-objective", "both"], "--g-objective both differs"),
])
def test_resume_refuses_what_shapes_the_models_or_the_optimisation(tmp_path, tiny_run, tiny_images, capsys, args, needle):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    before = snapshot(run)
    code, _, err = run_cli(tiny_train(tiny_images, run, "--resume", *args), capsys)
    assert_one_line_error(code, err, needle)
    assert snapshot(run) == before


def test_resume_may_change_beta2(tmp_path, tiny_run, tiny_images, capsys):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    code, _, err = run_cli(tiny_train(tiny_images, run, "--resume", "--beta2", "0.99", "--max-steps", "21"), capsys)
    assert code == 0, err
    assert json.loads((run / "config.json").read_text())["beta2"] == 0.99
