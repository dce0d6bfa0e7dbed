"""Surrogates: what a detected identifier becomes.

* Dates are *shifted*, not removed: every date of one patient moves back by the same number of days (1 to
  ``max_shift_days``), drawn from a keyed hash of the secret and the patient id, and is written back in its own
  format ("04/02/2021" -> "01/15/2021", "April 2, 2021" -> "January 15, 2021"). Intervals between one patient's
  dates (diagnosis to surgery, cycles, follow-up) are kept; two patients get unrelated shifts. A date that cannot
  be read (an unknown format, "02/30/2021") becomes ``[DATE]``.
* A date 90 or more years before the note's latest date (a birth date telling an age over 89) becomes ``[DATE]``.
* Everything else becomes a typed tag: ``[NAME]``, ``[MRN]``, ``[ACCESSION]``, ``[SSN]``, ``[PHONE]``,
  ``[ADDRESS]``, ``[EMAIL]`` and ``[AGE>89]`` (HIPAA Safe Harbor folds ages over 89 into one class).
  Tags rather than fake values: a reader (and a model trained on the text) can see where text was removed, a
  missed identifier next to a tag is easy to find in review, and no invented name can be mistaken for a real one.

Example:
    >>> import datetime as dt
    >>> shift_date("04/02/2021", -77), shift_date("April 2, 2021", -77), shift_date("2021-04-02", -77)
    ('01/15/2021', 'January 15, 2021', '2021-01-15')
    >>> shift_date("4/2/21", -77), shift_date("02-APR-2021", -77), shift_date("March 2020", -40)
    ('1/15/21', '15-JAN-2021', 'February 2020')
    >>> shift_date("Apr. 2nd, 2021", -1), shift_date("Sept 3, 2020", -77)
    ('Apr. 1st, 2021', 'Jun 18, 2020')
    >>> shift_date("03/2020", -40), shift_date("02/30/2021", -3) is None
    ('02/2020', True)
    >>> day_shift(b"secret", "PT-1") == day_shift(b"secret", "PT-1"), -365 <= day_shift(b"secret", "PT-1") <= -1
    (True, True)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re

__all__ = ["TAGS", "day_shift", "shift_date", "surrogate", "year_of"]

TAGS = {"NAME": "[NAME]", "MRN": "[MRN]", "ACCESSION": "[ACCESSION]", "SSN": "[SSN]", "PHONE": "[PHONE]",
        "ADDRESS": "[ADDRESS]", "EMAIL": "[EMAIL]", "AGE": "[AGE>89]", "DATE": "[DATE]"}

_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december")
_NUMERIC = re.compile(r"^(?P<a>\d{1,4})(?P<s>[/.-])(?P<b>\d{1,4})(?:(?P=s)(?P<c>\d{2,4}))?$")
_WORDY = re.compile(r"^(?:(?P<d1>\d{1,2})[ -])?(?P<mon>[A-Za-z]{3,9})(?P<dot>\.?)(?P<sp1>[ ,-]*)(?:(?P<d2>\d{1,2})"
                    r"(?P<ord>st|nd|rd|th)?(?P<sp2>,? ))?(?P<y>\d{4})$")


def day_shift(key: bytes, patient: str, max_days: int = 365) -> int:
    """The patient's date shift in days: in ``[-max_days, -1]``, a keyed hash of ``patient`` (HMAC-SHA256)."""
    digest = hmac.new(key, patient.encode("utf-8"), hashlib.sha256).digest()
    return -(1 + int.from_bytes(digest[:8], "big") % max_days)


def _month(word: str) -> int | None:
    w = word.lower()
    for i, name in enumerate(_MONTHS, start=1):
        if w == name or (len(w) >= 3 and name.startswith(w)) or (w == "sept" and i == 9):
            return i
    return None


def _year(text: str) -> int:
    y = int(text)
    # Two-digit years: 00-30 read as 20xx, the rest as 19xx (notes of living patients; DOBs in the 1930s-90s).
    return y if len(text) == 4 else (2000 + y if y <= 30 else 1900 + y)


def _with_case(word: str, like: str) -> str:
    """``word`` written in the letter case of ``like`` ("APR" -> "JAN", "Apr" -> "Jan")."""
    if like.isupper():
        return word.upper()
    return word.capitalize() if like[:1].isupper() else word.lower()


def _shift_numeric(m: re.Match, days: int) -> str | None:
    a, sep, b, c = m.group("a"), m.group("s"), m.group("b"), m.group("c")
    if c is None:  # month/year only ("03/2020"): the month moves as its 15th would
        if len(b) != 4 or len(a) > 2:
            return None  # "3/10" is a ratio as often as a date: it becomes [DATE] when presidio calls it one
        day = dt.date(_year(b), int(a), 15) + dt.timedelta(days=days)
        return f"{day.month:0{len(a)}d}{sep}{day.year:0{len(b)}d}"
    if len(b) > 2:
        return None
    if len(a) == 4:  # ISO order: yyyy-mm-dd
        day = dt.date(int(a), int(b), int(c)) + dt.timedelta(days=days)
        return f"{day.year:04d}{sep}{day.month:0{len(b)}d}{sep}{day.day:0{len(c)}d}"
    # US order month/day/year (dd.mm.yyyy when the separator is a dot, as written in Europe).
    month, dom = (int(b), int(a)) if sep == "." else (int(a), int(b))
    day = dt.date(_year(c), month, dom) + dt.timedelta(days=days)
    year = f"{day.year:04d}" if len(c) == 4 else f"{day.year % 100:02d}"
    first, second = (day.day, day.month) if sep == "." else (day.month, day.day)
    return f"{first:0{len(a)}d}{sep}{second:0{len(b)}d}{sep}{year}"


def _ordinal(n: int) -> str:
    return "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def _shift_wordy(m: re.Match, days: int) -> str | None:
    month = _month(m.group("mon"))
    dom_text = m.group("d1") or m.group("d2")
    if month is None:
        return None
    day = dt.date(int(m.group("y")), month, int(dom_text) if dom_text else 15) + dt.timedelta(days=days)
    mon = m.group("mon")
    full = _MONTHS[day.month - 1]
    # Full month names stay full, abbreviations ("Apr", "Sept", "APR") become three-letter ones.
    name = _with_case(full if mon.lower() in _MONTHS else full[:3], mon) + m.group("dot")
    if m.group("d1"):  # "02-APR-2021", "2 April 2021": day, separator, month, separator, year
        d1, whole = m.group("d1"), m.group(0)
        sep1 = whole[len(d1)]
        sep2 = whole[m.end("dot") - m.start(0):m.start("y") - m.start(0)]
        return f"{day.day:0{len(d1)}d}{sep1}{name}{sep2}{day.year}"
    if m.group("d2"):
        suffix = _ordinal(day.day) if m.group("ord") else ""
        return f"{name}{m.group('sp1')}{day.day}{suffix}{m.group('sp2')}{day.year}"
    return f"{name}{m.group('sp1')}{day.year}"


def shift_date(text: str, days: int) -> str | None:
    """``text`` (one date) moved by ``days`` in its own format, or None when it cannot be read as a date."""
    t = text.strip()
    try:
        m = _NUMERIC.match(t)
        if m:
            return _shift_numeric(m, days)
        m = _WORDY.match(t)
        if m:
            return _shift_wordy(m, days)
    except ValueError:  # month 13, February 30: not a real date
        return None
    return None


def year_of(text: str) -> int | None:
    """The year a detected date names ("03/14/1931" -> 1931, "4/2/21" -> 2021), or None when it names none.

    >>> year_of("03/14/1931"), year_of("4/2/21"), year_of("April 2, 2021"), year_of("3/10")
    (1931, 2021, 2021, None)
    """
    t = text.strip()
    m = re.search(r"(?<!\d)(1[89]\d\d|20\d\d)(?!\d)", t)
    if m:
        return int(m.group(1))
    m = _NUMERIC.match(t)
    if m and m.group("c") and len(m.group("c")) == 2:
        return _year(m.group("c"))
    return None


def surrogate(phi_type: str, text: str, days: int, oldest_year: int | None = None) -> str:
    """The replacement for one identifier: a shifted date, else the type's tag.

    A date of a year before ``oldest_year`` is not shifted but tagged: a birth date 90 or more years before the
    note's own dates tells an age over 89, which Safe Harbor removes with the year ("DOB: 03/14/1925" -> "[DATE]").
    """
    if phi_type == "DATE":
        year = year_of(text)
        if oldest_year is not None and year is not None and year < oldest_year:
            return TAGS["DATE"]
        return shift_date(text, days) or TAGS["DATE"]
    return TAGS.get(phi_type, f"[{phi_type}]")
