"""The review loop: people accept, reject or edit the model's mentions and labels; the corrections become gold
notes for the next ``cancerllm sft``.

* :mod:`.db` - the SQLite database (notes, predictions, reviewed state, audit trail; versioned migrations)
* :mod:`.corrections` - what a correction may say, and its checks (spans in code points, allowed sets)
* :mod:`.routes` - the ``/review`` API the server mounts with ``--review-db``
* :mod:`.export` - corrections -> gold Note JSONL, and model-vs-reviewer agreement per type
* :mod:`.cli` - ``cancerllm review load | export | agreement``

The page is the server's own review page (``serve/static/review.html``).
"""

from cancerllm.review.db import ReviewDB, migrate
from cancerllm.review.export import agreement, export_gold, gold_notes

__all__ = ["ReviewDB", "agreement", "export_gold", "gold_notes", "migrate"]
