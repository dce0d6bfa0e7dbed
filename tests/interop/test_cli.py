"""``cancerllm export fhir|note-nlp`` end to end: real classify output and extract-shaped records on synthetic notes,
joined by id, with one malformed line and one record whose spans do not fit its note."""

from __future__ import annotations

import csv
import json
import logging

import pytest
from fhir.resources.R4B.bundle import Bundle
from typer.testing import CliRunner

from cancerllm.cli import app
from cancerllm.data.io import write_jsonl
from cancerllm.data.schema import Prediction
from cancerllm.data.synth import synthesize
from cancerllm.knowledge.values import labels_from_mentions


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Notes, what ``classify`` writes for them (a real run) and what ``extract`` would write (gold mentions)."""
    from cancerllm.classify.recipe import ClassifyConfig, run

    root = tmp_path_factory.mktemp("export")
    notes = synthesize(120, seed=5)
    train, dev, test = notes[:80], notes[80:100], notes[100:]
    paths = {n: write_jsonl(p, root / f"{n}.jsonl") for n, p in (("train", train), ("dev", dev), ("test", test))}
    run(ClassifyConfig(train=str(paths["train"]), dev=str(paths["dev"]), predict=[str(paths["test"])],
                       out=str(root / "classify"), folds=2, trees=5, hard=False))
    preds = [Prediction(id=n.id, task="phenotype", mentions=n.mentions, labels=labels_from_mentions(n.mentions),
                        meta={"prompt_style": "json.v1"}).model_dump(mode="json") for n in test]
    moved = next(i for i, p in enumerate(preds) if p["mentions"])
    preds[moved]["mentions"][0]["start"] += 1  # a span that no longer fits its note
    preds[moved]["mentions"][0]["end"] += 1
    lines = [json.dumps(p) for p in preds]
    lines.insert(3, json.dumps({"id": "bad-1", "task": "phenotype", "mentions": [{"type": "size", "text": "x"}]}))
    (root / "extract.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"root": root, "notes": paths["test"], "extract": root / "extract.jsonl",
            "classify": root / "classify" / "test.jsonl", "test": test, "moved": preds[moved]["id"]}


def _invoke(*args):
    return CliRunner().invoke(app, ["export", *map(str, args)])


def test_cli_export_fhir_joins_extract_and_classify_and_skips_bad_records(files, caplog):
    out = files["root"] / "bundle.json"
    with caplog.at_level(logging.WARNING):
        r = _invoke("fhir", files["extract"], files["classify"], "--notes", files["notes"], "--out", out)
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["notes"] == len(files["test"]) - 1 and summary["failed"] == 2
    # each bad record is named by file:line, document and field; the rest is exported
    assert f"{files['extract']}:4" in caplog.text and "field 'mentions.0.type'" in caplog.text
    assert f"document '{files['moved']}'" in caplog.text and "field 'mentions.0': span" in caplog.text
    assert not [n.id for n in files["test"] if n.text[:24] in caplog.text or n.text[-24:] in caplog.text]
    outer = Bundle.model_validate_json(out.read_text())
    inner = [e.resource for e in outer.entry]
    assert len(inner) == summary["notes"] and all(Bundle.model_validate(json.loads(b.model_dump_json())) == b
                                                  for b in inner)
    ids = [b.entry[0].resource.identifier[0].value for b in inner]
    assert files["moved"] not in ids and "bad-1" not in ids
    # no note text and none of the notes' fake identifiers anywhere in the export
    text = out.read_text()
    for note in files["test"]:
        assert note.text not in text
        assert not [p["text"] for p in note.model_extra.get("phi", []) if p["text"] in text]


def test_cli_export_fhir_carries_classify_inferred_labels(files):
    out = files["root"] / "classify_only.ndjson"
    r = _invoke("fhir", files["classify"], "--out", out)
    assert r.exit_code == 0, r.output
    bundles = [Bundle.model_validate_json(line) for line in out.read_text().splitlines()]
    records = [json.loads(line) for line in files["classify"].read_text(encoding="utf-8").splitlines()]
    assert len(bundles) == len(records)
    inferred = sum(src["source"] == "inferred" for rec in records for k, src in rec["meta"]["label_sources"].items()
                   if k != "cancer_type" and rec["labels"][k] is not None)
    marked = sum(1 for b in bundles for e in b.entry if e.resource.get_resource_type() == "Observation"
                 and any(x.url == "urn:cancerllm:fhir:inferred" for x in e.resource.extension or []))
    assert marked == inferred > 0  # every inferred stage label, and only those, is marked inferred


def test_cli_export_note_nlp_csv_and_parquet(files, caplog):
    import pyarrow.parquet as pq

    out = files["root"] / "note_nlp.csv"
    r = _invoke("note-nlp", files["extract"], "--notes", files["notes"], "--out", out)
    assert r.exit_code == 0, r.output
    with open(out, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    kept = [n for n in files["test"] if n.id != files["moved"]]
    assert len(rows) == sum(len(n.mentions) for n in kept)
    by_id = {n.id: n for n in kept}
    assert {r["term_exists"] for r in rows} <= {"Y", "N"}
    assert all(r["snippet"] == "" for r in rows)
    negated = [r for r in rows if "assertion=negated" in r["term_modifiers"]]
    assert negated and all(r["term_exists"] == "N" for r in negated)
    with open(f"{out}.note_ids.csv", encoding="utf-8", newline="") as fh:
        ids = {row[0]: row[1] for row in csv.reader(fh)}
    for row in rows:  # offsets slice each note to the term
        s, e = map(int, row["offset"].split("-"))
        assert by_id[ids[row["note_id"]]].text[s:e] == row["lexical_variant"]
    r = _invoke("note-nlp", files["extract"], "--notes", files["notes"], "--out", files["root"] / "nn.parquet")
    assert r.exit_code == 0 and pq.read_table(files["root"] / "nn.parquet").num_rows == len(rows)


def test_cli_export_errors_are_clear(files):
    r = _invoke("fhir", files["extract"], "--include-text", "--out", files["root"] / "x.json")
    assert r.exit_code == 2 and "needs --notes" in r.stderr
    r = _invoke("note-nlp", files["extract"], "--out", files["root"] / "x.xlsx")
    assert r.exit_code == 2 and "expected a .csv or .parquet file" in r.stderr
    empty = files["root"] / "empty.jsonl"
    empty.write_text("{not json\n")
    r = _invoke("fhir", empty, "--out", files["root"] / "y.json")
    assert r.exit_code == 2 and "nothing to export" in r.stderr and f"{empty}:1" in r.stderr
