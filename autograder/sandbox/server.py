"""The pool server: imports torch and the checks once, then forks a sandbox parent per request.

Started by `pool.Pool` as `python -I -m autograder.sandbox.server SOCKET_FD COURSE_ROOT MODULE...`;
a module of its own so that running it never re-imports the package that started it.
"""

from __future__ import annotations

import json
import os
import socket
import sys

from .procs import reap_children


def serve(sock: socket.socket, course_root: str, modules: list[str]) -> None:
    from ..checks import registry
    from . import worker

    worker.preload()
    for module in modules:
        registry(module)
    plan = worker.sandbox_plan(course_root)
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
                worker.parent(*fds, request["module"], plan, int(request["slot"]))
                code = 0
            finally:
                os._exit(code)
        for fd in fds:
            os.close(fd)
        sock.sendall(json.dumps({"pid": pid}).encode() + b"\n")


if __name__ == "__main__":
    serve(socket.socket(fileno=int(sys.argv[1])), sys.argv[2], sys.argv[3:])
