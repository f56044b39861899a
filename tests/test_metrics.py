"""The metric functions against answers known in closed form. Pure numpy, fast."""

import numpy as np
import pytest

from dcgan_cli.eval import metrics


def gaussian(n, mean, std, seed):
    return np.random.default_rng(seed).normal(mean, std, size=(n, len(mean)))


def test_fid_of_identical_sets_is_zero():
    feats = gaussian(500, [0.0] * 8, [1.0] * 8, seed=1)
    assert metrics.fid(feats, feats) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_matches_the_closed_form_for_diagonal_covariances():
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.5])
    var1, var2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    # Diagonal: Tr(S1 + S2 - 2 (S1 S2)^1/2) = sum (s1 - s2)^2 over the standard deviations.
    by_hand = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(var1) - np.sqrt(var2)) ** 2)
    assert by_hand == pytest.approx(1 + 6.25 + 4 + 1)
    assert metrics.frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2)) == pytest.approx(by_hand, rel=1e-10)


def test_frechet_distance_handles_non_commuting_covariances():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 4)), rng.normal(size=(4, 4))
    s1, s2 = a @ a.T, b @ b.T
    # The reference: eigenvalues of S1 S2 are real and non-negative, Tr sqrt = sum of their roots.
    expected = np.trace(s1) + np.trace(s2) - 2 * np.sum(np.sqrt(np.linalg.eigvals(s1 @ s2).real))
    assert metrics.frechet_distance(np.zeros(4), s1, np.zeros(4), s2) == pytest.approx(expected, rel=1e-8)


def test_fid_of_fewer_samples_than_features_equals_the_covariance_form():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(7, 40)), rng.normal(1.0, 2.0, size=(12, 40)) @ rng.normal(size=(40, 40))
    by_covariances = metrics.frechet_distance(*metrics._mean_cov(a), *metrics._mean_cov(b))
    assert metrics.fid(a, b) == pytest.approx(by_covariances, rel=1e-7)  # round-off of the rank-deficient eigh
    assert metrics.fid(a, a) == pytest.approx(0.0, abs=1e-8)


def test_fid_of_samples_from_two_gaussians_approaches_the_closed_form():
    a = gaussian(20000, [0.0, 0.0], [1.0, 2.0], seed=2)
    b = gaussian(20000, [1.0, 0.0], [2.0, 2.0], seed=3)
    assert metrics.fid(a, b) == pytest.approx(1.0 + 1.0, rel=0.05)


def test_kid_of_two_samples_of_one_set_is_about_zero_and_detects_a_shift():
    same_a = gaussian(2000, [0.0] * 16, [1.0] * 16, seed=4)
    same_b = gaussian(2000, [0.0] * 16, [1.0] * 16, seed=5)
    mean, std = metrics.kid(same_a, same_b, subsets=20, subset_size=500)
    assert abs(mean) < 0.01 and std >= 0
    shifted = gaussian(2000, [1.0] * 16, [1.0] * 16, seed=6)
    assert metrics.kid(same_a, shifted, subsets=20, subset_size=500)[0] > 0.1


def test_kid_subset_size_shrinks_to_the_smaller_set():
    mean, _ = metrics.kid(gaussian(50, [0.0] * 4, [1.0] * 4, 7), gaussian(80, [0.0] * 4, [1.0] * 4, 8), subsets=3)
    assert np.isfinite(mean)


def test_inception_score_of_uniform_and_of_confident_predictions():
    uniform = np.full((1000, 10), 0.1)
    assert metrics.inception_score(uniform)[0] == pytest.approx(1.0)
    confident = np.eye(10)[np.arange(1000) % 10]  # one-hot, every class equally often
    mean, std = metrics.inception_score(confident, splits=10)
    assert mean == pytest.approx(10.0) and std == pytest.approx(0.0, abs=1e-9)


def test_precision_recall_of_a_set_against_itself_is_one():
    feats = gaussian(300, [0.0] * 5, [1.0] * 5, seed=9)
    assert metrics.precision_recall(feats, feats, k=3) == (1.0, 1.0)


def test_precision_recall_separates_far_apart_sets(monkeypatch):
    monkeypatch.setattr(metrics, "DISTANCE_BATCH", 7)  # batching must not change the answer
    real = gaussian(100, [0.0] * 3, [1.0] * 3, seed=10)
    fake = np.concatenate([real[:50] + 1e-6, gaussian(50, [100.0] * 3, [1.0] * 3, seed=11)])
    precision, recall = metrics.precision_recall(real, fake, k=3)
    assert precision == pytest.approx(0.5)
    # Recall by brute force: a real point counts if some fake's 3rd-nearest-fake ball holds it.
    fake_fake = np.linalg.norm(fake[:, None] - fake[None], axis=-1)
    radii = np.sort(fake_fake, axis=1)[:, 3]
    real_fake = np.linalg.norm(real[:, None] - fake[None], axis=-1)
    assert recall == pytest.approx(np.mean(np.any(real_fake <= radii[None], axis=1)))
    assert recall < 1.0


def test_label_accuracy_overall_and_per_class():
    target = np.array([0, 0, 1, 1, 2, 2])
    pred = np.array([0, 1, 1, 1, 0, 0])
    overall, per_class = metrics.label_accuracy(pred, target, num_classes=4)
    assert overall == pytest.approx(0.5)
    assert per_class[:3].tolist() == [0.5, 1.0, 0.0] and np.isnan(per_class[3])


def test_class_coverage_of_a_uniform_and_a_collapsed_set():
    reference = np.full(10, 0.1)
    even = metrics.class_coverage(np.arange(1000) % 10, reference)
    assert even["classes_covered"] == 10 and even["class_entropy"] == pytest.approx(np.log2(10))
    assert even["min_class_share"] == even["max_class_share"] == pytest.approx(0.1)
    assert even["class_share_tv"] == pytest.approx(0.0)
    # 4 shapes, plus a sprinkling of the rest below a quarter of their real share (2.5%).
    pred = np.concatenate([np.repeat([3, 8, 0, 1], 235), np.repeat([2, 4, 5, 6, 7, 9], 10)])
    collapsed = metrics.class_coverage(pred, reference)
    assert collapsed["classes_covered"] == 4
    assert collapsed["class_share_3"] == pytest.approx(0.235) and collapsed["min_class_share"] == pytest.approx(0.01)
    assert 2.0 < collapsed["class_entropy"] < 2.4  # a little over log2(4)
    assert collapsed["class_share_tv"] == pytest.approx(4 * 0.135)


def test_duplicate_share_is_the_quantile_for_real_data_and_high_for_repeats():
    real = gaussian(2000, [0.0] * 8, [1.0] * 8, seed=4)
    fresh = gaussian(2000, [0.0] * 8, [1.0] * 8, seed=5)
    assert metrics.duplicate_share(fresh, real, quantile=0.05) == pytest.approx(0.05, abs=0.03)
    # A generator that repeats 50 images (with a tiny jitter) is all near-duplicates.
    repeats = np.repeat(fresh[:50], 40, axis=0) + gaussian(2000, [0.0] * 8, [1e-3] * 8, seed=6)
    assert metrics.duplicate_share(repeats, real, quantile=0.05) > 0.95


def test_kmeans_finds_separated_blobs_and_effective_clusters_counts_them():
    centres = np.array([[0, 0], [10, 0], [0, 10], [10, 10]], np.float64)
    points = np.repeat(centres, 100, axis=0) + gaussian(400, [0.0, 0.0], [0.5, 0.5], seed=7)
    found = metrics.kmeans(points, 4, seed=0)
    assert np.allclose(np.sort(found, axis=0), np.sort(centres, axis=0), atol=0.3)
    assert np.array_equal(found, metrics.kmeans(points, 4, seed=0))  # seeded
    assert metrics.effective_clusters(points, found) == pytest.approx(4.0, rel=1e-6)
    assert metrics.effective_clusters(points[:100], found) == pytest.approx(1.0)  # one blob fills one cluster
    assert metrics.effective_clusters(points[:200], found) == pytest.approx(2.0)


def test_min_cost_assignment_on_hand_made_matrices_and_against_every_permutation():
    import itertools

    # The greedy choice (row 0 takes its cheapest column, 0) is wrong here: the best total is 2 + 1 + 2.
    assert metrics.min_cost_assignment([[1, 2, 9], [1, 9, 9], [9, 1, 2]]).tolist() == [1, 0, 2]
    assert metrics.min_cost_assignment(np.eye(4)[::-1]).tolist() == [0, 1, 2, 3]  # zeros off the anti-diagonal
    assert metrics.min_cost_assignment([[5, 0, 5]]).tolist() == [1]  # fewer rows than columns
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(1, 6))
        m = int(rng.integers(n, 7))
        cost = rng.integers(0, 20, (n, m)).astype(float)
        got = metrics.min_cost_assignment(cost)
        assert len(set(got.tolist())) == n
        best = min(sum(cost[i, p[i]] for i in range(n)) for p in itertools.permutations(range(m), n))
        assert cost[np.arange(n), got].sum() == best
    with pytest.raises(ValueError, match="no more rows than columns"):
        metrics.min_cost_assignment(np.zeros((3, 2)))


def test_code_class_matching_of_perfect_permuted_and_collapsed_codes():
    codes = np.repeat(np.arange(10), 50)
    perfect = metrics.code_class_matching(codes, (codes + 3) % 10, 10, 10)  # each code one class, permuted
    assert perfect["code_class_accuracy"] == 1.0
    assert [perfect[f"code_class_match_{k}"] for k in range(10)] == [(k + 3) % 10 for k in range(10)]
    assert all(perfect[f"code_purity_{k}"] == perfect[f"code_match_share_{k}"] == 1.0 for k in range(10))
    # Code 1 splits 30/20 between classes 1 and 2; code 2 is all class 2, so code 1 matches class 1.
    predicted = codes.copy()
    predicted[50:70] = 2
    split = metrics.code_class_matching(codes, predicted, 10, 10)
    assert split["code_class_accuracy"] == pytest.approx(480 / 500)
    assert (split["code_class_match_1"], split["code_purity_1"], split["code_match_share_1"]) == (1, 0.6, 0.6)
    # Every sample in one class: one code value can match it, the rest match nothing they produce.
    collapsed = metrics.code_class_matching(codes, np.full(500, 8), 10, 10)
    assert collapsed["code_class_accuracy"] == pytest.approx(0.1) and collapsed["code_purity_4"] == 1.0
    assert sum(collapsed[f"code_match_share_{k}"] for k in range(10)) == 1.0
    with pytest.raises(ValueError, match="equally long"):
        metrics.code_class_matching(codes, codes[:-1], 10, 10)
