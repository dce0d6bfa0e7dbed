"""Heads, temperature calibration and calibration error."""

import numpy as np

from cancerllm.classify.heads import (
    _temper,
    expected_calibration_error,
    fit_linear,
    fit_temperature,
    out_of_fold,
    reliability_bins,
)


def _overconfident(n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three-class predictions that are right 60% of the time but claim ~95% confidence."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    pred = np.where(rng.random(n) < 0.6, y, (y + rng.integers(1, 3, n)) % 3)
    p = np.full((n, 3), 0.025)
    p[np.arange(n), pred] = 0.95
    return p, y


def test_heads_temperature_fixes_overconfidence_without_changing_argmax():
    p, y = _overconfident()
    t = fit_temperature(p, y)
    q = _temper(p, t)
    assert t > 1.5  # overconfident -> softened
    assert (q.argmax(1) == p.argmax(1)).all()
    assert expected_calibration_error(q, y) < 0.05 < expected_calibration_error(p, y)
    assert abs(q.max(1).mean() - 0.6) < 0.05


def test_heads_reliability_bins_count_every_item():
    p, y = _overconfident(300)
    assert sum(b["n"] for b in reliability_bins(p, y)) == 300


def test_heads_linear_and_out_of_fold_shapes():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 5))
    y = ["a" if v > 0 else "b" for v in x[:, 0]]
    head = fit_linear(x, y)
    assert head.classes == ["a", "b"]
    assert np.allclose(head.proba(x).sum(1), 1)
    oof = out_of_fold(x, y, folds=3)
    assert oof.shape == (60, 2)
    assert (np.array(head.classes)[oof.argmax(1)] == np.array(y)).mean() > 0.8


def test_knn_votes_out_of_fold_never_see_the_row_itself():
    from scipy.sparse import csr_matrix

    from cancerllm.classify.heads import knn_votes, knn_votes_out_of_fold

    # Orthogonal rows: each row's only similar training row is itself. In sample it votes for its own label; out of
    # fold it has no similar neighbour and votes for nothing.
    x = csr_matrix(np.eye(12))
    y = ["T1", "T2", "T3"] * 4
    inside = knn_votes(x, x, y, k=1)
    assert np.allclose(inside[:, :3], np.eye(3)[[0, 1, 2] * 4]) and np.allclose(inside[:, 3], 1.0)
    oof = knn_votes_out_of_fold(x, y, k=3, folds=3)
    assert oof.shape == (12, 4) and np.allclose(oof, 0.0)
    # Two clusters: out of fold every row is voted into its own cluster's label by the other rows of the cluster.
    rng = np.random.default_rng(0)
    pts = np.vstack([np.eye(3)[[0] * 10], np.eye(3)[[1] * 10]]) + rng.uniform(0, 0.1, (20, 3))
    got = knn_votes_out_of_fold(csr_matrix(pts), ["T1"] * 10 + ["T2"] * 10, k=3, folds=5)
    assert got[:, :2].argmax(1).tolist() == [0] * 10 + [1] * 10 and (got[:, 2] > 0.9).all()


def test_bagged_stacked_head_averages_differently_seeded_ensembles():
    import pickle

    from cancerllm.classify.heads import Bag, fit_stacked

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 6)).astype(np.float32)
    y = np.array(["T1", "T2", "T3"])[(x[:, 0] > 0).astype(int) + (x[:, 1] > 1).astype(int)].tolist()
    one, bag = fit_stacked(x, y, max_iter=20), fit_stacked(x, y, max_iter=20, bags=3)
    assert isinstance(bag.model, Bag) and len(bag.model.models) == 3 and bag.meta["bags"] == 3
    members = [m.predict_proba(x) for m in bag.model.models]
    assert not np.allclose(members[0], members[1])  # other seeds and column draws: other trees
    assert np.allclose(bag.raw_proba(x), np.mean(members, axis=0))
    assert bag.classes == one.classes == ["T1", "T2", "T3"]
    assert (np.array(bag.classes)[bag.proba(x).argmax(1)] == np.array(y)).mean() > 0.9
    again = pickle.loads(pickle.dumps(bag))  # saved with the model like any head
    assert np.allclose(again.raw_proba(x), bag.raw_proba(x))


def test_bags_must_be_positive():
    from cancerllm.classify.recipe import ClassifyConfig

    assert any("bags" in p for p in ClassifyConfig(bags=0).validate())
    assert not any("bags" in p for p in ClassifyConfig(bags=5).validate())
