"""Every objective, penalty and recipe trains on real MNIST without NaN, its metrics move, and TensorBoard
holds what it means; critic updates read fresh batches and fresh z, count epochs in real images, and resume
bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import run_cli, weight_change

# The critic recipes' 5 updates per step, cut to 2 in the quick runs (the slow ones keep the papers' 5).
OBJECTIVES = {
    "non_saturating": ["--loss", "non_saturating"],
    "minimax": ["--loss", "minimax"],
    "least_squares": ["--recipe", "lsgan"],
    "hinge": ["--loss", "hinge"],
    "wgan": ["--recipe", "wgan"],
    "wgan-gp": ["--recipe", "wgan-gp"],
    "dragan": ["--recipe", "dragan"],
    "r1": ["--loss", "least_squares", "--gradient-penalty", "r1", "--d-norm", "none"],
    "mlp": ["--recipe", "mlp"],
}
QUICK_CRITIC = {"wgan": ["--critic-steps", "2"], "wgan-gp": ["--critic-steps", "2"]}
PROBABILITY_TAGS = {"d_real", "d_fake"}
SCORE_TAGS = {"score_real", "score_fake"}


def expected_tags(name: str) -> set[str]:
    tags = {"d_loss", "g_loss", "d_loss_real", "d_loss_fake"}
    tags |= PROBABILITY_TAGS if name in ("non_saturating", "minimax", "dragan", "mlp") else SCORE_TAGS
    if name in ("wgan", "wgan-gp"):
        tags.add("wasserstein")
    if name in ("wgan-gp", "dragan", "r1"):
        tags |= {"d_penalty", "grad_norm"}
    return tags


def train_and_read(tmp_path, mnist_dir, capsys, name, steps, extra=()):
    from dcgan_cli.viz.plots import read_scalars

    family = [] if name == "mlp" else ["--conditional"]
    run = tmp_path / name
    code, _, err = run_cli(["train", "mnist", *family, "--data-dir", mnist_dir, "--out", run, "--batch-size", "16",
                            "--max-steps", steps, "--log-every", steps // 3, "--sample-every", "1000",
                            "--checkpoint-every", steps // 3, *OBJECTIVES[name], *extra], capsys)
    assert code == 0, err
    return run, read_scalars(run / "logs"), err


def check_trained(name, run, scalars, err, steps):
    tags = expected_tags(name)
    logged = {tag for tag in scalars if tag != "samples"}
    assert tags <= logged, (name, tags - logged)
    # Sigmoid(D) is shown only where D's output is a probability's logit.
    assert not (PROBABILITY_TAGS & logged if tags & SCORE_TAGS else SCORE_TAGS & logged), (name, logged)
    for tag in tags:
        steps_logged, values = scalars[tag]
        assert list(steps_logged) == [steps // 3, 2 * (steps // 3), 3 * (steps // 3)], (name, tag)
        assert np.isfinite(values).all(), (name, tag, values)
    for tag in ("d_loss", "g_loss"):  # logged afresh each time (WGAN's clipped critic's differ by ~1e-6)
        values = scalars[tag][1]
        assert np.ptp(values) > 0, (name, tag, values)
    # Both players learned between the first and the last checkpoint. Their losses need not show it: a
    # balanced non-saturating game sits at log 2, where 30 steps moved G's loss by 0.1% on one CI machine.
    # The others' weights move 1-7% in 20 steps; WGAN's critic, clipped to 0.01 and stepped at RMSprop's
    # 5e-5, 0.06%, and G, fed its ~1e-8 gradients, 2e-6 (a player that never stepped moves exactly 0).
    change = weight_change(run, steps // 3, steps)
    assert min(change.values()) > (1e-7 if name == "wgan" else 1e-3), (name, change)
    if "grad_norm" in tags:
        assert (scalars["grad_norm"][1] > 0).all()
    if "wasserstein" in tags:  # the estimate is the difference of the mean scores it is shown beside
        np.testing.assert_allclose(scalars["wasserstein"][1], scalars["score_real"][1] - scalars["score_fake"][1],
                                   rtol=1e-4, atol=1e-6)
    assert "NaN" not in err


@pytest.mark.parametrize("name", list(OBJECTIVES))
def test_each_objective_trains_30_steps_and_moves_its_metrics(tmp_path, mnist_dir, capsys, name):
    run, scalars, err = train_and_read(tmp_path, mnist_dir, capsys, name, 30, QUICK_CRITIC.get(name, []))
    check_trained(name, run, scalars, err, 30)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(OBJECTIVES))
def test_each_objective_trains_100_steps_with_its_papers_settings(tmp_path, mnist_dir, capsys, name):
    run, scalars, err = train_and_read(tmp_path, mnist_dir, capsys, name, 99)
    check_trained(name, run, scalars, err, 99)


def test_wgan_gp_under_mixed_float16_trains_with_loss_scaling(tmp_path, tiny_images, capsys):
    """The penalty's nested tape inside the loss-scaled tape: finite, and the penalty is applied (on the
    tiny folder model: half precision is emulated, slowly, on CPUs)."""
    from conftest import tiny_train
    from dcgan_cli.viz.plots import read_scalars

    run = tmp_path / "half"
    code, _, err = run_cli(tiny_train(tiny_images, run, "--recipe", "wgan-gp", "--critic-steps", "2", "--max-steps", "6",
                                      "--log-every", "2", "--checkpoint-every", "2", "--precision", "mixed_float16"),
                         capsys)
    assert code == 0, err
    assert "precision mixed_float16" in err
    check_trained("wgan-gp", run, read_scalars(run / "logs"), err, 6)

    # `dcgan plot` shows the critic's raw scores, its Wasserstein estimate and the penalty, not sigmoid(D).
    code, out, err = run_cli(["plot", "--run", run, "--out", tmp_path / "critic.png"], capsys)
    assert code == 0, err
    shown = out.split(": ", 1)[1].split(" over ")[0].split(", ")
    assert shown[:7] == ["d_loss_real", "d_loss_fake", "d_penalty", "d_loss", "g_loss", "score_real", "score_fake"], shown
    assert {"grad_norm", "wasserstein"} <= set(shown) and not {"d_real", "d_fake"} & set(shown), shown


def test_clipping_keeps_every_critic_weight_within_the_clip(tmp_path, mnist_dir, capsys):
    from dcgan_cli.restore import load_run

    run = tmp_path / "clip"
    code, _, err = run_cli(["train", "mnist", "--conditional", "--data-dir", mnist_dir, "--out", run, "--recipe", "wgan",
                            "--critic-steps", "2", "--clip", "0.02", "--lr", "1e-2", "--batch-size", "16",
                            "--max-steps", "3", "--sample-every", "1000", "--checkpoint-every", "3"], capsys)
    assert code == 0, err
    weights = [v.numpy() for v in load_run(run, averaged=False, discriminator=True).discriminator.trainable_weights]
    largest = max(float(np.abs(w).max()) for w in weights)
    # At this learning rate the clip binds: weights sit on its edge, none beyond it.
    assert np.isclose(largest, 0.02), largest


# --- critic updates: fresh batches, fresh z, epochs and resume -------------------------------------

def test_critic_updates_take_consecutive_batches(mnist_dir):
    """Batch rows stay rows, so a replica's rows of a step's batch are its rows of each real batch."""
    from dcgan_cli.config import Config
    from dcgan_cli.train.trainer import open_data

    one = Config(family="conditional", data_dir=str(mnist_dir), batch_size=8, seed=4)
    three = Config(family="conditional", data_dir=str(mnist_dir), batch_size=8, seed=4, critic_steps=3)
    single = iter(open_data(one, 6).dataset)  # batches 6, 7, 8, ... of the plain stream
    grouped = iter(open_data(three, 2).dataset)  # step 2 of three batches each: batches 6, 7, 8
    images, labels = next(grouped)
    assert images.shape == (8, 3, 28, 28, 1) and labels.shape == (8, 3, 10)
    for k in range(3):
        expected_images, expected_labels = next(single)
        assert np.array_equal(images[:, k], expected_images) and np.array_equal(labels[:, k], expected_labels)


def test_each_critic_update_and_g_draw_their_own_z():
    from dcgan_cli.train.step import z_stream

    assert [z_stream(s, 0, 1) for s in range(5)] == list(range(5))  # one update: D and G share step s's z
    streams = [z_stream(s, k, 5) for s in range(20) for k in range(6)]  # k == 5: G's
    assert len(set(streams)) == len(streams) and min(streams) >= 0


def test_an_epoch_is_still_one_pass_over_the_data():
    from dcgan_cli.config import Config
    from dcgan_cli.train.trainer import schedule

    assert schedule(Config(batch_size=64, epochs=5), 60000) == (937, 4685)
    per_epoch, total = schedule(Config(batch_size=64, epochs=5, critic_steps=5), 60000)
    assert (per_epoch, total) == (187, 937)
    assert total * 5 * 64 == 299840  # 5 epochs of 937 batches: the same real images as with one update per step


@pytest.mark.parametrize("args", [["--recipe", "wgan-gp", "--critic-steps", "2"],
                                  # historical averaging's running means are checkpointed state
                                  ["--historical-averaging", "0.1", "--g-objective", "both"],
                                  # --d-noise draws by a count that D's checkpoint holds
                                  ["--d-noise", "0.3"]],
                         ids=["critic-steps", "historical-averaging", "d-noise"])
def test_resume_bit_exact(tmp_path, tiny_images, capsys, args):
    from conftest import tiny_train
    from test_resume import weights

    recipe = [*args, "--checkpoint-every", "3", "--sample-every", "100"]
    code, _, err = run_cli(tiny_train(tiny_images, tmp_path / "straight", *recipe, "--max-steps", "6"), capsys)
    assert code == 0, err
    code, _, err = run_cli(tiny_train(tiny_images, tmp_path / "split", *recipe, "--max-steps", "3"), capsys)
    assert code == 0, err
    code, _, err = run_cli(tiny_train(tiny_images, tmp_path / "split", *recipe, "--max-steps", "6", "--resume"), capsys)
    assert code == 0, err
    for a, b in zip(weights(tmp_path / "straight"), weights(tmp_path / "split")):
        assert np.array_equal(a, b)
