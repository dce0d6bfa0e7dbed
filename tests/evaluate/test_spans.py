"""Strict vs overlap span matching, one-to-one assignment, assertion accuracy."""

from cancerllm.data.schema import Mention
from cancerllm.evaluate.spans import SpanCounts, match_spans


def M(t, s, e, a="present"):
    return Mention(type=t, text="x" * (e - s), start=s, end=e, assertion=a)


def test_spans_strict_overlap_and_micro_macro():
    gold = [M("grade", 0, 7), M("histology", 10, 26), M("histology", 30, 40)]
    pred = [M("grade", 0, 7, "negated"), M("histology", 12, 26), M("stage_t", 50, 53)]
    acc = SpanCounts()
    acc.add(gold, pred)
    s = acc.scores()
    assert s["strict"]["micro"] == {"precision": 0.3333, "recall": 0.3333, "f1": 0.3333, "tp": 1, "pred": 3, "gold": 3}
    assert s["overlap"]["micro"]["tp"] == 2
    # macro over gold types only (grade 1.0, histology overlap P=1 R=0.5 -> 0.6667)
    assert s["overlap"]["macro"]["f1"] == round((1.0 + 0.6667) / 2, 4)
    assert s["assertion_accuracy"] == 0.5
    assert s["assertion_by_gold_value"]["present"] == {"accuracy": 0.5, "n": 2}


def test_spans_one_to_one_and_ungrounded():
    gold = [M("grade", 0, 5), M("grade", 6, 10)]
    pred = [M("grade", 0, 10), Mention(type="grade", text="G2", inferred=True)]
    assert match_spans(gold, pred[:1], strict=False) == [(0, 0)]  # one long prediction matches one gold
    acc = SpanCounts()
    acc.add(gold, pred)
    assert acc.scores()["ungrounded_pred"] == 1 and acc.scores()["overlap"]["micro"]["pred"] == 1
