"""Writing results: the JSON grade report (atomically) and the console table."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TextIO

from .config import ConfigError

SHORT = {
    "passed": "ok",
    "partial": "part",
    "failed": "FAIL",
    "error": "ERR",
    "timeout": "TIME",
    "forbidden": "FORB",
    "missing": "MISS",
}


def write_atomically(path: Path, text: str) -> None:
    """Write `path` so that it holds either its old content or the whole new one, never half:
    a temporary file beside it, flushed to disk, then renamed over it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        # mkstemp makes the file private (0600); a report or a feedback page is meant to be read
        os.chmod(tmp, (os.stat(path).st_mode & 0o777) if path.exists() else 0o644)
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, results: list[dict]) -> None:
    write_atomically(path, json.dumps({"results": results}, indent=1))


def read_json(path: Path) -> list[dict]:
    """The results of a report `write_json` wrote; ConfigError naming the file when it is not one.
    What each result must hold is for the reader to check (`summary`, `gradebook`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a grade file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not JSON (not UTF-8 text)") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read ({e.strerror or e})") from None
    try:
        data = json.loads(text)
    except ValueError as e:
        raise ConfigError(f"{path}: not JSON ({e})") from None
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise ConfigError(f"{path}: no 'results' list (is this a `course grade --json` report?)")
    return data["results"]


def table(results: list[dict], out: TextIO, detail: bool = False) -> None:
    """One row per submission, one column per exercise: score and a short status."""
    if not results:
        print("no submissions", file=out)
        return
    ids = [e["id"] for e in results[0]["exercises"]]
    width = max(7, *(len(r["student"]) for r in results))
    cols = [max(len(i), 9) for i in ids]
    print(
        f"{results[0]['assignment']}  (devices: {', '.join(results[0]['devices'])}, seed {results[0].get('seed')})",
        file=out,
    )
    print(f"{'student':<{width}}  {'score':>11}  " + "  ".join(f"{i:>{w}}" for i, w in zip(ids, cols)), file=out)
    for r in results:
        cells = []
        for e, w in zip(r["exercises"], cols):
            cells.append(f"{e['score']:.3g}/{e['max_score']:g} {SHORT[e['status']]}".rjust(w))
        print(f"{r['student']:<{width}}  {r['score']:>5.4g}/{r['max_score']:<5g}  " + "  ".join(cells), file=out)
    for r in results:
        notes = list(r["errors"])
        if detail:
            for e in r["exercises"]:
                if e["status"] != "passed":
                    notes.append(f"{e['id']}: {e['status']}{' - ' + e['message'] if e['message'] else ''}")
                    notes += _failing(e["checks"])
        if notes:
            print(f"\n{r['student']}:", file=out)
            for n in notes:
                print(f"  {n}", file=out)


def _failing(checks: list[dict], most: int = 6) -> list[str]:
    """Failing checks, one line each; when they all failed the same way, one line for all."""
    bad = [c for c in checks if not c["passed"]]
    if len(bad) > 1 and len(bad) == len(checks) and len({c["message"] for c in bad}) == 1:
        return [f"  all {len(bad)} checks: {bad[0]['message']}"]
    lines = [f"  {c['name']} [{c['device']}]: {c['message']}" for c in bad[:most]]
    return lines + ([f"  ... and {len(bad) - most} more"] if len(bad) > most else [])
