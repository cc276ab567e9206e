"""What people read, made from grade reports (`report`) alone, but for `similar`, which reads
the submitted notebooks' code (through `notebook`, never running it).

- `progress`: the progress bar or line per submission;
- `feedback`: one HTML page per student (nbgrader's feedback layout);
- `figures`: the matplotlib PNGs the pages embed (pages are `templates/`, filled by `templating`);
- `summary`: the class summary (`course report`: CSV and HTML);
- `exports`: Gradescope's results.json and JUnit XML;
- `gradebook`: reports into nbgrader's gradebook;
- `gradescope/`: the autograder zip Gradescope runs;
- `similar`: `course similar`, which students' solutions are suspiciously alike,
  from the notebooks' solution cells fingerprinted by `fingerprint`;
- `lms`: the gradebook CSV Canvas or Moodle imports, matched to their roster;
- `templating`: the pages' Jinja2 templates (`templates/`), autoescaped.

Modules are imported where used: `feedback` and `figures` load matplotlib,
which a plain `course grade` never needs. Nothing here imports `sandbox` or
`grading`.
"""
