"""Reference solutions, one module per assignment, generated from source/ by `course release`."""
