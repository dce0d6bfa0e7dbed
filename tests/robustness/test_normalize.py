"""The normaliser: corrections, safety rules, split repair, variants, span restoration, lexicon round trip."""

from __future__ import annotations

from cancerllm.data.schema import Mention, Note, Prediction
from cancerllm.robustness.normalize import Lexicon, Normalizer, restore_prediction
from cancerllm.robustness.predictors import NormalizedPredictor, RegexPredictor

CORPUS = [("Invasive ductal carcinoma, pT2a N0 M0. HER2 positive. Lymphovascular invasion not identified. "
           "Margins are insignificant and significant.")] * 5


def test_normalize_corrects_typos_and_keeps_known_words():
    norm = Normalizer(Lexicon.from_texts(CORPUS))
    fixed, _ = norm.normalize(Note(id="a", text="Invasive ductl carcinoma, pR2a B0 M0. Lymphovascualr invasion."))
    assert fixed.text == "Invasive ductal carcinoma, pT2a N0 M0. Lymphovascular invasion."
    clean = Note(id="b", text=CORPUS[0])
    assert norm.normalize(clean)[0].text == clean.text  # nothing to fix: nothing changes


def test_normalize_never_changes_digits_or_drops_negation():
    norm = Normalizer(Lexicon.from_texts(CORPUS))
    assert norm.normalize(Note(id="a", text="pT3a"))[0].text == "pT3a"  # not the commoner pT2a
    lex = Lexicon.from_texts(["significant"] * 20)
    assert Normalizer(lex).normalize(Note(id="b", text="insignificant"))[0].text == "insignificant"


def test_normalize_split_repair_and_variant_canonicalisation():
    norm = Normalizer(Lexicon.from_texts(CORPUS))
    assert norm.normalize(Note(id="a", text="ductal carci noma, HER-2 positive"))[0].text == \
        "ductal carcinoma, HER2 positive"


def test_normalize_restores_prediction_spans_to_original_text():
    original = "Invasive ductl carcinoma, pR2a N0."
    norm = Normalizer(Lexicon.from_texts(CORPUS))
    fixed, log = norm.normalize(Note(id="a", text=original))
    s = fixed.text.index("pT2a")
    pred = Prediction(id="a", task="phenotype", mentions=[
        Mention(type="stage_t", text="pT2a", start=s, end=s + 4, value="T2"),
        Mention(type="histology", text="ductal carcinoma", start=9, end=25)])
    back = restore_prediction(pred, log, original)
    for m in back.mentions:
        assert original[m.start:m.end] == m.text
    assert [m.text for m in back.mentions] == ["pR2a", "ductl carcinoma"]
    # the wrapper does the same end to end with a real predictor
    p = NormalizedPredictor(RegexPredictor(), norm).predict([Note(id="a", text=original)])[0]
    assert p.labels["t_stage"] == "T2" and original[p.mentions[0].start:p.mentions[0].end] == "pR2a"


def test_normalize_lexicon_save_load_round_trip(tmp_path):
    lex = Lexicon.from_texts(CORPUS)
    back = Lexicon.load(lex.save(tmp_path / "lex.json"))
    assert back.counts == lex.counts and back.forms == lex.forms and back.variants == lex.variants
    assert back.suggest("carcinomma") == "carcinoma"
