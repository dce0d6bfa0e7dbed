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
