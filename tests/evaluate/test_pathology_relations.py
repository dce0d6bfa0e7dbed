"""`cancerllm evaluate` scores Treats / Indicated_by when the gold notes carry them (synthetic notes with relations)."""

from typer.testing import CliRunner

from cancerllm.cli import app
from cancerllm.data.io import read_notes, write_jsonl
from cancerllm.data.synth import synthesize
from cancerllm.data.synth.relations import with_relations
from cancerllm.evaluate.run import evaluate
from cancerllm.infer.rules import RulePredictor


def test_evaluate_scores_pathology_relations_of_a_gold_file_that_has_them(tmp_path):
    gold = with_relations(synthesize(40, seed=2))
    preds = RulePredictor().predict(gold)
    g, p = write_jsonl(gold, tmp_path / "gold.jsonl"), write_jsonl(preds, tmp_path / "pred.jsonl")
    m = evaluate(p, g, out=tmp_path / "ev", bootstrap=50)
    treats = m["relations"]["strict"]["per_type"]["Treats"]
    assert treats["gold"] == sum(r.type == "Treats" for n in gold for r in n.relations)
    assert treats["pred"] == sum(r.type == "Treats" for x in preds for r in x.relations) and treats["tp"] > 0
    assert len(treats["f1_ci"]) == 2 and "relaxed" in m["relations"]
    assert "## Relations" in (tmp_path / "ev" / "report.md").read_text(encoding="utf-8")
    # Gold without relations (plain `data synth`): no relation table, not a table of zeros.
    plain = write_jsonl(synthesize(40, seed=2), tmp_path / "plain.jsonl")
    assert "relations" not in evaluate(p, plain, out=None, bootstrap=0)


def test_data_synth_relations_flag_writes_the_gold_relations(tmp_path):
    out = tmp_path / "s.jsonl"
    res = CliRunner().invoke(app, ["data", "synth", "--n", "30", "--seed", "4", "--relations", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert [n.relations for n in read_notes(out)] == [n.relations for n in with_relations(synthesize(30, seed=4))]


def test_a_history_distractors_treatment_treats_that_past_cancer_not_todays():
    # "History of breast cancer, status post lumpectomy in 2004." in a melanoma note: the lumpectomy treated the past
    # breast cancer named in its own line, so its only Treats tail is that historical diagnosis mention.
    seen = 0
    for n in with_relations(synthesize(300, seed=0)):
        line = [n.text.count("\n", 0, m.start) for m in n.mentions]  # the generator writes one sentence a line
        past = [i for i, m in enumerate(n.mentions) if m.type == "cancer_diagnosis" and m.assertion == "historical"
                and m.value != n.cancer_type]
        for d in past:
            tx = [h for h, m in enumerate(n.mentions) if m.type == "treatment" and line[h] == line[d]]
            assert len(tx) == 1, n.id  # the distractor sentence names exactly one treatment
            tails = [(r.type, r.tail) for r in n.relations if r.head == tx[0]]
            assert tails == [("Treats", d)], n.id
            seen += 1
        # Every other Treats still goes to a mention of the current cancer.
        for r in n.relations:
            if r.type == "Treats" and r.tail not in past:
                assert n.mentions[r.tail].value == n.cancer_type
    assert seen >= 20  # ~45% of patients carry a history distractor, written in some of their notes
