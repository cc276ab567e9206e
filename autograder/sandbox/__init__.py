"""The wall: everything that runs student code, and what builds it.

Grader's side (imported by `grading`):
- `box`: `Sandbox`, one submission's sandbox, and its `Job` / `ExerciseRun`;
- `pool`: `Pool`, the grader's handle on the warm pool server.

Far side (runs in processes forked for a submission, never in the grader):
- `server`: the pool server, which imports torch once and forks;
- `worker`: a submission's sandbox parent and its children, which confine
  themselves, run the cells and probes, and send back plain data (`wire`);
- `isolation`: namespaces, Landlock, the unprivileged user, limits;
- `tripwire`: catches calls to forbidden torch functions at run time;
- `procs`: process-tree cleanup (subreaper, kill).

Nothing here imports `grading` or `outputs`.
"""

from .box import ExerciseRun, Job, Sandbox, SandboxError, env
from .isolation import missing
from .pool import Pool, PoolError

__all__ = ["ExerciseRun", "Job", "Pool", "PoolError", "Sandbox", "SandboxError", "env", "missing"]
