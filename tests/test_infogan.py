"""InfoGAN: the paper's MNIST setting, codes drawn from (seed, step), Q's information terms in both losses."""

import json

import numpy as np
import pytest

from conftest import run_cli
from dcgan_cli.models import FAMILIES
from test_cli_errors import assert_one_line_error


def kernels(model):
    return {layer.name: tuple(layer.kernel.shape) for layer in model.layers if hasattr(layer, "kernel")}


def test_the_papers_mnist_networks():
    family = FAMILIES["infogan"](28, 1, z_dim=62)
    G, D = family.build()
    assert kernels(G) == {"g_h0_lin": (74, 1024), "g_h1_lin": (1024, 6272), "g_h2": (4, 4, 64, 128),
                          "g_h3": (4, 4, 1, 64)}
    assert kernels(D) == {"d_h0_conv": (4, 4, 1, 64), "d_h1_conv": (4, 4, 64, 128), "d_h2_lin": (6272, 1024),
                          "d_h3_lin": (1024, 1), "q_h0_lin": (1024, 128), "q_categorical": (128, 10),
                          "q_continuous": (128, 2)}
    assert D.get_layer("d_h0_lrelu").negative_slope == pytest.approx(0.1)
    other = FAMILIES["infogan"](64, 3, z_dim=62, width=8)
    G, D = other.build()
    assert G.output.shape[1:] == (64, 64, 3) and [tuple(o.shape[1:]) for o in D.outputs] == [(1,), (10,), (2,)]


def test_codes_are_a_function_of_seed_and_step_and_the_terms_are_weighted():
    import tensorflow as tf

    from dcgan_cli.train.losses import LOSSES

    family = FAMILIES["infogan"](28, 1, z_dim=62, info_weight=2.0, info_weight_continuous=0.5)
    a = family.training_latents(0, 7, 1000, 1000, None)
    b = family.training_latents(0, 7, 1000, 1000, None)
    c = family.training_latents(0, 8, 1000, 1000, None)
    assert a.z.shape == (1000, 62) and a.codes.shape == (1000, 12)
    assert np.array_equal(a.codes, b.codes) and not np.array_equal(a.codes, c.codes)
    categories = np.argmax(a.codes[:, :10], axis=1)
    assert np.allclose(np.asarray(a.codes[:, :10]).sum(axis=1), 1) and np.bincount(categories, minlength=10).min() > 60
    continuous = np.asarray(a.codes[:, 10:])
    assert continuous.min() >= -1 and continuous.max() <= 1 and abs(continuous.mean()) < 0.1
    G, D = family.build()
    fake = family.discriminate(D, G(family.generator_inputs(a[:6])))
    terms = family.generator_loss(LOSSES["non_saturating"], fake, a[:6])
    log_q = tf.nn.log_softmax(fake.aux["categorical"]).numpy()
    np.testing.assert_allclose(terms["g_info_cat"], -2.0 * log_q[np.arange(6), categories[:6]], rtol=1e-5)
    squared = (np.asarray(a.codes[:6, 10:]) - np.asarray(fake.aux["continuous"])) ** 2
    np.testing.assert_allclose(terms["g_info_cont"], 0.5 * squared.mean(axis=1), rtol=1e-5)


def test_narrow_z_hands_g_first_layer_to_the_categorical_code():
    """--z-dist narrow: N(0, 0.1^2) draws, the normal draws scaled, so that at the start the categorical code
    gives G's first layer more of its variance than z does (with U(-1, 1), z gives 23 times more)."""
    shares = {}
    for z_dist in ("uniform", "narrow"):
        family = FAMILIES["infogan"](28, 1, z_dim=62, z_dist=z_dist)
        latents = family.training_latents(0, 3, 4000, 4000, None)
        kernel = np.asarray(family.build_generator().get_layer("g_h0_lin").kernel)
        from_z = np.var(np.asarray(latents.z) @ kernel[:62], axis=0).mean()
        from_code = np.var(np.asarray(latents.codes[:, :10]) @ kernel[62:72], axis=0).mean()
        shares[z_dist] = from_code / (from_z + from_code)
    z = np.asarray(FAMILIES["infogan"](28, 1, z_dim=62, z_dist="narrow").sample_z(4000, 5))
    assert abs(z.std() - 0.1) < 0.002 and abs(z.mean()) < 0.002
    normal = FAMILIES["infogan"](28, 1, z_dim=62, z_dist="normal")
    np.testing.assert_allclose(z, 0.1 * np.asarray(normal.sample_z(4000, 5)), rtol=1e-6)
    assert shares["uniform"] < 0.06 and shares["narrow"] > 0.5, shares


def test_infogan_trains_50_steps_on_mnist_and_q_learns_the_categorical_code(infogan_run, tmp_path, capsys):
    run, config, scalars = infogan_run
    assert (config["family"], config["z_dim"], config["num_classes"]) == ("infogan", 62, 0)
    assert (config["info_weight"], config["info_weight_continuous"], config["q_with_g"]) == (1.0, 0.1, True)
    for term in FAMILIES["infogan"].d_terms + FAMILIES["infogan"].g_terms:
        assert np.all(np.isfinite(scalars[term][1])), term
    categorical = scalars["d_info_cat"][1]
    assert categorical[0] > 1.8 and categorical[-1] < 0.7 * categorical[0], categorical  # from about ln 10
    code, _, err = run_cli(["sample", "--checkpoint", run, "--num", 6, "--out", tmp_path / "s.npz"], capsys)
    assert code == 0, err
    images = np.load(tmp_path / "s.npz")["images"]
    assert images.shape == (6, 28, 28, 1) and len({i.tobytes() for i in images}) == 6


@pytest.mark.parametrize("args, needle", [
    (["--info-weight", "2"], "--info-weight"),
    (["--family", "infogan", "--info-weight-continuous", "-1"], "--info-weight"),
    (["--family", "infogan", "--width", "32"], "--width"),
    (["--q-with-g"], "--q-with-g"),
])
def test_infogan_mistakes_are_one_line(args, needle, tmp_path, capsys):
    code, _, err = run_cli(["train", "mnist", *args, "--out", tmp_path / "run"], capsys)
    assert_one_line_error(code, err, needle)
    assert not (tmp_path / "run").exists()


def test_q_with_g_trains_q_head_in_g_updates_and_no_other_part_of_d(mnist_dir):
    """--q-with-g: one step from the same weights and batch moves Q's head apart from the default's, while
    D's own variables (its update comes first, and G's adversarial term must not reach it) stay equal."""
    from dcgan_cli.config import Config
    from dcgan_cli.datasets import training_data
    from dcgan_cli.train.trainer import Trainer

    trainers = []
    for q_with_g in (False, True):
        config = Config(data_dir=str(mnist_dir), family="infogan", num_classes=0, z_dim=62, batch_size=16, limit=64,
                        seed=5, q_with_g=q_with_g)
        trainer = Trainer(config)
        if trainers:
            for mine, theirs in zip(trainer.generator.weights + trainer.discriminator.weights,
                                    trainers[0][0].generator.weights + trainers[0][0].discriminator.weights):
                mine.assign(theirs)
        trainers.append((trainer, trainer.batches(training_data(config).dataset)))
    start = {v.path: v.numpy() for v in trainers[0][0].discriminator.trainable_variables}
    for trainer, batches in trainers:
        assert trainer.fit(batches, 1) == 1
    plain, with_g = ({v.path: v.numpy() for v in t.discriminator.trainable_variables} for t, _ in trainers)
    head = {v.path for v in trainers[1][0].family.trained_with_g(trainers[1][0].discriminator)}
    assert head == {path for path in start if path.startswith("q_")} and len(head) == 8, head
    assert trainers[0][0].family.trained_with_g(trainers[0][0].discriminator) == []
    for path in start:
        assert not np.array_equal(plain[path], start[path]), path  # D's update moved every variable
        if path in head:
            assert not np.allclose(with_g[path], plain[path], rtol=0, atol=1e-7), path
        else:
            np.testing.assert_array_equal(with_g[path], plain[path], err_msg=path)


@pytest.mark.parametrize("args, shown", [([], "True family infogan"), (["--no-q-with-g"], "False typed")])
def test_q_with_g_is_infogans_default_and_can_be_turned_off(args, shown, tmp_path, capsys):
    code, out, err = run_cli(["train", "mnist", "--family", "infogan", *args, "--dry-run", "--out", tmp_path / "run"], capsys)
    assert code == 0, err
    row = next(line for line in (out + err).splitlines() if line.startswith("q_with_g "))
    assert " ".join(row.split()[1:]) == shown, row
    assert not (tmp_path / "run").exists()


# --- `dcgan sample --code`: sweeping one code, fixing the others ---------------------------------------

def sample_npz(run, tmp_path, capsys, name, *args):
    out = tmp_path / f"{name}.npz"
    code, _, err = run_cli(["sample", "--checkpoint", run, *args, "--out", out], capsys)
    assert code == 0, err
    return dict(np.load(out))


def test_sweeping_a_code_changes_that_code_alone(infogan_run, tmp_path, capsys):
    run = infogan_run[0]
    cat = sample_npz(run, tmp_path, capsys, "cat", "--mode", "sweep", "--code", "cat", "--num", 3, "--seed", 5)
    images, codes = cat["images"], cat["codes"]
    assert images.shape == (3, 10, 28, 28, 1) and cat["z"].shape == (3, 62) and codes.shape == (3, 10, 12)
    assert np.array_equal(np.argmax(codes[..., :10], axis=-1), np.tile(np.arange(10), (3, 1)))
    assert np.all(codes[:, :, 10:] == codes[:, :1, 10:]) and len({c.tobytes() for c in codes[:, 0, 10:]}) == 3
    assert all(len({image.tobytes() for image in row}) == 10 for row in images)  # the code reaches the images
    # Column k is what `--code cat=k` draws for the same seed: the same z and continuous codes, only cat set.
    for k in (0, 7):
        grid = sample_npz(run, tmp_path, capsys, f"grid{k}", "--num", 3, "--seed", 5, "--code", f"cat={k}")
        assert np.array_equal(grid["z"], cat["z"])
        assert np.abs(grid["images"].astype(int) - images[:, k]).max() <= 1  # another batch size may round apart

    cont = sample_npz(run, tmp_path, capsys, "cont1", "--mode", "sweep", "--code", "cont1", "--code", "cat=4",
                      "--range=-1,1", "--steps", 3, "--num", 2, "--seed", 5)
    codes = cont["codes"]
    assert cont["images"].shape == (2, 3, 28, 28, 1) and np.array_equal(cont["values"], [-1, 0, 1])
    assert np.all(np.argmax(codes[..., :10], axis=-1) == 4) and np.all(codes[..., 10] == [-1, 0, 1])
    assert np.all(codes[..., 11] == codes[:, :1, 11]) and np.array_equal(codes[:, 0, 11], cat["codes"][:2, 0, 11])
    grid = sample_npz(run, tmp_path, capsys, "grid-cont", "--num", 2, "--seed", 5, "--code", "cat=4", "--code", "cont1=1")
    assert np.abs(grid["images"].astype(int) - cont["images"][:, 2]).max() <= 1
    default = sample_npz(run, tmp_path, capsys, "cont2", "--mode", "sweep", "--code", "cont2", "--steps", 5, "--num", 1)
    assert np.array_equal(default["values"], [-2, -1, 0, 1, 2])  # the paper's range, beyond the trained -1..1


def test_fixed_codes_hold_in_every_mode_and_in_files(infogan_run, tmp_path, capsys):
    run = infogan_run[0]
    code, out, err = run_cli(["sample", "--checkpoint", run, "--num", 12, "--code", "cat=3", "--code", "cont2=0.25",
                              "--out", tmp_path / "g.png"], capsys)
    assert code == 0, err
    codes = np.load(tmp_path / "g.z.npz")["codes"]  # the grid's tiles keep their codes for --from
    assert np.all(np.argmax(codes[:, :10], axis=1) == 3) and np.all(codes[:, 11] == 0.25)
    assert len(set(codes[:, 10])) == 12 and np.all(np.abs(codes[:, 10]) <= 1)  # cont1 still drawn
    walk = sample_npz(run, tmp_path, capsys, "walk", "--mode", "interpolate", "--code", "cont1=-0.5", "--num", 2)
    assert np.all(walk["codes"][:, 10] == -0.5) and walk["images"].shape == (2, 10, 28, 28, 1)
    zsweep = sample_npz(run, tmp_path, capsys, "zsweep", "--mode", "sweep", "--dims", "0", "--code", "cat=9", "--num", 2,
                        "--range=-0.5,0.5", "--steps", 3)
    assert np.all(np.argmax(zsweep["codes"][:, :10], axis=1) == 9) and np.array_equal(zsweep["values"], [-0.5, 0, 0.5])
    assert np.array_equal(zsweep["z"][0, :, :, 0], np.tile([-0.5, 0, 0.5], (2, 1)))  # --range runs z[d] too
    arithmetic = sample_npz(run, tmp_path, capsys, "ar", "--mode", "arithmetic", "--from", tmp_path / "g.png",
                            "--a", "0", "--b", "1", "--c", "2")
    assert arithmetic["images"].shape[0] == 2

    folder = tmp_path / "files"
    code, out, err = run_cli(["sample", "--checkpoint", run, "--num", 5, "--code", "cat=3", "--out", f"{folder}/"], capsys)
    assert code == 0, err
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["codes"] == {"cat": 3} and "--code cat=3 --index I" in manifest["regenerate"]
    code, out, err = run_cli(["sample", "--checkpoint", run, "--code", "cat=3", "--index", 4, "--out", tmp_path / "4.png"], capsys)
    assert code == 0, err
    assert (tmp_path / "4.png").read_bytes() == (folder / "000004.png").read_bytes()


@pytest.mark.parametrize("args, needles", [
    (["--code", "size=1"], ["no code 'size'", "cat (0..9), cont1, cont2"]),
    (["--code", "cat=10"], ["cat takes a value 0..9"]),
    (["--code", "cat=1.5"], ["cat takes a value 0..9"]),
    (["--code", "cont1=big"], ["cont1 takes a number"]),
    (["--code", "cont1=nan"], ["finite"]),
    (["--code", "cat"], ["add --mode sweep"]),
    (["--code", "cat=1", "--code", "cat=2"], ["given twice"]),
    (["--mode", "sweep", "--code", "cat", "--code", "cont1"], ["one code at a time"]),
    (["--mode", "sweep", "--code", "cat", "--dims", "0"], ["--dims"]),
    (["--mode", "sweep", "--code", "cat", "--steps", "4"], ["--steps does nothing when sweeping cat"]),
    (["--mode", "sweep", "--code", "cont1", "--range", "1,-1"], ["LOW < HIGH"]),
    (["--mode", "sweep", "--code", "cont1", "--range", "x"], ["not two numbers"]),
    (["--range=-1,1"], ["--range does nothing in --mode grid"]),
    (["--code", "cat=1", "--out", "DIR/", "--mode", "sweep"], ["--mode sweep draws sheets"]),
])
def test_code_mistakes_are_one_line_and_write_nothing(infogan_run, args, needles, tmp_path, capsys):
    out = f"{tmp_path}/files/" if "DIR/" in args else str(tmp_path / "s.png")
    args = [out if a == "DIR/" else a for a in args] + ([] if "DIR/" in args else ["--out", out])
    code, _, err = run_cli(["sample", "--checkpoint", infogan_run[0], *args], capsys)
    assert_one_line_error(code, err, *needles)
    assert list(tmp_path.iterdir()) == []


def test_code_options_on_a_run_without_codes(tiny_run, tmp_path, capsys):
    code, _, err = run_cli(["sample", "--checkpoint", tiny_run, "--code", "cat=1", "--out", tmp_path / "s.png"], capsys)
    assert_one_line_error(code, err, "--code fixes or sweeps InfoGAN's latent codes", "dcgan run")
    assert list(tmp_path.iterdir()) == []


# --- `dcgan evaluate`: how well the categorical code recovers the classes ---------------------------------

def test_evaluate_matches_the_categorical_code_to_the_digit_classes(infogan_run, classifier, mnist_dir, tmp_path, capsys):
    run = infogan_run[0]
    code, stdout, err = run_cli(["evaluate", "--checkpoint", run, "--num", 500, "--data-dir", mnist_dir,
                                 "--json", tmp_path / "e.json"], capsys)
    assert code == 0, err
    results = json.loads((tmp_path / "e.json").read_text())
    matches = [results[f"code_class_match_{k}"] for k in range(10)]
    assert sorted(matches) == list(range(10))  # one to one
    # The best matching gets at least chance (1/10: some cyclic shift of any matching does) and at most all.
    assert 0.1 <= results["code_class_accuracy"] <= 1
    # It is the samples of each code value that land in its matched class: the codes are the evaluation's own.
    family = FAMILIES["infogan"](28, 1, z_dim=62)
    per_code = np.bincount(family.categorical_codes(family.codes(0, -1, 500).numpy()), minlength=10)
    matched = sum(results[f"code_match_share_{k}"] * per_code[k] for k in range(10))
    assert matched / 500 == pytest.approx(results["code_class_accuracy"])
    assert all(results[f"code_match_share_{k}"] <= results[f"code_purity_{k}"] <= 1 for k in range(10))
    assert "code_class_accuracy" in stdout and "the categorical code's best one-to-one matching" in stdout
    assert "missing" not in results


def test_a_code_that_is_the_class_is_matched_back_through_the_classifier(classifier, mnist):
    """Real digits standing in for samples, their codes a permutation of their labels: the metric
    finds the permutation back, and its accuracy is the classifier's on those digits."""
    from dcgan_cli.eval import metrics
    from dcgan_cli.pixels import to_model_range

    images, labels = to_model_range(mnist.test_images[:2000]), mnist.test_labels[:2000]
    permutation = np.random.default_rng(0).permutation(10)
    predicted = classifier.predict(images)
    result = metrics.code_class_matching(permutation[labels], predicted, 10, 10)
    assert [result[f"code_class_match_{permutation[c]}"] for c in range(10)] == list(range(10))
    assert result["code_class_accuracy"] == pytest.approx(np.mean(predicted == labels)) and result["code_class_accuracy"] > 0.5


def test_classifier_mnist_matches_the_code_of_a_folder_of_digits(classifier, mnist_dir, tmp_path, capsys):
    from dcgan_cli.datasets.testdata import write_mnist_folder

    folder = write_mnist_folder(tmp_path / "digits", mnist_dir, count=200, size=32)
    run = tmp_path / "run"
    code, _, err = run_cli(["train", "folder", "--family", "infogan", "--data-dir", folder, "--out", run, "--channels", 1,
                            "--image-size", 32, "--crop", 0, "--width", 8, "--batch-size", 16, "--max-steps", 3], capsys)
    assert code == 0, err
    code, stdout, err = run_cli(["evaluate", "--checkpoint", run, "--classifier", "mnist", "--num", 100,
                                 "--json", tmp_path / "e.json"], capsys)
    assert code == 0, err
    results = json.loads((tmp_path / "e.json").read_text())
    assert 0.1 <= results["code_class_accuracy"] <= 1 and "resized from 32x32" in results["feature_space"]
    code, stdout, err = run_cli(["evaluate", "--checkpoint", run, "--num", 40, "--json", tmp_path / "rgb.json"], capsys)
    assert code == 0, err
    results = json.loads((tmp_path / "rgb.json").read_text())  # without a classifier: said, not left out
    assert "code_class_accuracy" not in results
    assert results["missing"].startswith("no class coverage or code-to-class matching: dcgan has classifiers only")
    assert "--classifier mnist measures a folder of digits" in results["missing"] and results["missing"] in stdout


def test_the_python_api_draws_what_dcgan_sample_draws_with_codes(infogan_run, tmp_path, capsys):
    from dcgan_cli import api
    from dcgan_cli.errors import UserError

    generator = api.load_generator(infogan_run[0])
    drawn = sample_npz(infogan_run[0], tmp_path, capsys, "s", "--num", 4, "--seed", 5, "--code", "cat=7")
    assert np.array_equal(api.generate(generator, 4, seed=5, codes={"cat": 7}), drawn["images"])
    plain = sample_npz(infogan_run[0], tmp_path, capsys, "plain", "--num", 4, "--seed", 5)
    assert np.array_equal(api.generate(generator, 4, seed=5), plain["images"])
    with pytest.raises(UserError, match="cat takes a value 0..9"):
        api.generate(generator, 4, codes={"cat": 10})
