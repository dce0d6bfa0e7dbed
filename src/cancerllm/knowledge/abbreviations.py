"""Oncology abbreviation table with context-sensitive expansion.

The table lives in ``cancerllm/resources/abbreviations.tsv`` (abbreviation, expansion, hint words, category) so it
can be read and extended without touching code. An abbreviation with several senses lists them in order of how
often they mean that in oncology notes; the first is the default. Hint words pick another sense from context:

* "OS 24 months"                      -> overall survival (the default)
* "Visual acuity reduced in the OS"   -> left eye          (hints "visual", "acuity")
* "ER+/PR-, HER2 1+"                  -> progesterone receptor (hints "er", "her2")
* "Best response: PR per RECIST 1.1"  -> partial response  (hints "response", "recist")

Used by the synthetic note generator (surface variety, gold values) and by the robustness normaliser.

Example:
    >>> expand("OS", "median OS 24 months")
    'overall survival'
    >>> expand("OS", "visual acuity 20/40 in the OS")
    'left eye'
    >>> expand("PR", "best response PR per RECIST")
    'partial response'
    >>> expand("PR", "ER+/PR-, HER2 3+")
    'progesterone receptor'
    >>> expand("XYZ") is None
    True
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

from cancerllm.errors import ResourceError

__all__ = ["ABBREVIATIONS", "Expansion", "expand", "load_table", "senses"]

_RESOURCE = "abbreviations.tsv"
_TOKEN = re.compile(r"[a-z0-9]+(?:[-+][a-z0-9]+)*")


@dataclass(frozen=True)
class Expansion:
    """One sense of an abbreviation.

    Attributes:
        text: The expansion, e.g. ``"overall survival"``.
        hints: Lowercase words whose presence near the abbreviation selects this sense.
        category: Coarse kind (outcome, receptor, histology, treatment, procedure, site, ...).
    """

    text: str
    hints: tuple[str, ...] = ()
    category: str = "general"


def load_table(text: str | None = None) -> dict[str, list[Expansion]]:
    """Parse the TSV table (the packaged one unless ``text`` is given); keeps file order of senses.

    Args:
        text: TSV content; ``None`` reads ``cancerllm/resources/abbreviations.tsv``.

    Returns:
        Abbreviation -> senses, first sense the default.

    Raises:
        ResourceError: the packaged file is missing or a row does not have 4 tab-separated fields.

    Example:
        >>> load_table("OS\\toverall survival\\tmonths\\toutcome\\n")["OS"][0].hints
        ('months',)
    """
    if text is None:
        try:
            text = resources.files("cancerllm").joinpath("resources", _RESOURCE).read_text(encoding="utf-8")
        except (FileNotFoundError, ModuleNotFoundError) as err:
            raise ResourceError(f"abbreviation table {_RESOURCE!r} is missing from the cancerllm package; "
                                "reinstall with `pip install -e .`") from err
    table: dict[str, list[Expansion]] = {}
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 4:
            raise ResourceError(f"{_RESOURCE} line {i}: got {len(fields)} tab-separated fields, expected 4 "
                                "(abbreviation, expansion, hints, category)")
        abbr, expansion, hints, category = (f.strip() for f in fields)
        table.setdefault(abbr, []).append(Expansion(expansion, tuple(hints.lower().split()), category or "general"))
    return table


ABBREVIATIONS: dict[str, list[Expansion]] = load_table()
"""Abbreviation -> senses (first = default). Keys keep their usual casing ("dMMR", "s/p", "HER2")."""

# Case-insensitive fallback, used only where the lowercase form names a single key ("her2" -> "HER2").
_LOWER: dict[str, list[str]] = {}
for _key in ABBREVIATIONS:
    _LOWER.setdefault(_key.lower(), []).append(_key)


def senses(abbr: str) -> list[Expansion]:
    """All senses of ``abbr`` (exact key first, then a unique case-insensitive match); empty when unknown.

    Example:
        >>> [s.text for s in senses("os")]
        ['overall survival', 'osteosarcoma', 'left eye']
    """
    if abbr in ABBREVIATIONS:
        return ABBREVIATIONS[abbr]
    keys = _LOWER.get(abbr.lower(), [])
    return ABBREVIATIONS[keys[0]] if len(keys) == 1 else []


def expand(abbr: str, context: str | None = None) -> str | None:
    """Expand ``abbr``, choosing among its senses by hint words found in ``context``.

    The sense with the most hint words present (as whole lowercase tokens) wins; ties and a context without any
    hint give the first, default sense. Unknown abbreviations give ``None`` so callers can leave the text alone.

    Args:
        abbr: The abbreviation as written ("OS", "s/p", "her2").
        context: Surrounding text, typically the sentence; ``None`` means no evidence (default sense).

    Returns:
        The expansion, or ``None`` when the abbreviation is not in the table.

    Example:
        >>> expand("CR", "creatinine 1.2, BUN 18")
        'creatinine'
        >>> expand("s/p")
        'status post'
    """
    options = senses(abbr)
    if not options:
        return None
    if len(options) == 1 or not context:
        return options[0].text
    tokens = set(_TOKEN.findall(context.lower()))
    # Split hyphen/plus tokens too, so "ER+/PR-" offers "er" and "pr" as evidence as well as "er+".
    tokens |= {part for tok in list(tokens) for part in re.split(r"[-+]", tok) if part}
    best, best_score = options[0], 0
    for option in options:  # file order breaks ties, so the default wins unless another sense has more evidence
        score = sum(1 for h in option.hints if h in tokens)
        if score > best_score:
            best, best_score = option, score
    return best.text
