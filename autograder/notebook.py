"""Reading notebooks: the cells the kit cares about and what they are for.

A cell's role comes from nbgrader's metadata and our `export`/`demo` tags
(docs/AUTHORING.md). For a submission, trust stops at the file: the roles of
locked cells are taken from the released notebook, never from the student's
copy, and a locked cell whose nbgrader checksum changed is reported.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from . import utf8

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


class NotebookError(Exception):
    """A file that is not a readable notebook of the assignment."""


@dataclass(frozen=True)
class Cell:
    index: int  # position among the notebook's cells
    source: str
    grade_id: str | None
    solution: bool
    locked: bool
    tags: tuple[str, ...]
    checksum: str | None  # nbgrader's checksum of the cell as it is now
    code: bool = True  # False only for locked markdown cells, kept to check them

    @property
    def label(self) -> str:
        return f"cell {self.index}" + (f" ({self.grade_id})" if self.grade_id else "")


@dataclass
class Notebook:
    path: Path
    cells: list[Cell]  # code cells (and locked markdown), in order

    def solutions(self) -> dict[str, Cell]:
        """Solution cells by grade_id; the first one wins when an id is repeated."""
        out: dict[str, Cell] = {}
        for c in self.cells:
            if c.solution and c.grade_id and c.grade_id not in out:
                out[c.grade_id] = c
        return out

    def by_grade_id(self) -> dict[str, Cell]:
        out: dict[str, Cell] = {}
        for c in self.cells:
            if c.grade_id:
                out.setdefault(c.grade_id, c)
        return out


def _nbformat():
    """nbformat, imported without jsonschema's IRI format checker.

    jsonschema imports rfc3987_syntax for its "iri" formats, which builds 39
    lark grammars at import: `python -c "import nbformat"` takes 1.57 s here,
    0.20 s without it. The notebook schema uses no IRI format, so validation
    is unchanged; jsonschema itself skips the checker when the import fails.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # None: `import` raises ImportError
    import nbformat

    return nbformat


def _compute_checksum():
    """nbgrader's own `compute_checksum` (nbgrader/utils.py), without nbgrader's package import.

    `import nbgrader.utils` first runs nbgrader/__init__.py, which imports its Jupyter server
    extensions (jupyter_server, tornado handlers, the exchange...): 1.6 s here, of which
    grading uses nothing. utils.py imports no other part of nbgrader, so it is loaded on its
    own from nbgrader's installed files (0.1 s), under a private name; the ordinary import is
    the fallback, and is used as is once something else has imported nbgrader.
    """
    global _checksum
    if _checksum is None:
        if "nbgrader.utils" in sys.modules:
            _checksum = sys.modules["nbgrader.utils"].compute_checksum
        else:
            try:
                _checksum = _load_nbgrader_utils().compute_checksum
            except Exception:  # another layout of nbgrader: its ordinary import
                from nbgrader.utils import compute_checksum

                _checksum = compute_checksum
    return _checksum


_checksum = None


def _load_nbgrader_utils():
    import importlib.util

    name = "_autograder_nbgrader_utils"
    if name in sys.modules:
        return sys.modules[name]
    package = importlib.util.find_spec("nbgrader")  # finds the package; runs none of it
    origin = Path(package.submodule_search_locations[0]) / "utils.py"
    spec = importlib.util.spec_from_file_location(name, origin)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def preload() -> None:
    """Import nbformat and nbgrader's checksum now rather than on the first read."""
    _nbformat()
    _compute_checksum()


def read(path: Path, max_mib: int = 64) -> Notebook:
    """Read and validate a notebook; NotebookError names the file and the problem."""
    nbformat = _nbformat()  # validation is nbformat's job

    path = Path(path)
    try:
        if path.stat().st_size > max_mib << 20:
            raise NotebookError(
                f"{path}: not graded: {path.stat().st_size >> 20} MiB is over the "
                f"{max_mib} MiB a notebook may take (clear its outputs)"
            )
        text = path.read_bytes().decode("utf-8")
    except OSError as e:
        raise NotebookError(f"{path}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise NotebookError(f"{path}: not a notebook (binary, not UTF-8 text)") from None
    if not text.strip():
        raise NotebookError(f"{path}: not a notebook (the file is empty)")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        raise NotebookError(
            f"{path}: not a notebook (invalid JSON at line {e.lineno}, column {e.colno}: {e.msg})"
        ) from None
    except RecursionError:
        raise NotebookError(f"{path}: not a notebook (JSON nested too deeply)") from None
    if not isinstance(raw, dict) or "cells" not in raw and "worksheets" not in raw:
        raise NotebookError(f"{path}: not a notebook (JSON without cells)")
    major = raw.get("nbformat")
    if major != 4:
        raise NotebookError(f"{path}: nbformat {major} is not supported; save it as nbformat 4 (Jupyter does)")
    try:
        nb = nbformat.reads(text, as_version=4)  # joins multi-line sources into strings
        # a "\\ud800" escape decodes to a lone surrogate, which neither ast (flags, forbidden) nor
        # any writer of the report can encode: U+FFFD instead (a released cell holds none)
        utf8.repair(nb)
        nbformat.validate(nb)
    except nbformat.ValidationError as e:
        where = "/".join(str(p) for p in e.absolute_path) or "top level"
        raise NotebookError(f"{path}: not a valid notebook at {where}: {e.message[:200]}") from None
    except Exception as e:  # nbformat's reader raises many kinds on odd input
        raise NotebookError(f"{path}: not a readable notebook: {type(e).__name__}: {str(e)[:200]}") from None
    compute_checksum = _compute_checksum()

    cells = []
    for i, c in enumerate(nb.cells):
        meta = c.metadata.get("nbgrader", {})
        try:
            digest = compute_checksum(c) if meta.get("grade_id") else None
        except (KeyError, TypeError, ValueError):
            digest = None  # malformed nbgrader metadata: it will not match the release
        if c.cell_type != "code":
            if meta.get("locked"):
                cells.append(Cell(i, "", meta.get("grade_id"), False, True, (), digest, code=False))
            continue
        cells.append(
            Cell(
                index=i,
                source=c.source,
                grade_id=meta.get("grade_id"),
                solution=bool(meta.get("solution")),
                locked=bool(meta.get("locked")),
                tags=tuple(c.metadata.get("tags", ())),
                checksum=digest,
            )
        )
    return Notebook(path, cells)


def skippable(locked: bool, tags, grade_id: str | None) -> bool:
    """A released demo or test cell: not needed to grade, so not run while unchanged."""
    return bool(locked) and ("demo" in tags or (grade_id or "").endswith("_tests"))


def strip_markers(source: str) -> str:
    """The reference code of a solution cell: nbgrader's markers removed."""
    return "\n".join(line for line in source.splitlines() if line.strip() not in (BEGIN, END)) + "\n"


_MAGIC = re.compile(r"^\s*[%!]")
# Cell magics whose body is plain Python that still has to run (and define things).
_PYTHON_CELL_MAGICS = ("%%time", "%%timeit", "%%capture")


def runnable(source: str) -> str:
    """Cell source as plain Python: IPython magics and shell lines become no-ops."""
    first, _, rest = source.lstrip().partition("\n")
    if first.startswith("%%"):
        if first.split()[0] not in _PYTHON_CELL_MAGICS:
            return "pass\n"  # %%bash, %%html, %%writefile...: not Python
        source = rest
    lines = source.splitlines()
    return "\n".join("pass  # " + line.strip() if _MAGIC.match(line) else line for line in lines) + "\n"
