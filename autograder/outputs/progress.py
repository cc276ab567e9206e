"""How far a batch has got: tqdm's bar on a terminal, one plain line per submission elsewhere (CI logs)."""

from __future__ import annotations

from typing import TextIO

from tqdm import tqdm

from .. import utf8


def trouble(result: dict) -> bool:
    """A submission that could not be graded in full: unreadable, or an exercise that errored or timed out."""
    return bool(result["errors"]) or any(e["status"] in ("error", "timeout") for e in result["exercises"])


class Progress:
    """Call with each result as it finishes; `done()` at the end. Silent for a single submission."""

    def __init__(self, total: int, out: TextIO):
        self.total, self.out = total, out
        self.n = self.troubled = 0
        # a bar redraws itself with carriage returns: only where a person watches a terminal
        self.bar = None
        if total > 1 and out.isatty():
            self.bar = tqdm(total=total, file=out, unit="submission", dynamic_ncols=True)

    def __call__(self, result: dict) -> None:
        self.n += 1
        self.troubled += trouble(result)
        if self.total <= 1:
            return
        student = utf8.valid(result["student"])  # from a file name: it may not be UTF-8
        if self.bar is not None:
            self.bar.set_postfix_str(f"{student[:24]}, with problems: {self.troubled}", refresh=False)
            self.bar.update(1)
            return
        mark = "  (problems: see the report)" if trouble(result) else ""
        self.out.write(f"[{self.n}/{self.total}] {student}: {result['score']:g}/{result['max_score']:g}{mark}\n")
        self.out.flush()

    def done(self) -> None:
        if self.bar is not None:
            self.bar.close()
