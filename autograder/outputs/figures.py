"""Matplotlib pictures embedded in self-contained HTML pages, so a page works offline.

Shared by the student feedback (`feedback`) and the instructor summary (`summary`), whose
pages are templates (`templating`): everything shown is escaped there, since student ids,
messages and plot labels come from submissions.
"""

from __future__ import annotations

import base64
import io

import matplotlib
from markupsafe import Markup

matplotlib.use("Agg")  # no screen on a grading machine
import matplotlib.pyplot as plt  # noqa: E402


def png(fig) -> str:
    """The figure as an <img> whose source is the PNG itself (a data: URI); closes the figure."""
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    finally:
        plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return Markup(f'<img alt="plot" src="data:image/png;base64,{data}">')  # markup the kit made: not escaped
