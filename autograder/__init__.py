"""Autograder for the lesson-9 course kit.

Data flows one way, and the folders are its stages::

    notebook ──► sandbox/ ──wire──► grading/ ──report──► outputs/
    (read)       student's side      scores             pages, exports
                 of the wall

- `notebook`   reads a submission (nbformat) and finds its cells by grade_id.
- `sandbox/`   everything that runs student code, and what builds the wall
               around it. The grader holds a `Sandbox` (`box`) that asks the
               pool server (`pool`) for forked processes; on the far side
               a `parent` forks the `cells`' process, which confines itself
               (`isolation`, `seccomp`, `limits`), runs the cells, and forks
               one process per exercise (`exercises`) whose probes run under
               the `tripwire`; `procs` cleans up after them.
               It never imports `grading` or `outputs`.
- `wire`       the contract from sandbox to grader: the only values that may
               cross back (plain arrays, numbers, strings), never a pickle.
- `checks/`    what to try and what to expect, per assignment; `oracle` is
               torch's own implementation that checks compare against.
- `grading/`   turns plain results into scores: `grade` (the runner),
               `reference` (the solutions), `forbidden` (static scan),
               `submissions` (paths to students), `store` (resumable
               batches), `cluster` (dask), `shipped` (the self-check's
               expected values, shipped as JSON with the release).
- `report`     the contract from grader to outputs: the grade report's
               shape, one validator, atomic writes.
- `outputs/`   what people read: `progress`, `feedback` pages, `figures`,
               the class `summary`, `exports` (Gradescope, JUnit), `lms`
               (Canvas and Moodle gradebook CSV), nbgrader's `gradebook`,
               the `gradescope` autograder zip, nbgrader's `autograded/`
               notebooks (`autograded`); pages are Jinja2 `templates/`
               (`templating`). It reads reports only, never `sandbox` or
               `grading`; `similar` (with `fingerprint`) alone reads the
               notebooks themselves, through `notebook`, never running them.
- `utf8`       text every writer can encode: the wire, `notebook` and
               `report` repair lone surrogates where text comes in.
- `config` (course.toml), `release` (nbgrader's generate_assignment),
  `mutants` (known-wrong code for the tests), `mutate` (automatic
  mutants by syntax-tree operators), `selftest` (`course selftest`: the
  checks on known code in one process), `package` (the student
  package: the checker without the answers), `exchange` (nbgrader's
  exchange, read and written with nbgrader's own code), `watch` (`course
  watch`: grade what students hand in, as it arrives) and `cli` (nothing
  imports it) sit on top.
"""

from pathlib import Path

__version__ = "0.1.0"

# The installed kit, wherever pip put it: every sandbox is denied reading it
# (hidden checks, the reference) and `grading.store` hashes all of it.
KIT_DIR = Path(__file__).resolve().parent
