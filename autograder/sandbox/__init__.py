"""The wall: everything that runs student code, and what builds it.

Grader's side (imported by `grading`):
- `box`: `Sandbox`, one submission's sandbox, and its `Job` / `ExerciseRun`;
- `pool`: `Pool`, the grader's handle on the warm pool server.

Far side (runs in processes forked for a submission, never in the grader):
- `server`: the pool server, which imports torch once (`preload`) and forks
  a sandbox `parent` per submission, which never runs student code;
- `cells`: the submission's cells' process, which confines itself and builds
  everything it will use once student code has run, then runs the cells;
- `exercises`: all that runs after the first student line: the cells' loop,
  one process per exercise, its probes, plain data back (`wire`);
- `bound`: what that code calls, bound before any student code ran;
- `isolation`, `seccomp`, `limits`: namespaces and Landlock, one thread,
  rlimits (the one home of the memory policy);
- `tripwire`: catches forbidden torch computations at run time;
- `seal`: the kit as it was before any student code, and out of its sight;
- `procs`: process-tree cleanup (subreaper, kill).

Nothing here imports `grading` or `outputs`.
"""

from .box import ExerciseRun, Job, Sandbox, SandboxError, env
from .isolation import missing
from .pool import Pool, PoolError

__all__ = ["ExerciseRun", "Job", "Pool", "PoolError", "Sandbox", "SandboxError", "env", "missing"]
