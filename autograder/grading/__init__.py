"""From plain results to scores.

- `grade`: the runner: reads a submission, sends its exercises to a
  sandbox, judges each reply against the reference and torch, and builds a
  result in the shape of `report`;
- `reference`: the reference solutions and their expected values;
- `forbidden`: the static scan for forbidden torch calls;
- `submissions`: command-line paths to `(student, notebook)` pairs;
- `store`: finished grades kept on disk, so a stopped batch resumes;
- `cluster`: the same grading spread over a dask cluster;
- `shipped`: the self-check's release data (visible checks' expected values as JSON), and
  `course check` judged against it with no reference code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .store import Store, kit_digest

if TYPE_CHECKING:
    from .reference import Reference

__all__ = ["Reference", "Store", "kit_digest"]


def __getattr__(name: str):
    # `Reference` imports the checks, and so torch: only when asked for, so that importing a light
    # module of this package (`submissions`, `store`) costs no torch (`course grade` starts its
    # sandbox pool first)
    if name == "Reference":
        from .reference import Reference

        return Reference
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
