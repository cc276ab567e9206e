"""What people read, made from grade reports (`report`) alone.

- `progress`: the progress bar or line per submission;
- `feedback`: one HTML page per student (nbgrader's feedback layout);
- `figures`: the self-contained pages and matplotlib PNGs they embed;
- `summary`: the class summary (`course report`: CSV and HTML);
- `exports`: Gradescope's results.json and JUnit XML;
- `gradebook`: reports into nbgrader's gradebook;
- `gradescope/`: the autograder zip Gradescope runs.

Modules are imported where used: `feedback` and `figures` load matplotlib,
which a plain `course grade` never needs. Nothing here imports `sandbox` or
`grading`.
"""
