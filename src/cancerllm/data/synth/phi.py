"""Realistic fake PHI inserted into synthetic notes, with exact gold PHI spans (the de-identification gold set).

The generator (:func:`~cancerllm.data.synth.synthesize`) is left untouched: this module takes its notes and

* re-renders the generator's own placeholder identifiers (``Testperson, Alpha``, ``FAKE-0001234``) as realistic
  ones (``Garcia, Maria``, ``48291302``);
* inserts a header after the note's title line: patient name, DOB, MRN, accession, date of service, referring
  physician, phone, address, sometimes an SSN and an email;
* inserts a few body lines at line boundaries ("Discussed with her daughter Ana Garcia at (415) 555-0199.");
* sometimes turns the patient's age into one over 89 ("93-year-old": ages over 89 are PHI under HIPAA).

Every gold oncology mention keeps ``note.text[m.start:m.end] == m.text`` (spans shifted by the inserted text),
and ``note.phi`` lists the gold PHI spans as ``{"type", "start", "end", "text"}``. Types: NAME, DATE, MRN,
ACCESSION, SSN, PHONE, ADDRESS, EMAIL, AGE (the number only: ``93`` in ``93-year-old``). A title ("Dr. ", "Ms. ")
is never part of a NAME span. The same patient gets the same identity in every note (drawn from the patient id).

All values are invented; any match with a real person is chance.

Example:
    >>> notes = synth_phi_notes(3, seed=0)
    >>> all(n.text[m.start:m.end] == m.text for n in notes for m in n.mentions)
    True
    >>> all(n.text[p["start"]:p["end"]] == p["text"] for n in notes for p in n.phi)
    True
    >>> {"NAME", "DATE", "MRN", "PHONE", "ADDRESS"} <= {p["type"] for n in notes for p in n.phi}
    True
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import re
from dataclasses import dataclass

from cancerllm.data.schema import Note

__all__ = ["PHI_TYPES", "Identity", "add_phi", "format_date", "synth_phi_notes"]

PHI_TYPES = ("NAME", "DATE", "MRN", "ACCESSION", "SSN", "PHONE", "ADDRESS", "EMAIL", "AGE")

_SURNAMES = ("Garcia", "Smith", "Johnson", "Nguyen", "Okafor", "Kowalski", "Patel", "Rodriguez", "O'Brien",
             "Chen", "Williams", "Haddad", "Muller", "Rossi", "Brown", "Kim", "Martinez", "Anderson", "Cohen",
             "Thompson", "Dubois", "Yamamoto", "Novak", "Ibrahim", "Walsh", "Fischer", "Lopez", "Jackson",
             "Schneider", "Moreno", "Sullivan", "Ahmed", "Bianchi", "Harrison", "Lindqvist", "McAllister")
_GIVEN_F = ("Maria", "Linda", "Susan", "Aisha", "Mei", "Olga", "Grace", "Fatima", "Helen", "Rosa", "Ingrid",
            "Priya", "Eleanor", "Joan", "Yuki", "Beatriz", "Margaret", "Carmen")
_GIVEN_M = ("James", "Robert", "Ahmed", "Wei", "Carlos", "Thomas", "Jan", "Raj", "Michael", "Luis", "Henry",
            "Dmitri", "Samuel", "Kenji", "Patrick", "George", "Omar", "Walter")
_DOCTORS = ("Helen Park", "Ravi Shah", "Laura Bennett", "Miguel Ortega", "Sarah Goldberg", "David Okonkwo",
            "Emily Chu", "Andrew Kessler", "Nadia Rahman", "Peter Lindgren", "Julia Moretti", "Brian O'Neil")
_STREETS = ("Oak Street", "Maple Avenue", "Cedar Lane", "Hillcrest Road", "Washington Blvd", "Pine St",
            "Lakeview Drive", "Elm Court", "Sunset Boulevard", "Park Place", "River Road", "Chestnut Ave")
_CITIES = (("Springfield", "IL", "627"), ("Riverside", "CA", "925"), ("Fairview", "OR", "970"),
           ("Madison", "WI", "537"), ("Franklin", "TN", "370"), ("Georgetown", "TX", "786"),
           ("Salem", "MA", "019"), ("Clinton", "IA", "527"), ("Arlington", "VA", "222"), ("Dayton", "OH", "454"))
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")
_DATE_FORMATS = ("mdy", "mdy", "mdy", "mdy2", "iso", "long", "short", "dmy_mon")
_SYNTH_NAME = re.compile(r"^(?:(?P<title>Dr\. )(?P<doc>.+)|(?P<last>[A-Z][\w-]+), (?P<first>[A-Z][\w-]+)"
                         r"|(?P<sur>\S+))$")
_AGE = re.compile(r"\b(\d{1,2})-year-old\b")


def format_date(day: dt.date, style: str) -> str:
    """One date written in one of the styles found in notes.

    Example:
        >>> [format_date(dt.date(2021, 4, 2), s) for s in ("mdy", "mdy2", "iso", "long", "short", "dmy_mon")]
        ['04/02/2021', '4/2/21', '2021-04-02', 'April 2, 2021', 'Apr 2, 2021', '02-APR-2021']
    """
    if style == "mdy":
        return f"{day.month:02d}/{day.day:02d}/{day.year}"
    if style == "mdy2":
        return f"{day.month}/{day.day}/{day.year % 100:02d}"
    if style == "iso":
        return day.isoformat()
    if style == "long":
        return f"{_MONTHS[day.month - 1]} {day.day}, {day.year}"
    if style == "short":
        return f"{_MONTHS[day.month - 1][:3]} {day.day}, {day.year}"
    if style == "dmy_mon":
        return f"{day.day:02d}-{_MONTHS[day.month - 1][:3].upper()}-{day.year}"
    raise ValueError(f"date style: got {style!r}, expected one of {sorted(set(_DATE_FORMATS))}")


@dataclass(frozen=True)
class Identity:
    """One fake patient: the same in every note of that patient."""

    last: str
    first: str
    sex: str
    dob: dt.date
    mrn: str
    phone: str
    address: str
    email: str
    ssn: str
    relative: str
    old: bool
    """True: the patient's age is written as over 89 in the notes."""

    @classmethod
    def draw(cls, patient_id: str, seed: int) -> Identity:
        """The identity of ``patient_id`` (same seed and id, same identity)."""
        digest = hashlib.sha256(f"{seed}:{patient_id}".encode()).digest()
        rng = random.Random(int.from_bytes(digest[:8], "big"))
        sex = rng.choice("FM")
        first = rng.choice(_GIVEN_F if sex == "F" else _GIVEN_M)
        last = rng.choice(_SURNAMES)
        city, state, zip3 = rng.choice(_CITIES)
        address = f"{rng.randint(12, 9870)} {rng.choice(_STREETS)}, {city}, {state} {zip3}{rng.randint(10, 99)}"
        # A valid-looking SSN: area 001-665 or 667-899, group and serial never zero (pattern checkers reject those).
        area = rng.choice([a for a in range(101, 899) if a != 666])
        ssn = f"{area:03d}-{rng.randint(10, 99):02d}-{rng.randint(1000, 9999):04d}"
        relative = f"{rng.choice(_GIVEN_F + _GIVEN_M)} {last}"
        return cls(last=last, first=first, sex=sex, dob=dt.date(rng.randint(1926, 1975), rng.randint(1, 12),
                                                                  rng.randint(1, 28)),
                   mrn=str(rng.randint(10_000_000, 99_999_999)), phone=_phone(rng), address=address,
                   email=f"{first.lower()}.{last.lower().replace(chr(39), '')}{rng.randint(1, 99)}@example.com",
                   ssn=ssn, relative=relative, old=rng.random() < 0.15)


def _phone(rng: random.Random) -> str:
    # 555-01xx numbers are reserved for fiction; area codes are real-looking (2-9 first digit).
    area, line = rng.randint(201, 989), rng.randint(100, 199)
    return rng.choice((f"({area}) 555-0{line}", f"{area}-555-0{line}", f"{area}.555.0{line}"))


class _Builder:
    """Edits to one note, applied in one pass so mentions and PHI spans shift exactly."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.edits: list[tuple[int, int, list[tuple[str, str | None]]]] = []  # (start, end, [(text, phi type)])

    def replace(self, start: int, end: int, pieces: list[tuple[str, str | None]]) -> None:
        self.edits.append((start, end, pieces))

    def insert(self, pos: int, pieces: list[tuple[str, str | None]]) -> None:
        self.edits.append((pos, pos, pieces))

    def apply(self, note: Note) -> Note:
        out, phi, pos, delta = [], [], 0, 0
        shifts: list[tuple[int, int]] = []  # (original position, delta after it)
        for start, end, pieces in sorted(self.edits, key=lambda e: (e[0], e[1])):
            out.append(self.text[pos:start])
            at = start + delta
            for piece, kind in pieces:
                if kind:
                    phi.append({"type": kind, "start": at, "end": at + len(piece), "text": piece})
                at += len(piece)
            out.extend(p for p, _ in pieces)
            delta += sum(len(p) for p, _ in pieces) - (end - start)
            shifts.append((end, delta))
            pos = end
        out.append(self.text[pos:])
        text = "".join(out)
        mentions = []
        for m in note.mentions:
            # A mention never overlaps an edit (edits sit on PHI spans and line starts): shift by edits before it.
            if m.start is None:
                mentions.append(m)
                continue
            d = _delta_at(shifts, m.start)
            mentions.append(m.model_copy(update={"start": m.start + d, "end": m.end + d}))
        return note.model_copy(update={"text": text, "mentions": mentions,
                                       "phi": sorted(phi, key=lambda p: p["start"])})


def _delta_at(shifts: list[tuple[int, int]], pos: int) -> int:
    """Total length change of the edits that end at or before ``pos``."""
    d = 0
    for end, delta in shifts:
        if end <= pos:
            d = delta
    return d


def _date_of_service(rng: random.Random) -> dt.date:
    return dt.date(2016, 1, 1) + dt.timedelta(days=rng.randint(0, 9 * 365))


def _header(who: Identity, rng: random.Random, service: dt.date, note: Note) -> list[tuple[str, str | None]]:
    """The identifier block written under the title: labels vary as between hospitals."""
    style = rng.choice(_DATE_FORMATS)
    name = rng.choice((f"{who.last}, {who.first}", f"{who.last}, {who.first}", f"{who.first} {who.last}",
                       f"{who.last.upper()}, {who.first.upper()}"))
    p: list[tuple[str, str | None]] = [
        (rng.choice(("Patient: ", "Patient Name: ", "PATIENT: ", "Name: ")), None), (name, "NAME"),
        (rng.choice(("    MRN: ", "   MRN# ", "  Medical Record #: ")), None), (who.mrn, "MRN"),
        (rng.choice(("    DOB: ", "   Date of Birth: ")), None), (format_date(who.dob, style), "DATE"), ("\n", None)]
    if note.kind == "pathology" or rng.random() < 0.5:
        acc = f"{rng.choice('SCP')}{service.year % 100:02d}-{rng.randint(1000, 99999)}"
        p += [(rng.choice(("Accession #: ", "Accession No. ", "Case: ")), None), (acc, "ACCESSION"), ("    ", None)]
    p += [(rng.choice(("Date of Service: ", "Visit date: ", "Received: ")), None),
          (format_date(service, rng.choice(_DATE_FORMATS)), "DATE"), ("\n", None),
          (rng.choice(("Referring Physician: Dr. ", "Referring: Dr. ", "Attending: ")), None),
          (rng.choice(_DOCTORS), "NAME"), (rng.choice(("    Phone: ", "   Tel: ")), None), (who.phone, "PHONE"),
          ("\n", None), (rng.choice(("Address: ", "Home address: ")), None), (who.address, "ADDRESS"), ("\n", None)]
    if rng.random() < 0.3:
        p += [("SSN: ", None), (who.ssn, "SSN"), ("\n", None)]
    if rng.random() < 0.3:
        p += [(rng.choice(("Email: ", "Patient portal: ")), None), (who.email, "EMAIL"), ("\n", None)]
    return p


def _body_line(who: Identity, rng: random.Random, service: dt.date) -> list[tuple[str, str | None]]:
    """One PHI-bearing line for the body of a note (family contact, follow-up, outside records)."""
    her = "her" if who.sex == "F" else "his"
    title = "Ms." if who.sex == "F" else "Mr."
    later = service + dt.timedelta(days=rng.randint(7, 120))
    choice = rng.randrange(9)
    if choice == 5:  # a relative named between commas, given name only
        return [(f"{her.capitalize()} {rng.choice(('husband', 'wife', 'daughter', 'son'))}, ", None),
                (who.relative.split()[0], "NAME"), (", was present for the visit.\n", None)]
    if choice == 6:  # the patient named at the start of a sentence, no title
        return [(f"{who.first} {who.last}", "NAME"), (" returns after ", None),
                (f"{rng.choice(('her', 'his'))} scan on ", None),
                (format_date(service - dt.timedelta(days=rng.randint(3, 40)), rng.choice(_DATE_FORMATS)), "DATE"),
                (".\n", None)]
    if choice == 7:  # identifiers in free text: MR#, mobile number with spaces, "cc:" with a degree
        return [("Records faxed (MR# ", None), (who.mrn, "MRN"), ("); cc: ", None),
                (rng.choice(_DOCTORS), "NAME"), (", MD; patient mobile ", None),
                (who.phone.replace("-", " ").replace(".", " "), "PHONE"), (".\n", None)]
    if choice == 8:  # age written as "y/o" or "aged", over 89 only for the old patients
        age = str(rng.randint(90, 99)) if who.old else None
        if age is None:
            return [("Advance directive on file, dated ", None), (format_date(service, "long"), "DATE"), (".\n", None)]
        return [(rng.choice(("Pt is a ", "Very elderly, ")), None), (age, "AGE"),
                (rng.choice((" y/o.\n", " yo, lives alone.\n")), None)]
    if choice == 0:
        return [(f"Discussed with {her} {rng.choice(('daughter', 'son', 'spouse', 'sister'))} ", None),
                (who.relative, "NAME"), (" at ", None), (who.phone, "PHONE"), (".\n", None)]
    if choice == 1:
        return [(f"{title} ", None), (who.last, "NAME"), (" will return on ", None),
                (format_date(later, rng.choice(_DATE_FORMATS)), "DATE"), (" to see Dr. ", None),
                (rng.choice(_DOCTORS).split()[-1], "NAME"), (".\n", None)]
    if choice == 2:
        return [("Outside slides reviewed on ", None), (format_date(later, rng.choice(_DATE_FORMATS)), "DATE"),
                (", outside case ", None), (f"S{later.year % 100:02d}-{rng.randint(1000, 99999)}", "ACCESSION"),
                (".\n", None)]
    if choice == 3:
        return [("Copy to Dr. ", None), (rng.choice(_DOCTORS), "NAME"), (", fax ", None),
                (_phone(rng), "PHONE"), (".\n", None)]
    return [(f"{title} ", None), (who.last, "NAME"), (" was last seen on ", None),
            (format_date(service - dt.timedelta(days=rng.randint(20, 400)), rng.choice(_DATE_FORMATS)), "DATE"),
            (".\n", None)]


def _line_starts(note: Note) -> list[int]:
    """Line starts that lie outside every gold mention and PHI span (safe places to insert a line)."""
    busy = [(m.start, m.end) for m in note.mentions if m.start is not None]
    busy += [(p["start"], p["end"]) for p in (note.model_extra or {}).get("phi") or []]
    starts = [i + 1 for i, ch in enumerate(note.text) if ch == "\n" and i + 1 < len(note.text)]
    return [s for s in starts if not any(a < s < b for a, b in busy)]


def add_phi(note: Note, seed: int = 0, body_lines: int = 2) -> Note:
    """``note`` with realistic fake PHI (header, body lines, generator placeholders re-rendered) and gold spans.

    Args:
        note: a synthetic note (its ``phi`` field, when present, lists the generator's placeholder identifiers).
        seed: identities and insertions are drawn from ``seed``, the patient id and the note id.
        body_lines: PHI lines inserted into the body (at line starts outside mentions).

    Returns:
        A new note; ``mentions`` shifted (still exact), ``phi`` the gold PHI spans.
    """
    who = Identity.draw(note.patient_id or note.id, seed)
    rng = random.Random(int.from_bytes(hashlib.sha256(f"{seed}:{note.id}".encode()).digest()[:8], "big"))
    service = _date_of_service(rng)
    b = _Builder(note.text)
    # 1. The generator's placeholders become realistic values of the same patient.
    for p in (note.model_extra or {}).get("phi") or []:
        m = _SYNTH_NAME.match(p["text"]) if p["type"] == "name" else None
        if m and m.group("doc"):
            b.replace(p["start"], p["end"], [(m.group("title"), None), (rng.choice(_DOCTORS), "NAME")])
        elif m and m.group("last"):
            b.replace(p["start"], p["end"], [(f"{who.last}, {who.first}", "NAME")])
        elif m:
            b.replace(p["start"], p["end"], [(who.last, "NAME")])
        elif p["type"] == "mrn":
            b.replace(p["start"], p["end"], [(who.mrn, "MRN")])
        elif p["type"] == "date":
            day = _date_of_service(rng)
            b.replace(p["start"], p["end"], [(format_date(day, rng.choice(_DATE_FORMATS)), "DATE")])
    # 2. Ages over 89 are PHI; ages 89 and under are not (the detector must leave them alone).
    if who.old:
        for m in _AGE.finditer(note.text):
            b.replace(m.start(1), m.end(1), [(str(rng.randint(90, 99)), "AGE")])
            break
    # 3. Header under the title line, then a few body lines at safe line starts.
    first_nl = note.text.find("\n")
    b.insert(first_nl + 1 if first_nl >= 0 else 0, _header(who, rng, service, note))
    starts = _line_starts(note)[1:]
    for pos in sorted(rng.sample(starts, min(body_lines, len(starts)))):
        b.insert(pos, _body_line(who, rng, service))
    out = b.apply(note)
    out.check_spans()
    return out


def synth_phi_notes(n: int, seed: int, **synth_kwargs) -> list[Note]:
    """``n`` synthetic notes (``synthesize(n, seed)``) each with fake PHI added by :func:`add_phi`."""
    from cancerllm.data.synth import synthesize

    return [add_phi(note, seed) for note in synthesize(n, seed, **synth_kwargs)]
