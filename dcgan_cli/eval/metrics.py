"""Sample-quality metrics on feature vectors: pure numpy, no model code.

Every function takes plain arrays (one row per image) so that the feature space is the caller's
choice: the MNIST classifier's penultimate layer, or a fixed random network for RGB images.
"""

from __future__ import annotations

import numpy as np

# Rows of a pairwise-distance block: 1,000 x 10,000 float64 is 80 MB, so 10k x 10k never sits in memory.
DISTANCE_BATCH = 1000


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix; round-off negatives count as 0."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def _mean_cov(features) -> tuple[np.ndarray, np.ndarray]:
    features = np.asarray(features, np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"need a 2-D array of at least 2 feature rows, got shape {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^1/2).

    Tr((S1 S2)^1/2) = Tr((S1^1/2 S2 S1^1/2)^1/2), and the inner matrix is symmetric PSD, so two
    eigen-decompositions give it exactly, with none of sqrtm's complex round-off.
    """
    root1 = _psd_sqrt(sigma1)
    cross = _psd_sqrt(root1 @ sigma2 @ root1)
    value = np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(cross)
    return float(max(value, 0.0))  # a distance: tiny negatives are round-off


def fid(feat_a, feat_b) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (Heusel et al. 2017)."""
    a, b = np.asarray(feat_a, np.float64), np.asarray(feat_b, np.float64)
    if a.ndim == b.ndim == 2 and 2 <= min(len(a), len(b)) < a.shape[1]:
        return _fid_of_few_samples(a, b)
    return frechet_distance(*_mean_cov(a), *_mean_cov(b))


def _fid_of_few_samples(a: np.ndarray, b: np.ndarray) -> float:
    """The same distance when there are fewer rows than features (e.g. 2048-d Inception features of a
    few images), from the n_a x n_b cross products instead of d x d eigen-decompositions.

    With A, B the centred rows, S1 = A'A / (n_a - 1) and S2 = B'B / (n_b - 1); the non-zero eigenvalues
    of S1 S2 are those of (A B')(A B')' / ((n_a - 1)(n_b - 1)), so Tr((S1 S2)^1/2) is the sum of A B''s
    singular values over sqrt((n_a - 1)(n_b - 1)).
    """
    centred_a, centred_b = a - a.mean(axis=0), b - b.mean(axis=0)
    scale_a, scale_b = len(a) - 1, len(b) - 1
    cross = np.linalg.svd(centred_a @ centred_b.T, compute_uv=False).sum() / np.sqrt(scale_a * scale_b)
    value = (np.sum((a.mean(axis=0) - b.mean(axis=0)) ** 2) + np.sum(centred_a ** 2) / scale_a
             + np.sum(centred_b ** 2) / scale_b - 2 * cross)
    return float(max(value, 0.0))


def _polynomial_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with the kernel k(a, b) = (a.b / d + 1)^3 (Binkowski et al. 2018)."""
    d = x.shape[1]
    k_xx = (x @ x.T / d + 1) ** 3
    k_yy = (y @ y.T / d + 1) ** 3
    k_xy = (x @ y.T / d + 1) ** 3
    m, n = len(x), len(y)
    xx = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    yy = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(xx + yy - 2 * k_xy.mean())


def kid(feat_a, feat_b, subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Kernel Inception Distance: (mean, std) of the unbiased MMD^2 over random subsets.

    The std is over the subsets (as Binkowski et al. and torch-fidelity report it). Because the
    estimator is unbiased, two samples of one distribution give values scattered around 0, some
    slightly negative.
    """
    a = np.asarray(feat_a, np.float64)
    b = np.asarray(feat_b, np.float64)
    size = min(subset_size, len(a), len(b))
    if size < 2:
        raise ValueError("KID needs at least 2 feature rows in each set")
    rng = np.random.default_rng(seed)
    values = [_polynomial_mmd2(a[rng.choice(len(a), size, replace=False)],
                               b[rng.choice(len(b), size, replace=False)]) for _ in range(subsets)]
    return float(np.mean(values)), float(np.std(values))


def inception_score(probs, splits: int = 10) -> tuple[float, float]:
    """exp(E_x KL(p(y|x) || p(y))) per split: (mean, std) over the splits (Salimans et al. 2016)."""
    probs = np.asarray(probs, np.float64)
    scores = []
    for part in np.array_split(probs, max(1, min(splits, len(probs)))):  # no empty split when N < splits
        marginal = part.mean(axis=0, keepdims=True)
        # p log(p / p_y) with 0 log 0 = 0, so confident one-hot predictions are allowed.
        safe = np.where(part > 0, part, 1.0)
        kl = np.sum(np.where(part > 0, part * (np.log(safe) - np.log(np.where(marginal > 0, marginal, 1.0))), 0.0), axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    sq = np.sum(a * a, axis=1)[:, None] + np.sum(b * b, axis=1)[None, :] - 2 * a @ b.T
    return np.maximum(sq, 0.0)


def _knn_radii(features: np.ndarray, k: int) -> np.ndarray:
    """Squared distance from each row to its k-th nearest other row (index k counts the row itself)."""
    radii = np.empty(len(features))
    for start in range(0, len(features), DISTANCE_BATCH):
        block = _squared_distances(features[start:start + DISTANCE_BATCH], features)
        radii[start:start + DISTANCE_BATCH] = np.partition(block, k, axis=1)[:, k]
    return radii


def _coverage(points: np.ndarray, centres: np.ndarray, radii: np.ndarray) -> float:
    """Fraction of `points` inside at least one ball (centre, radius) of the other set."""
    inside = 0
    for start in range(0, len(points), DISTANCE_BATCH):
        block = _squared_distances(points[start:start + DISTANCE_BATCH], centres)
        inside += int(np.sum(np.any(block <= radii[None, :], axis=1)))
    return inside / len(points)


def precision_recall(real_feats, fake_feats, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019).

    Each set's manifold is the union of balls reaching each point's k-th nearest neighbour.
    Precision: the fraction of fakes inside the real manifold; recall: of reals inside the fake one.
    """
    real = np.asarray(real_feats, np.float64)
    fake = np.asarray(fake_feats, np.float64)
    if min(len(real), len(fake)) <= k:
        raise ValueError(f"precision/recall with k={k} needs more than {k} rows in each set")
    precision = _coverage(fake, real, _knn_radii(real, k))
    recall = _coverage(real, fake, _knn_radii(fake, k))
    return precision, recall


def label_accuracy(pred, target, num_classes: int = 10) -> tuple[float, np.ndarray]:
    """(overall accuracy, per-class accuracy) of integer predictions; a class never targeted is nan."""
    pred = np.asarray(pred).ravel()
    target = np.asarray(target).ravel()
    if pred.shape != target.shape or not len(pred):
        raise ValueError(f"pred and target must be equally long and non-empty, got {pred.shape} and {target.shape}")
    correct = pred == target
    per_class = np.array([correct[target == c].mean() if np.any(target == c) else np.nan
                          for c in range(num_classes)])
    return float(correct.mean()), per_class


# --- how an unsupervised code matches the classes (InfoGAN) ----------------------------------------

def min_cost_assignment(cost) -> np.ndarray:
    """The column of each row such that no column is used twice and the total cost is least: the
    Hungarian algorithm (Kuhn-Munkres) in its O(n^2 m) shortest-augmenting-path form, for n rows <= m
    columns. Exact, and quick for any matrix a classifier's classes make."""
    cost = np.asarray(cost, np.float64)
    n, m = cost.shape
    if n > m:
        raise ValueError(f"need no more rows than columns, got {n} x {m}")
    # 1-based with a column 0 that holds the row being placed: the algorithm's usual layout.
    row_potential, column_potential = np.zeros(n + 1), np.zeros(m + 1)
    row_of = np.zeros(m + 1, int)  # the row (1-based) placed in each column; 0: none
    previous = np.zeros(m + 1, int)  # the column before each on the shortest augmenting path
    for row in range(1, n + 1):
        row_of[0], column = row, 0
        slack = np.full(m + 1, np.inf)
        done = np.zeros(m + 1, bool)
        while row_of[column]:  # grow shortest paths from `row` until one ends in a free column
            done[column] = True
            here, delta, nearest = row_of[column], np.inf, 0
            for j in range(1, m + 1):
                if not done[j]:
                    reduced = cost[here - 1, j - 1] - row_potential[here] - column_potential[j]
                    if reduced < slack[j]:
                        slack[j], previous[j] = reduced, column
                    if slack[j] < delta:
                        delta, nearest = slack[j], j
            row_potential[row_of[done]] += delta
            column_potential[done] -= delta
            slack[~done] -= delta
            column = nearest
        while column:  # flip the path: each column on it takes the row of the column before it
            row_of[column] = row_of[previous[column]]
            column = previous[column]
    assignment = np.zeros(n, int)
    for j in range(1, m + 1):
        if row_of[j]:
            assignment[row_of[j] - 1] = j - 1
    return assignment


def code_class_matching(codes, predicted, num_codes: int, num_classes: int) -> dict:
    """How well an unsupervised categorical code recovers the classes (InfoGAN's MNIST measure):
    the K x C counts of (code value, predicted class), the one-to-one matching of code values to
    classes that agrees most often (Hungarian), the share of samples it gets right; and for each code
    value, the share of its samples in its matched class and its purity (the share in its most
    frequent class: the two differ where code values compete for a class)."""
    codes, predicted = np.asarray(codes).ravel(), np.asarray(predicted).ravel()
    if codes.shape != predicted.shape or not len(codes):
        raise ValueError(f"codes and predictions must be equally long and non-empty, got {codes.shape} and {predicted.shape}")
    if num_codes > num_classes:
        raise ValueError(f"a one-to-one matching needs no more code values than classes, got {num_codes} > {num_classes}")
    counts = np.zeros((num_codes, num_classes), np.int64)
    np.add.at(counts, (codes, predicted), 1)
    match = min_cost_assignment(-counts)
    per_code = counts.sum(axis=1)
    result = {"code_class_accuracy": float(counts[np.arange(num_codes), match].sum() / len(codes))}
    for k in range(num_codes):
        result[f"code_class_match_{k}"] = int(match[k])
        if per_code[k]:
            result[f"code_match_share_{k}"] = float(counts[k, match[k]] / per_code[k])
            result[f"code_purity_{k}"] = float(counts[k].max() / per_code[k])
    return result


# --- mode coverage ---------------------------------------------------------------------------------
# A collapsed generator can score a fair FID on few modes; these say how its samples spread. With a
# classifier: over the classes. Without one (LSUN, folders): near-duplicates and clusters of the
# real images' features.

# A class counts as covered when it gets at least this fraction of its share of the real data.
COVERED_FRACTION = 0.25


def class_shares(pred, num_classes: int) -> np.ndarray:
    """The fraction of the predictions that fall in each class."""
    pred = np.asarray(pred).ravel()
    if not len(pred):
        raise ValueError("class shares need at least one prediction")
    return np.bincount(pred, minlength=num_classes)[:num_classes] / len(pred)


def entropy_bits(shares) -> float:
    """Shannon entropy of a distribution in bits (log2 of the number of classes when uniform)."""
    p = np.asarray(shares, np.float64)
    p = p[p > 0] / p.sum()
    return float(max(0.0, -np.sum(p * np.log2(p))))  # never -0.0


def class_coverage(pred, reference_shares, covered_fraction: float = COVERED_FRACTION) -> dict:
    """How predicted classes spread, against the real data's class shares.

    classes_covered counts classes whose share reaches covered_fraction of their real share;
    class_share_tv is the total-variation distance to the real shares (0 equal, 1 disjoint).
    """
    reference = np.asarray(reference_shares, np.float64)
    shares = class_shares(pred, len(reference))
    result = {f"class_share_{k}": float(s) for k, s in enumerate(shares)}
    result.update({
        "classes_covered": int(np.sum(shares >= covered_fraction * reference)),
        "class_entropy": entropy_bits(shares),
        "min_class_share": float(shares.min()),
        "max_class_share": float(shares.max()),
        "class_share_tv": float(0.5 * np.abs(shares - reference).sum()),
    })
    return result


def nearest_neighbour_distances(features) -> np.ndarray:
    """Euclidean distance from each row to its nearest other row."""
    return np.sqrt(_knn_radii(np.asarray(features, np.float64), 1))


def duplicate_share(fake_feats, real_feats, quantile: float = 0.01, seed: int = 0) -> float:
    """The fraction of fakes whose nearest other fake is closer than real images' `quantile`-closest pairs.

    The threshold is the `quantile` of the real images' nearest-neighbour distances among as many
    real images as there are fakes (nearest neighbours come closer as a set grows), so real data
    scores `quantile` by construction and a generator repeating itself scores far more.
    """
    fake = np.asarray(fake_feats, np.float64)
    real = np.asarray(real_feats, np.float64)
    if len(fake) < 2 or len(real) < 2:
        raise ValueError("duplicate_share needs at least 2 rows in each set")
    pick = np.random.default_rng(seed).choice(len(real), min(len(fake), len(real)), replace=False)
    threshold = np.quantile(nearest_neighbour_distances(real[pick]), quantile)
    return float(np.mean(nearest_neighbour_distances(fake) < threshold))


def kmeans(features, k: int, iterations: int = 30, seed: int = 0) -> np.ndarray:
    """k centres by Lloyd's algorithm from a k-means++ start (seeded: the same centres every time)."""
    x = np.asarray(features, np.float64)
    if len(x) < k:
        raise ValueError(f"k-means with k={k} needs at least {k} rows, got {len(x)}")
    rng = np.random.default_rng(seed)
    centres = [x[rng.integers(len(x))]]
    nearest = _squared_distances(x, np.array(centres))[:, 0]
    for _ in range(k - 1):
        centres.append(x[rng.choice(len(x), p=nearest / nearest.sum())] if nearest.sum() > 0 else x[rng.integers(len(x))])
        nearest = np.minimum(nearest, _squared_distances(x, centres[-1][None])[:, 0])
    centres = np.array(centres)
    for _ in range(iterations):
        assign = assign_clusters(x, centres)
        moved = np.array([x[assign == c].mean(axis=0) if np.any(assign == c) else centres[c] for c in range(k)])
        if np.allclose(moved, centres):
            break
        centres = moved
    return centres


def assign_clusters(features, centres) -> np.ndarray:
    """Index of each row's nearest centre."""
    x = np.asarray(features, np.float64)
    return np.concatenate([np.argmin(_squared_distances(x[start:start + DISTANCE_BATCH], centres), axis=1)
                           for start in range(0, len(x), DISTANCE_BATCH)])


def effective_clusters(features, centres) -> float:
    """exp(entropy) of the rows' shares over the nearest centres: k when spread evenly, 1 when all in one."""
    shares = np.bincount(assign_clusters(features, centres), minlength=len(centres)) / len(features)
    return float(2 ** entropy_bits(shares))
