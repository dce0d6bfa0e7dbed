"""The review loop end to end in a real headless Chromium (Selenium + the system chromedriver, offline).

A real server (tiny model, review database) serves the page. In the browser: open a note the model got partly
wrong, fix a span by typing new offsets, reject a wrong mention, correct a label; then extract a second note through
the page, start its review and add a missed mention from a text selection (non-BMP characters before it, so a page
counting UTF-16 units would be off). The server is stopped and a new one started on the same file: the page shows
the corrections again. Finally ``cancerllm review export`` writes gold notes and ``cancerllm sft`` trains one step.
"""

from __future__ import annotations

import json
import math
import shutil

import httpx
import pytest
from typer.testing import CliRunner

from cancerllm.cli import app
from tests.review.conftest import NOTE, SFT_ONE_STEP, prediction, review_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (the test extra)")
pytestmark = pytest.mark.skipif(CHROMIUM is None or DRIVER is None,
                                reason="needs chromium and chromedriver (apt-get install chromium chromium-driver)")

SECOND = "Addendum 😀 𝐁: biopsy shows lobular carcinoma in situ. ER positive."


@pytest.fixture
def browser(tmp_path):
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--user-data-dir={tmp_path / 'profile'}"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the page's console, checked for script errors
    driver = webdriver.Chrome(options=opts, service=Service(DRIVER))  # a given driver: Selenium Manager stays off
    driver.implicitly_wait(0)
    yield driver
    # No script error on any page load (a favicon 404 is the browser's own request, not the page's).
    errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE" and "favicon" not in e["message"]]
    driver.quit()
    assert not errors, errors


def _wait(driver, what, timeout=30):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # The page re-renders its tables after every save: an element found a moment ago may be gone; look again.
    return WebDriverWait(driver, timeout, ignored_exceptions=(StaleElementReferenceException,)).until(what)


def _by(driver, css):
    return driver.find_element("css selector", css)


def _saved(driver, before: str) -> str:
    """Wait until the page reports a new save (or a refusal) and return that message."""
    return _wait(driver, lambda d: (t := _by(d, "#review-msg").text) != before and t.startswith(("saved", "not saved"))
                 and t)


def _click_and_save(driver, css):
    before = _by(driver, "#review-msg").text
    _by(driver, css).click()
    msg = _saved(driver, before)
    assert msg.startswith("saved"), msg
    # Cleared so that the next wait cannot mistake this message for the next save's.
    driver.execute_script("document.getElementById('review-msg').textContent = ''")


def _open(driver, url, note_id):
    from selenium.webdriver.support.ui import Select

    driver.get(url + "/")
    _wait(driver, lambda d: note_id in [o.get_attribute("value") for o in
                                        d.find_elements("css selector", "#review-notes option")])
    Select(_by(driver, "#review-notes")).select_by_value(note_id)
    _by(driver, "#review-open").click()
    _wait(driver, lambda d: d.find_element("css selector", "#review-status").text.startswith(f"reviewing {note_id}"))


def _statuses(driver):
    # Read in one script call: the table may be re-rendered between finding the cells and reading them.
    return driver.execute_script("return [...document.querySelectorAll('#mentions td.act span.st')]"
                                 ".map((e) => e.textContent)")


def test_review_in_browser_survives_restart_then_export_and_sft(tiny_model_dir, tmp_path, browser):
    from selenium.webdriver.support.ui import Select

    db = tmp_path / "review.sqlite"
    second = tmp_path / "addendum.txt"
    second.write_text(SECOND, encoding="utf-8")
    pT2 = NOTE.index("pT2")
    with review_server(tiny_model_dir, db) as url:
        # A note whose prediction came from elsewhere (e.g. cancerllm review load) is put under review by the API.
        httpx.post(f"{url}/review/notes", json={"note": {"id": "u1", "text": NOTE},
                                                "prediction": prediction().model_dump(mode="json")}).raise_for_status()
        _open(browser, url, "u1")
        _by(browser, "#reviewer").send_keys("alice")
        assert _statuses(browser) == ["unreviewed"] * 4
        # Fix the span of mention #1 ("pT2 N0" -> "pT2") by typing its new end offset.
        _by(browser, 'button[data-act="edit"][data-i="1"]').click()
        assert _by(browser, "#edit-preview").text == "pT2 N0"
        end = _by(browser, "#edit-end")
        end.clear()
        end.send_keys(str(pT2 + 3))
        assert _by(browser, "#edit-preview").text == "pT2"
        _click_and_save(browser, "#edit-save")
        _click_and_save(browser, 'button[data-act="reject"][data-i="2"]')
        _by(browser, "#accept-all").click()  # accepts the two still unreviewed, #0 and #3, one request each
        _wait(browser, lambda d: _statuses(d) == ["accepted", "edited", "rejected", "accepted"])
        Select(_by(browser, "#label-value-m_stage")).select_by_value("M0")
        _click_and_save(browser, 'button[data-label="m_stage"][data-act="edit"]')
        _click_and_save(browser, 'button[data-label="t_stage"][data-act="accept"]')
        assert _statuses(browser) == ["accepted", "edited", "rejected", "accepted"]
        # the highlight of the fixed mention now covers exactly "pT2"
        marks = browser.execute_script("return [...document.querySelectorAll('#note mark.m')].map("
                                       "(m) => [m.dataset.m, +m.dataset.start, +m.dataset.end, m.textContent])")
        assert [m[1:] for m in marks if "1" in m[0].split()] == [[pT2, pT2 + 3, "pT2"]]

        # A second note through the page: open the .txt, extract with the real (tiny) model, start its review ...
        browser.get(url + "/")
        _wait(browser, lambda d: d.find_element("css selector", "#review-status").text.startswith("review: on"))
        _by(browser, "#file").send_keys(str(second))
        _wait(browser, lambda d: d.find_element("css selector", "#note-input").get_attribute("value") == SECOND)
        _by(browser, "#run-extract").click()
        _wait(browser, lambda d: d.find_element("css selector", "#status").text.startswith("phenotype: "), 120)
        _wait(browser, lambda d: d.find_element("css selector", "#review-start").is_enabled())
        _by(browser, "#review-start").click()
        _wait(browser, lambda d: d.find_element("css selector", "#review-status").text.startswith("reviewing addendum"))
        n_model = len(_statuses(browser))
        # ... and add the mention the model missed from a selection of the note's text in the page.
        browser.execute_script("""
            const box = document.getElementById('note'), walk = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
            let node = walk.nextNode(), seen = '';
            while (node && !(seen + node.data).includes('lobular carcinoma')) { seen += node.data; node = walk.nextNode(); }
            const from = seen.length ? (seen + node.data).indexOf('lobular carcinoma') - seen.length
                                     : node.data.indexOf('lobular carcinoma');
            window.getSelection().setBaseAndExtent(node, from, node, from + 'lobular carcinoma'.length);""")
        _by(browser, "#reviewer").send_keys("bo")
        _by(browser, "#add-mention").click()
        assert _by(browser, "#edit-preview").text == "lobular carcinoma"
        Select(_by(browser, "#edit-type")).select_by_value("histology")
        _click_and_save(browser, "#edit-save")
        for i in range(n_model):  # whatever the random tiny model found is wrong
            _click_and_save(browser, f'button[data-act="reject"][data-i="{i}"]')

    # A new server on the same database file: the page shows the corrections again.
    with review_server(tiny_model_dir, db) as url:
        _open(browser, url, "u1")
        assert _statuses(browser) == ["accepted", "edited", "rejected", "accepted"]
        review = httpx.get(f"{url}/review/note", params={"id": "u1"}).json()
        assert review["mentions"][1]["current"]["text"] == "pT2" and review["mentions"][1]["current"]["end"] == pT2 + 3
        assert [c["reviewer"] for c in review["corrections"]] == ["alice"] * 6

    runner = CliRunner()
    gold = tmp_path / "corrected.jsonl"
    res = runner.invoke(app, ["review", "export", "--db", str(db), "--out", str(gold)])
    assert res.exit_code == 0, res.output
    notes = {n["id"]: n for n in map(json.loads, gold.read_text(encoding="utf-8").splitlines())}
    assert [m["text"] for m in notes["u1"]["mentions"]] == ["invasive ductal carcinoma", "pT2", "distant metastasis"]
    assert notes["u1"]["labels"]["m_stage"] == "M0"
    assert [(m["type"], m["text"]) for m in notes["addendum"]["mentions"]] == [("histology", "lobular carcinoma")]
    start = SECOND.index("lobular")
    assert notes["addendum"]["mentions"][0]["start"] == start  # code points, though two non-BMP characters precede

    out = tmp_path / "sft"
    res = runner.invoke(app, ["sft", "--config", "configs/sft/tiny.yaml", f"model.path={tiny_model_dir}",
                              f"data.train={gold}", f"out={out}", *SFT_ONE_STEP])
    assert res.exit_code == 0, res.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 1 and math.isfinite(metrics["train_loss_last"])
