"""The pool server: imports torch and the checks once, then forks a sandbox parent per request.

Started by `pool.Pool` as `python -I -m autograder.sandbox.server SOCKET_FD COURSE_ROOT MODULE...`;
a module of its own so that running it never re-imports the package that started it.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
from pathlib import Path

from .procs import reap_children


def course_at(course_root: str):
    """The course's settings, read once for the boot; None where they cannot be read (the
    sandbox's own start reports that course.toml, whose grader read it first, is wrong)."""
    from .. import config

    try:
        return config.load(Path(course_root))
    except config.ConfigError:
        return None


def imported_by(course, modules: list[str]) -> set[str] | None:
    """The top-level packages that the cells graded in a submission import (those of the
    released notebooks of `modules`, but their demo and test cells, which are not run unless
    changed), for `preload.preload`; None when that cannot be told (everything is preloaded)."""
    from .. import notebook

    if course is None:
        return None
    try:
        names = [a.name for a in course.assignments.values() if a.module in modules]
        if {course.assignments[n].module for n in names} != set(modules):
            return None
        found: set[str] = set()
        for name in names:
            # the raw JSON: nbformat's validation would cost the boot more than it saves
            nb = json.loads((course.root / "release" / name / f"{name}.ipynb").read_text())
            for cell in nb["cells"]:
                grader = cell.get("metadata", {}).get("nbgrader", {})
                tags = cell.get("metadata", {}).get("tags", [])
                if cell.get("cell_type") == "code" and not notebook.skippable(
                    grader.get("locked"), tags, grader.get("grade_id")
                ):
                    source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
                    found.update(_IMPORT.findall(source))
        return found
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


_IMPORT = re.compile(r"^\s*(?:import|from)\s+([A-Za-z_]\w*)", re.M)


def serve(sock: socket.socket, course_root: str, modules: list[str]) -> None:
    from ..checks import registry
    from .parent import parent
    from .preload import preload, sandbox_plan

    course = course_at(course_root)
    preload(imported_by(course, modules), list(course.forbidden.values()) if course else [])
    for module in modules:
        registry(module)
    plan = sandbox_plan(course_root)
    sock.sendall(b'{"kind": "ready"}\n')
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(sock, 1 << 16, 3)
        except OSError:
            return
        if not msg:
            return
        reap_children()  # sandbox parents the grader killed are our children
        request = json.loads(msg)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                sock.close()
                os.setsid()
                os.chdir(request["workdir"])
                os.environ.clear()
                os.environ.update(request["env"])
                parent(*fds, request["module"], plan, int(request["slot"]))
                code = 0
            finally:
                os._exit(code)
        for fd in fds:
            os.close(fd)
        sock.sendall(json.dumps({"pid": pid}).encode() + b"\n")


if __name__ == "__main__":
    serve(socket.socket(fileno=int(sys.argv[1])), sys.argv[2], sys.argv[3:])
