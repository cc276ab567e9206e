"""Self-contained HTML pages with matplotlib pictures embedded, so a page works offline.

Shared by the student feedback (`feedback`) and the instructor summary (`summary`).
Everything shown is escaped: student ids, messages and plot labels come from submissions.
"""

from __future__ import annotations

import base64
import html
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no screen on a grading machine
import matplotlib.pyplot as plt  # noqa: E402

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
.passed { color: #1a7f37; } .failed, .error, .timeout, .forbidden, .missing { color: #c62828; }
.partial { color: #b26a00; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; }
code, .msg { font-family: ui-monospace, monospace; font-size: .9em; white-space: pre-wrap; }
"""


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def png(fig) -> str:
    """The figure as an <img> whose source is the PNG itself (a data: URI); closes the figure."""
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    finally:
        plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="plot" src="data:image/png;base64,{data}">'


def page(title: str, body: str) -> str:
    """A whole HTML document: no script, no external resource."""
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head>\n"
        f"<body>\n<h1>{esc(title)}</h1>\n{body}\n</body></html>\n"
    )
