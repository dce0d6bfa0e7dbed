"""The review page in a real headless Chromium: highlights sit exactly over note[start:end] (code points).

The page is served by the real server (tiny model). A real /extract record for the note gets known mentions
added, and the page opens it from its URL fragment (the page's own "open a saved review" path, which calls its
render function); ``--dump-dom`` returns the DOM after the page's scripts ran.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import urllib.parse
from html.parser import HTMLParser

import httpx
import pytest

from cancerllm.data.schema import Mention, Prediction

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")

# Non-BMP characters (emoji, a mathematical bold letter) before and inside the mentions: each is one code point in
# Python but two UTF-16 units in JS, so a page slicing JS strings by the API's offsets would be shifted.
NOTE = ("Pt 🩺 seen 2024-05-01. 𝐀ssessment: invasive ductal carcinoma, left breast, pT2 N0 M0.\n"
        "No 😀 distant metastasis. Mother had breast cancer. ER positive 𝟗0%, HER2 negative.")


def _mention(type_, text, assertion="present", occurrence=0):
    start = -1
    for _ in range(occurrence + 1):
        start = NOTE.index(text, start + 1)
    return Mention(type=type_, text=text, start=start, end=start + len(text), assertion=assertion, value=text)


class _Marks(HTMLParser):
    """Collects (data-m, data-start, data-end, text) of every highlight mark, and the errors list items."""

    def __init__(self):
        super().__init__()
        self.marks, self.errors, self._mark, self._li = [], [], None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "mark" and "m" in (a.get("class") or "").split():
            self._mark = [a["data-m"], int(a["data-start"]), int(a["data-end"]), a.get("data-assertion"), ""]
        if tag == "li":
            self._li = ""

    def handle_data(self, data):
        if self._mark is not None:
            self._mark[4] += data
        if self._li is not None:
            self._li += data

    def handle_endtag(self, tag):
        if tag == "mark" and self._mark is not None:
            self.marks.append(self._mark)
            self._mark = None
        if tag == "li" and self._li is not None:
            self.errors.append(self._li)
            self._li = None


def _dump_dom(url: str, tmp_path) -> str:
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
           f"--user-data-dir={tmp_path / 'chromium-profile'}", "--virtual-time-budget=3000", "--dump-dom", url]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="needs a chromium binary (apt-get install chromium)")
def test_page_highlights_exact_code_point_spans(server_url, tmp_path):
    real = httpx.post(f"{server_url}/extract", json={"notes": [{"id": "u1", "text": NOTE}]}, timeout=120).json()
    record = Prediction.model_validate(real["predictions"][0])
    known = [
        _mention("cancer_diagnosis", "invasive ductal carcinoma"),
        _mention("histology", "ductal carcinoma"),  # overlaps the diagnosis: shared segment, both recoverable
        _mention("laterality", "left"),
        _mention("stage_t", "pT2"),
        _mention("metastasis_site", "distant metastasis", "negated"),
        _mention("cancer_diagnosis", "breast cancer", "family"),
        _mention("biomarker", "ER positive 𝟗0%"),
        _mention("biomarker", "HER2 negative"),
    ]
    bad = Mention(type="stage_n", text="N9", start=5, end=7)  # a span that does not match the note
    record.mentions = known + [bad]
    review = {"format": "cancerllm.review.v1", "note": {"id": "u1", "text": NOTE},
              "phenotype": record.model_dump(), "diagnosis": None}
    url = f"{server_url}/#review=" + urllib.parse.quote(json.dumps(review, ensure_ascii=False), safe="")
    parser = _Marks()
    parser.feed(_dump_dom(url, tmp_path))

    assert parser.marks, "no highlight rendered"
    for ids, start, end, _assertion, text in parser.marks:
        assert NOTE[start:end] == text  # every highlighted piece is exactly the note's code points there
    for i, m in enumerate(known):
        pieces = [(s, e, t) for ids, s, e, _a, t in parser.marks if str(i) in ids.split()]
        # the pieces of mention i are contiguous and together are exactly note[start:end]
        assert pieces[0][0] == m.start and pieces[-1][1] == m.end
        assert all(a[1] == b[0] for a, b in itertools.pairwise(pieces))
        assert "".join(t for _s, _e, t in pieces) == NOTE[m.start:m.end] == m.text
    assertions = {t: a for _ids, _s, _e, a, t in parser.marks}
    assert assertions["distant metastasis"] == "negated" and assertions["breast cancer"] == "family"
    # the mismatching span is not highlighted and is listed among the errors, next to the record's own errors
    assert not any(str(len(known)) in ids.split() for ids, *_ in parser.marks)
    assert any("mention #8 not highlighted: span does not match the note text" in e for e in parser.errors)
    for e in record.errors:
        assert f"extract: {e}" in parser.errors


class _Rows(HTMLParser):
    """Cell texts of every relation row (``tr.rel``)."""

    def __init__(self):
        super().__init__()
        self.rows, self._row, self._cell = [], None, None

    def handle_starttag(self, tag, attrs):
        if tag == "tr" and "rel" in (dict(attrs).get("class") or "").split():
            self._row = []
        elif tag == "td" and self._row is not None:
            self._cell = ""

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self._row.append(self._cell)
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None


@pytest.mark.skipif(CHROMIUM is None, reason="needs a chromium binary (apt-get install chromium)")
def test_page_shows_trial_entities_and_relations(server_url, tmp_path):
    """A trial-criteria record (issue 15) opens in the page: its Chia-typed mentions are highlighted exactly and each
    relation is listed with the texts of both mentions it links."""
    text = "HbA1c > 7% within 3 months 🩺\nNo history of seizures"
    def m(type_, surface, assertion="present"):
        s = text.index(surface)
        return {"type": type_, "text": surface, "start": s, "end": s + len(surface), "assertion": assertion}
    record = {"id": "t1", "task": "trial",
              "mentions": [m("Measurement", "HbA1c"), m("Value", "> 7%"), m("Temporal", "within 3 months"),
                           m("Condition", "seizures", "negated")],
              "relations": [{"type": "Has_value", "head": 0, "tail": 1}, {"type": "Has_temporal", "head": 0, "tail": 2}]}
    review = {"format": "cancerllm.review.v1", "note": {"id": "t1", "text": text}, "phenotype": record,
              "diagnosis": None}
    url = f"{server_url}/#review=" + urllib.parse.quote(json.dumps(review, ensure_ascii=False), safe="")
    dom = _dump_dom(url, tmp_path)
    marks, rows = _Marks(), _Rows()
    marks.feed(dom)
    rows.feed(dom)
    assert {t for _ids, _s, _e, _a, t in marks.marks} >= {"HbA1c", "> 7%", "within 3 months", "seizures"}
    assert rows.rows == [["Has_value", "#0 Measurement: HbA1c", "#1 Value: > 7%"],
                         ["Has_temporal", "#0 Measurement: HbA1c", "#2 Temporal: within 3 months"]]


@pytest.mark.skipif(CHROMIUM is None, reason="needs a chromium binary (apt-get install chromium)")
def test_page_shows_pathology_relations_of_a_rules_record(server_url, tmp_path):
    """A pathology note extracted without a trained run (the rule extractor) shows its Treats / Indicated_by rows."""
    from cancerllm.data.schema import Note
    from cancerllm.infer.rules import RulePredictor

    text = "Invasive breast cancer, HER2 3+ and ER positive. Started trastuzumab."
    record = RulePredictor().predict([Note(id="p1", text=text)])[0].model_dump(mode="json")
    review = {"format": "cancerllm.review.v1", "note": {"id": "p1", "text": text}, "phenotype": record,
              "diagnosis": None}
    url = f"{server_url}/#review=" + urllib.parse.quote(json.dumps(review, ensure_ascii=False), safe="")
    rows = _Rows()
    rows.feed(_dump_dom(url, tmp_path))
    assert [r[0] for r in rows.rows] == ["Treats", "Indicated_by"]
    assert rows.rows[0][1].endswith("treatment: trastuzumab") and rows.rows[0][2].endswith("breast cancer")
    assert rows.rows[1][2].endswith("biomarker: HER2 3+")
