"""Deadlines and cancellation for one HTTP request's generation, without touching the inference code.

A :class:`Job` carries the request's deadline and a cancel flag (set on timeout or when the client disconnects).
:class:`CancellableModel` wraps the loaded model for that request only: every ``generate`` call first checks the
job, then runs with a stopping criterion that ends decoding at the next token once the job is cancelled, and
raises :class:`RequestCancelled` instead of returning cut generations. The Predictor is unchanged: it calls
``model.generate`` batch by batch, so a cancelled request stops within one decoding step and frees the worker.

Example:
    >>> job = Job.start(timeout_s=60)
    >>> job.stopped(), job.reason
    (False, '')
    >>> job.cancel("client disconnected"); job.stopped(), job.reason
    (True, 'client disconnected')
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from cancerllm.infer.generate import GenerationCancelled

__all__ = ["CancellableModel", "Job", "RequestCancelled"]


class RequestCancelled(GenerationCancelled):
    """Generation was stopped because the request timed out or its client went away (``reason`` says which)."""

    def __init__(self, reason: str):
        super().__init__(f"generation stopped: {reason}")
        self.reason = reason


@dataclass(eq=False)  # identity, not value, equality: jobs are kept in a set
class Job:
    """Deadline (``time.monotonic`` seconds) and cancel flag of one request; safe to share across threads."""

    deadline: float
    timeout_s: float
    reason: str = ""
    _flag: threading.Event = field(default_factory=threading.Event, repr=False)

    @classmethod
    def start(cls, timeout_s: float) -> Job:
        """A job whose deadline is ``timeout_s`` seconds from now."""
        return cls(deadline=time.monotonic() + timeout_s, timeout_s=timeout_s)

    def remaining(self) -> float:
        """Seconds left before the deadline (<= 0 once it passed)."""
        return self.deadline - time.monotonic()

    def cancel(self, reason: str) -> None:
        """Ask the generation to stop; the first reason given is kept."""
        if not self._flag.is_set():
            self.reason = reason
            self._flag.set()

    def stopped(self) -> bool:
        """True once cancelled or past the deadline (which cancels it with reason ``timeout``)."""
        if not self._flag.is_set() and self.remaining() <= 0:
            self.cancel("timeout")
        return self._flag.is_set()

    def check(self) -> None:
        """Raise :class:`RequestCancelled` if the job is stopped."""
        if self.stopped():
            raise RequestCancelled(self.reason)


def _stopping_criteria(job: Job) -> Any:
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class _StopWhenCancelled(StoppingCriteria):
        # Called by transformers after every decoding step: one bool per row; all True ends the generate call.
        def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
            return torch.full((input_ids.shape[0],), job.stopped(), device=input_ids.device, dtype=torch.bool)

    return StoppingCriteriaList([_StopWhenCancelled()])


class CancellableModel:
    """A per-request view of a causal LM whose ``generate`` honours ``job``; every other attribute is the model's.

    Args:
        model: the loaded model (PEFT-wrapped or plain), shared with other requests and never modified.
        job: this request's deadline and cancel flag.
    """

    def __init__(self, model: Any, job: Job):
        self._model, self._job = model, job

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        """``model.generate`` that raises :class:`RequestCancelled` before or after a cancelled call."""
        self._job.check()  # a later batch of a cancelled request never starts
        criteria = _stopping_criteria(self._job)
        if kwargs.get("stopping_criteria"):
            criteria.extend(kwargs.pop("stopping_criteria"))
        kwargs["stopping_criteria"] = criteria
        out = self._model.generate(*args, **kwargs)
        self._job.check()  # a call cut short returns truncated text: report the cancellation instead
        return out

    def generate_prompts(self, *args: Any, **kwargs: Any) -> Any:
        """An engine model's call (vLLM: ``infer.generate`` dispatches on ``engine_name``), checked before and after.

        vLLM decodes the whole call at once, so a cancelled request stops at the call's end, not mid-call."""
        self._job.check()
        out = self._model.generate_prompts(*args, **kwargs)
        self._job.check()
        return out
