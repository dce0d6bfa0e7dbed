"""End-to-end: evaluate on small files (bad lines, missing ids, abstentions), reports, compare, CLI, baselines."""

import json

import pytest
from typer.testing import CliRunner

from cancerllm.cli import app
from cancerllm.data.schema import Diagnosis, Mention, Note, Prediction
from cancerllm.evaluate.baselines import majority, regex_predict, tfidf_predict
from cancerllm.evaluate.compare import compare
from cancerllm.evaluate.run import evaluate
from cancerllm.evaluate.scorer import Scorer


def _gold(tmp_path):
    notes = []
    for i, (t, n, ct) in enumerate([("T1", "N0", "BRCA"), ("T2", "N1", "BRCA"), ("T3", None, "LUAD"),
                                    ("T2", "N0", "LUAD")]):
        text = f"Invasive carcinoma, grade 2, pT{t[1]}."
        notes.append(Note(id=f"n{i}", text=text, cancer_type=ct, labels={"t_stage": t, "n_stage": n, "m_stage": None},
                          mentions=[Mention(type="grade", text="grade 2", start=20, end=27, value="G2")],
                          diagnosis=Diagnosis(text="breast cancer" if ct == "BRCA" else "lung cancer",
                                              icd10="C50.9" if ct == "BRCA" else "C34.1")))
    path = tmp_path / "gold.jsonl"
    path.write_text("".join(n.model_dump_json() + "\n" for n in notes))
    return path, notes


def _preds(tmp_path, name, bad=True):
    recs = [Prediction(id="n0", task="phenotype", labels={"t_stage": "T1", "n_stage": "N0"},
                       mentions=[Mention(type="grade", text="grade 2", start=20, end=27, value="G2")]),
            Prediction(id="n1", task="phenotype", labels={"t_stage": None, "n_stage": "N1"}, errors=["bad json"]),
            Prediction(id="n0", task="diagnosis", diagnosis=Diagnosis(text="breast cancer", icd10="C50.912"))]
    lines = [r.model_dump_json() for r in recs]
    if bad:
        lines += ["{not json", json.dumps({"id": "n3", "task": "phenotype", "labels": {"t_stage": 5}}),
                  json.dumps({"id": "zzz", "task": "phenotype"})]
    path = tmp_path / f"{name}.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_run_evaluate_counts_bad_and_missing_as_wrong(tmp_path):
    gold, _ = _gold(tmp_path)
    m = evaluate(_preds(tmp_path, "p"), gold, out=tmp_path / "ev", bootstrap=50)
    t = m["classification"]["t_stage"]
    assert t["n"] == 4 and t["accuracy"] == 0.25 and t["abstained"] == 3  # n1 abstained, n2 missing, n3 invalid
    assert m["classification"]["n_stage"]["n"] == 3 and m["classification"]["n_stage"]["accuracy"] == pytest.approx(2 / 3)
    assert "m_stage" not in m["classification"]
    assert [x["where"].rsplit(":", 1)[1] for x in m["invalid_predictions"]] == ["4", "5"]
    assert m["missing_predictions"] == ["n2"] and m["missing_because_invalid"] == ["n3"]
    assert m["unknown_prediction_ids"] == ["zzz"] and m["predictions_with_errors"] == 1
    assert m["classification"]["icd10_category"]["accuracy"] == 0.25 and m["classification"]["icd10"]["accuracy"] == 0
    assert m["paper"]["diagnosis"]["em"]["f1"] == 25.0
    assert m["spans"]["strict"]["micro"]["tp"] == 1 and m["spans"]["strict"]["micro"]["gold"] == 4
    for f in ("metrics.json", "items.jsonl", "report.md", "report.html"):
        assert (tmp_path / "ev" / f).stat().st_size > 100
    html = (tmp_path / "ev" / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 3 and "http" not in html.split("<body>")[1][:50]


def test_run_paper_view_average_of_three_f1():
    gold = Note(id="a", text="grade 2 x", mentions=[Mention(type="grade", text="grade 2", start=0, end=7)])
    pred = Prediction(id="a", task="phenotype", mentions=[Mention(type="grade", text="grade 2", start=0, end=7)])
    m = Scorer(bootstrap=0)
    m(gold, pred)
    p = m.get_metric()["paper"]["phenotype"]
    # EM 1, ROUGE-L 1, BLEU-2 1 (two tokens): average 100
    assert p["em"]["f1"] == p["bleu2"]["f1"] == p["rouge_l"]["f1"] == 100.0 and p["avg_f1"] == 100.0


def test_run_compare_runs_and_prediction_files(tmp_path):
    gold, _ = _gold(tmp_path)
    evaluate(_preds(tmp_path, "a"), gold, out=tmp_path / "A", bootstrap=20)
    r = compare([tmp_path / "A", _preds(tmp_path, "b", bad=False)], gold=gold, out=tmp_path / "cmp", bootstrap=50)
    assert r["tests"][1]["shared_items"] == 4 and r["tests"][1]["t_stage"]["accuracy"]["diff"] == 0
    assert (tmp_path / "cmp" / "compare.md").read_text().startswith("# Run comparison")


def test_run_baselines_regex_and_tfidf(tmp_path):
    _, notes = _gold(tmp_path)
    preds = regex_predict(notes, majority(notes))
    assert [p.labels["t_stage"] for p in preds] == ["T1", "T2", "T3", "T2"]
    assert preds[0].mentions[0].type == "stage_t" and preds[0].labels["n_stage"] == "N0"  # majority fallback
    tf = tfidf_predict(notes * 3, notes)
    assert {p.labels["cancer_type"] for p in tf} <= {"BRCA", "LUAD"} and len(tf) == 4


def test_run_cli_evaluate_baseline_hard_split(tmp_path):
    gold, _ = _gold(tmp_path)
    runner = CliRunner()
    r = runner.invoke(app, ["baseline", "regex", "--train", str(gold), "--input", str(gold), "--out",
                            str(tmp_path / "p.jsonl")])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["evaluate", "--pred", str(tmp_path / "p.jsonl"), "--gold", str(gold), "--out",
                            str(tmp_path / "ev"), "--bootstrap", "10"])
    assert r.exit_code == 0 and "t_stage: acc 1.000" in r.output
    r = runner.invoke(app, ["hard-split", "--input", str(gold), "--out", str(tmp_path / "h.jsonl")])
    assert r.exit_code == 0 and '"notes_masked": 4' in r.output
    r = runner.invoke(app, ["evaluate", "--pred", str(tmp_path / "nope.jsonl"), "--gold", str(gold)])
    assert r.exit_code == 2 and "does not exist" in r.output
    r = runner.invoke(app, ["evaluate", "--pred", str(tmp_path / "p.jsonl"), "--gold", str(gold), "--task", "x"])
    assert r.exit_code == 2 and "--task" in r.output


def test_run_cli_evaluate_run_finds_the_gold_the_extract_run_recorded(tmp_path, tiny_model_dir):
    # The real pair of commands: `extract GOLD --out RUN`, then `evaluate --run RUN` with no --gold.
    gold, notes = _gold(tmp_path)
    runner = CliRunner()
    r = runner.invoke(app, ["extract", str(gold), "--out", str(tmp_path / "run"), "--model.path", str(tiny_model_dir),
                            "model.device=cpu", "model.dtype=fp32", "generate.max_new_tokens=4"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["evaluate", "--run", str(tmp_path / "run"), "--out", str(tmp_path / "ev"),
                            "--bootstrap", "0"])
    assert r.exit_code == 0, r.output
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert metrics["gold_file"] == str(gold) and metrics["n_notes"] == len(notes)
    # A gold file edited after the run is refused, with the way out.
    gold.write_text(gold.read_text().replace("n0", "m0"))
    r = runner.invoke(app, ["evaluate", "--run", str(tmp_path / "run"), "--out", str(tmp_path / "ev2")])
    assert r.exit_code == 2 and "changed since the run" in r.output and "--gold" in r.output


def test_run_cli_evaluate_run_without_a_recorded_input_asks_for_gold(tmp_path):
    run = tmp_path / "merged"
    run.mkdir()
    (run / "predictions.jsonl").write_text(_preds(tmp_path, "p").read_text())
    r = CliRunner().invoke(app, ["evaluate", "--run", str(run)])
    assert r.exit_code == 2 and "records no input file" in r.output and "pass --gold" in r.output
