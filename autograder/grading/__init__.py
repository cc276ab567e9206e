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

from .reference import Reference
from .store import Store, kit_digest

__all__ = ["Reference", "Store", "kit_digest"]
