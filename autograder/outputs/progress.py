"""How far a batch has got: a bar on a terminal, one plain line per submission elsewhere (CI logs)."""

from __future__ import annotations

from typing import TextIO


def trouble(result: dict) -> bool:
    """A submission that could not be graded in full: unreadable, or an exercise that errored or timed out."""
    return bool(result["errors"]) or any(e["status"] in ("error", "timeout") for e in result["exercises"])


class Progress:
    """Call with each result as it finishes; `done()` at the end. Silent for a single submission."""

    def __init__(self, total: int, out: TextIO, width: int = 30):
        self.total, self.out, self.width = total, out, width
        self.n = self.troubled = 0
        self.tty = out.isatty()

    def __call__(self, result: dict) -> None:
        self.n += 1
        self.troubled += trouble(result)
        if self.total <= 1:
            return
        if self.tty:
            filled = self.width * self.n // self.total
            bar = "#" * filled + "." * (self.width - filled)
            self.out.write(
                f"\r[{bar}] {self.n}/{self.total}  {result['student'][:24]:<24}  with problems: {self.troubled}"
            )
        else:
            mark = "  (problems: see the report)" if trouble(result) else ""
            self.out.write(
                f"[{self.n}/{self.total}] {result['student']}: {result['score']:g}/{result['max_score']:g}{mark}\n"
            )
        self.out.flush()

    def done(self) -> None:
        if self.tty and self.total > 1:
            self.out.write("\n")
            self.out.flush()
