"""Autograder for the lesson-9 course kit.

Data flows one way: notebook -> sandboxed execution -> plain results ->
scores -> reports.  `notebook` reads a submission, `sandbox` runs it in
other processes (`worker` is their side), `checks` say what to try and what
to expect, `grade` turns results into scores, `report` writes them.
"""
__version__ = "0.1.0"
