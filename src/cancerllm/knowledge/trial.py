"""The clinical-trial eligibility schema: Chia entity types, relation types, group types and assertion rules.

Chia (Kury et al., Scientific Data 2020) annotates eligibility criteria with 15 entity types and binary relations
that link them ("HbA1c [Measurement] > 7% [Value]" is ``Has_value`` from the measurement to the value). Trial
mentions use these type names as ``Mention.type`` (capitalised, as in the corpus, so they never collide with the
pathology types of :mod:`cancerllm.knowledge.phenotypes`).

Negation and mood are written twice in Chia: as their own mentions ("no", "suspected") and as a relation from
the qualified entity to them. :func:`assertion_of` turns the relations into the shared assertion values, so
"no [history of] [seizures]" gives the Condition "seizures" the assertion ``negated`` and "[suspected] [vitamin
B12 deficiency]" gives ``possible``.

Example:
    >>> assertion_of({"Has_negation"}), assertion_of({"Has_mood", "Has_value"}), assertion_of(set())
    ('negated', 'possible', 'present')
    >>> "Drug" in TRIAL_ENTITY_TYPES, "Has_value" in TRIAL_RELATION_TYPES
    (True, True)
"""

from __future__ import annotations

__all__ = ["GROUP_TYPES", "MODIFIER_RELATIONS", "NORMALISED_TYPES", "PATHOLOGY_RELATION_TYPES", "TRIAL_ENTITY_TYPES",
           "TRIAL_RELATION_TYPES", "assertion_of"]

# Definitions paraphrase the Chia annotation guideline; the surface examples are from Chia train.
TRIAL_ENTITY_TYPES: dict[str, str] = {
    "Condition": "a disease, symptom or state of the patient ('type 2 diabetes', 'pregnant')",
    "Drug": "a drug, drug class or other substance given ('metformin', 'PD-1 inhibitor', 'insulin')",
    "Procedure": "a procedure or therapy done to the patient ('surgery', 'radiotherapy', 'dialysis')",
    "Measurement": "a measured quantity ('HbA1c', 'ECOG performance status', 'creatinine clearance')",
    "Observation": "something observed of the patient that is not a condition ('smoking', 'life expectancy')",
    "Person": "a demographic trait ('age', 'women', 'male')",
    "Device": "a device ('pacemaker', 'insulin pump')",
    "Visit": "a care setting or visit ('ICU', 'emergency department')",
    "Temporal": "a time window or point ('within 3 months', 'prior to enrolment')",
    "Value": "a value or range of a measurement ('> 7%', '18 years or older', '<200 pmol/L')",
    "Negation": "a negation cue ('no', 'not', 'without')",
    "Qualifier": "a qualifying word ('severe', 'uncontrolled', 'metastatic')",
    "Multiplier": "a dose or count qualifier ('at least 2', 'more than one')",
    "Reference_point": "the event a temporal is anchored to ('screening', 'randomization')",
    "Mood": "a hedge or intention ('suspected', 'planned', 'intend to')",
}

# Binary relation types (brat R lines). head = Arg1, tail = Arg2; both are mention indices of the same note.
TRIAL_RELATION_TYPES: dict[str, str] = {
    "Has_value": "entity -> its Value ('HbA1c' -> '> 7%')",
    "Has_temporal": "entity -> its Temporal ('chemotherapy' -> 'within 4 weeks')",
    "Has_qualifier": "entity -> its Qualifier ('hypertension' -> 'uncontrolled')",
    "Has_negation": "entity -> the Negation cue that denies it",
    "Has_mood": "entity -> the Mood cue that hedges it",
    "Has_multiplier": "entity -> its Multiplier",
    "Has_index": "Temporal -> its Reference_point ('4 weeks before' -> 'randomization')",
    "Has_context": "entity -> an entity that sets its context",
    "Subsumes": "a general entity -> a more specific one it covers",
    "AND": "two entities that must hold together",
    "OR": "two alternatives (binary form; n-ary alternatives are groups)",
    "multi": "one entity -> another that it spans over",
    "causal": "a cause -> its effect ('drug' -> 'allergy')",
}
# Relations of pathology / clinical notes (gold from the synthetic generator, cancerllm.data.synth.relations).
PATHOLOGY_RELATION_TYPES: dict[str, str] = {
    "Treats": "treatment -> the cancer_diagnosis it treats ('osimertinib' -> 'lung adenocarcinoma')",
    "Indicated_by": "targeted treatment -> the biomarker result it requires ('trastuzumab' -> 'HER2 3+')",
}
# n-ary equivalence annotations (brat * lines): {type, members}.
GROUP_TYPES = ("OR", "NOT")
# Relations whose tail modifies the head: the baseline attaches these, the LLM target spells them out.
MODIFIER_RELATIONS: dict[str, str] = {"Value": "Has_value", "Temporal": "Has_temporal",
                                      "Qualifier": "Has_qualifier", "Negation": "Has_negation",
                                      "Mood": "Has_mood", "Multiplier": "Has_multiplier"}
# Types whose mentions get a normalised concept (see cancerllm.knowledge.normalize).
NORMALISED_TYPES = ("Drug", "Measurement", "Condition")


def assertion_of(relation_types: set[str]) -> str:
    """The assertion of an entity given the relation types it heads: negation beats mood, else ``present``."""
    if "Has_negation" in relation_types:
        return "negated"
    if "Has_mood" in relation_types:
        return "possible"
    return "present"
