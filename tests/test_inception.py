"""`dcgan evaluate --features inception`, tested with random weights in the published file's layout.

The real weights are a 91 MB download the tests cannot make; everything else (reading the PyTorch
file, every name and shape of the network, the preprocessing, the JSON's protocol) runs here.
"""

import json

import numpy as np
import pytest

from conftest import run_cli
from test_cli_errors import assert_one_line_error
from torch_files import fid_inception_state_dict, save_legacy, save_zip


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory):
    """(path, sha256) of random FID Inception weights in torch.save's single-stream layout."""
    from dcgan_cli.datasets.download import digest_of

    path = tmp_path_factory.mktemp("inception") / "random-inception.pth"
    save_legacy(fid_inception_state_dict(), path)
    return path, digest_of(path)


@pytest.mark.parametrize("save", [save_legacy, save_zip])
def test_both_torch_save_layouts_are_read(tmp_path, save):
    from dcgan_cli.eval.torch_weights import load_state_dict

    state = {"a.weight": np.arange(24, dtype=np.float32).reshape(2, 3, 4), "a.bn.num_batches_tracked": np.array(7, np.int64),
             "b": np.linspace(-1, 1, 5, dtype=np.float32)}
    save(state, tmp_path / "w.pth")
    loaded = load_state_dict(tmp_path / "w.pth")
    assert list(loaded) == list(state)
    for name, value in state.items():
        assert loaded[name].dtype == value.dtype and np.array_equal(loaded[name], value), name


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    import os
    import pickle

    from dcgan_cli.eval.torch_weights import NotAStateDict, load_state_dict

    class Evil:
        def __reduce__(self):
            return os.system, ("echo pwned",)

    with open(tmp_path / "evil.pth", "wb") as file:
        for header in (0x1950A86A20F9469CFC6C, 1001, {}):
            pickle.dump(header, file, protocol=2)
        pickle.dump({"x": Evil()}, file, protocol=2)
    with pytest.raises(NotAStateDict, match="system"):
        load_state_dict(tmp_path / "evil.pth")


def test_the_network_takes_every_published_weight(random_weights, monkeypatch):
    import dcgan_cli.eval.inception as inception
    from dcgan_cli.errors import UserError

    path, sha = random_weights
    monkeypatch.setattr(inception, "SHA256", sha)
    net = inception.FidInception(path)
    # torchvision's Inception3 without aux logits has 23,834,568 parameters for 1000 classes; for 1008, and
    # without the fc bias that the features and logits here do not use: 23,849,952.
    assert sum(int(np.prod(w.shape)) for w in net.model.trainable_weights) == 23849952
    state = fid_inception_state_dict()
    conv = net.model.get_layer("Mixed_7c.branch3x3dbl_3a_conv")  # OIHW in the file, HWIO in Keras
    assert np.array_equal(conv.kernel.numpy(), state["Mixed_7c.branch3x3dbl_3a.conv.weight"].transpose(2, 3, 1, 0))
    assert np.array_equal(net.model.get_layer("fc").kernel.numpy(), state["fc.weight"].T)

    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (3, 28, 28, 1), dtype=np.uint8)
    features, probs = net.features_and_probs(gray)
    assert features.shape == (3, 2048) and probs.shape == (3, 1008)
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-5) and np.all(features >= 0)  # pool3 follows ReLUs
    again, _ = net.features_and_probs(np.repeat(gray, 3, axis=-1))  # grayscale is the image in all three channels
    assert np.allclose(features, again, atol=1e-5)
    other, _ = net.features_and_probs(gray[::-1])
    assert np.allclose(features[::-1], other, atol=1e-5) and not np.allclose(features[0], features[1])

    missing = {k: v for k, v in state.items() if k != "Mixed_6e.branch_pool.bn.running_var"}
    with pytest.raises(UserError, match="Mixed_6e.branch_pool.bn.running_var"):
        inception.assign_weights(net.parts, missing, "broken.pth")
    with pytest.raises(UserError, match=r"fc.weight is \(1000, 2048\), expected \(1008, 2048\)"):
        inception.assign_weights(net.parts, {**state, "fc.weight": state["fc.weight"][:1000]}, "broken.pth")


def test_evaluate_with_inception_features_states_its_protocol(random_weights, tiny_run, tmp_path, capsys, monkeypatch):
    import dcgan_cli.eval.inception as inception

    path, sha = random_weights
    monkeypatch.setattr(inception, "SHA256", sha)
    monkeypatch.setenv("DCGAN_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "eval.json"
    args = ["evaluate", "--checkpoint", tiny_run, "--features", "inception", "--inception-weights", path,
            "--num", 8, "--json", out]
    code, stdout, err = run_cli(args, capsys)
    assert code == 0, err
    results = json.loads(out.read_text())
    protocol = results["protocol"]
    assert protocol["num"] == 8 and protocol["weights_sha256"] == sha and "299x299" in protocol["resize"]
    assert "FID Inception" in protocol["network"] and protocol["reference"] == "8 training images"
    assert "real_*" in protocol["real_floor"]
    for key in ("fid", "kid", "inception_score", "precision", "recall"):
        assert np.isfinite(results[key]) and np.isfinite(results["real_" + key]), key
    assert "FID Inception" in stdout
    # The real images' features are cached for the next evaluation, keyed by the images and the weights.
    assert err.count("Inception features of 8 real images") == 2
    assert len(list((tmp_path / "cache" / "inception").glob("features-*.npz"))) == 2


def test_missing_or_wrong_inception_weights_are_one_line_errors(tiny_run, random_weights, tmp_path, capsys,
                                                               monkeypatch):
    monkeypatch.setenv("DCGAN_CACHE_DIR", str(tmp_path / "empty-cache"))
    base = ["evaluate", "--checkpoint", tiny_run, "--num", 8, "--features", "inception"]
    code, _, err = run_cli(base, capsys)
    assert_one_line_error(code, err, "dcgan download inception", "--inception-weights FILE")
    path, _ = random_weights  # not the published file
    code, _, err = run_cli(base + ["--inception-weights", path], capsys)
    assert_one_line_error(code, err, "sha256", "not the FID Inception weights")
    code, _, err = run_cli(["evaluate", "--checkpoint", tiny_run, "--inception-weights", path], capsys)
    assert_one_line_error(code, err, "--features inception")
    assert not (tmp_path / "empty-cache").exists()
