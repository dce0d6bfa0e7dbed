"""Mitigation: noise-aware training data, i.e. the clean training notes plus perturbed copies of them.

A model that saw "carcinma" and "HER-2" during tuning is less surprised by them at test time. Each copy gets a
new id (``<id>#aug<k>``), which also gives it its own random stream, and keeps the gold labels; its spans are
remapped like any perturbation's, so phenotype targets still quote the (noisy) note exactly.

Example:
    >>> from cancerllm.data.schema import Note
    >>> notes = [Note(id="a", text="Invasive ductal carcinoma of the breast.")]
    >>> out = augment_notes(notes, ["typo.keyboard.v1"], rates=[0.5], copies=2, seed=0)
    >>> [n.id for n in out], out[1].text != notes[0].text
    (['a', 'a#aug0', 'a#aug1'], True)
"""

from __future__ import annotations

from collections.abc import Sequence

from cancerllm.data.schema import Note
from cancerllm.errors import ConfigError
from cancerllm.registry import perturbations

__all__ = ["augment_notes"]


def augment_notes(notes: Sequence[Note], names: Sequence[str] = ("typo.keyboard.v1",),
                  rates: Sequence[float] = (0.1, 0.2), copies: int = 1, seed: int = 0) -> list[Note]:
    """The originals followed by ``copies`` perturbed copies of each note.

    Args:
        notes: Clean training notes.
        names: Registered perturbations; copy ``k`` uses ``names[k % len(names)]``.
        rates: Perturbation rates; copy ``k`` uses ``rates[k % len(rates)]``, so copies cover mild and heavy noise.
        copies: Perturbed copies per note (training time grows by the factor ``1 + copies``).
        seed: Seed of every perturbation.

    Returns:
        ``len(notes) * (1 + copies)`` notes: all originals first, then the copies note by note.

    Raises:
        ConfigError: unknown perturbation name, no rates, or negative copies.
    """
    import cancerllm.robustness.perturb  # noqa: F401  (registers the perturbations)

    problems = [f"augment: perturbation got {n!r}, expected one of {perturbations.names()}"
                for n in names if n not in perturbations]
    if not names or not rates:
        problems.append("augment: needs at least one perturbation name and one rate")
    if copies < 0:
        problems.append(f"augment_copies: got {copies}, expected >= 0")
    if problems:
        raise ConfigError(problems)
    out = list(notes)
    for note in notes:
        for k in range(copies):
            fn = perturbations.get(names[k % len(names)])
            # Renaming first gives each copy its own random stream (the stream is seeded by the note id).
            copy = note.model_copy(update={"id": f"{note.id}#aug{k}"})
            out.append(fn(copy, rates[k % len(rates)], seed))
    return out
