"""Student feedback: one self-contained HTML page per student and assignment.

The layout is nbgrader's (`feedback/<student>/<assignment>/<assignment>.html`),
so the page can be handed back the way nbgrader hands back its own. A page
shows the score per exercise and, for each check, what was tried (its name),
what was expected and what came back, and pictures where a check draws one
(schedules, recorded curves, validation averages), embedded as PNGs.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from .. import utf8
from ..report import write_atomically
from .figures import plt, png

LINES = {"yours": dict(color="#c62828", linewidth=2), "reference": dict(color="#1f4e9c", linestyle="--")}


def safe_name(name: str) -> str:
    """A student or assignment id as one path component: ids come from file and folder names."""
    clean = re.sub(r"[^A-Za-z0-9._@+-]", "_", name).lstrip(".")
    return clean[:100] or "_"


def path_for(out: Path, result: dict) -> Path:
    a = safe_name(result["assignment"])
    return Path(out) / safe_name(result["student"]) / a / f"{a}.html"


def write(results: list[dict], out: Path) -> list[Path]:
    """Writes every result's page (atomically); returns the paths, in order.

    Drawing is what costs: about 0.1 s a picture, 0.7 s for a 05_anneal page with 7 pictures
    (measured on this 2-core machine). Drawing pages in spawned processes was slower here
    (40 pages: 27 s in one process, 38 s with two), so pages are drawn one after another.
    """
    paths = []
    for result in results:
        path = path_for(out, result)
        write_atomically(path, render(result))
        paths.append(path)
    return paths


def render(result: dict) -> str:
    """The page (template `feedback.html.j2`): the score, the notebook's problems, a table of the
    exercises, then per exercise its checks and the pictures they draw. The result's text is made
    valid first (`utf8.repair`, in place): a student id from a file name may not be."""
    from .templating import render as fill

    utf8.repair(result)
    exercises = [
        {**e, "pictures": [(c, draw(c["plot"])) for c in e.get("checks", []) if c.get("plot")]}
        for e in result["exercises"]
    ]
    title = f"{result['assignment']}: feedback for {result['student']}"
    return fill("feedback.html.j2", title=title, result=result, exercises=exercises)


def draw(plot: dict) -> str:
    """The plot spec of `autograder.checks.plots`, drawn with matplotlib, as an embedded <img>."""
    panels = plot["panels"]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.2), squeeze=False)
    for ax, panel in zip(axes[0], panels, strict=True):
        if panel["kind"] == "bar":
            _bars(ax, panel)
        else:
            for s in panel["series"]:
                ax.plot(
                    s["x"],
                    [math.nan if v is None else v for v in s["y"]],
                    label=s["label"],
                    **LINES.get(s["label"], {}),
                )
            if panel["series"]:
                ax.legend()
            if not any(s["label"] == "yours" for s in panel["series"]):
                ax.text(
                    0.5, 0.02, "your code gave nothing to draw", transform=ax.transAxes, ha="center", color="#c62828"
                )
        ax.set_xlabel(panel.get("xlabel", ""))
        ax.set_ylabel(panel.get("ylabel", ""))
    fig.suptitle(plot.get("title", ""))
    fig.tight_layout()
    return png(fig)


def _bars(ax, panel: dict) -> None:
    for s in panel["series"]:
        heights = [0.0 if v is None else v for v in s["y"]]
        colors = [LINES["yours"]["color"], LINES["reference"]["color"]][: len(heights)]
        ax.bar(s["x"], heights, color=colors)
        for i, v in enumerate(s["y"]):
            ax.annotate("none" if v is None else f"{v:.4g}", (i, heights[i]), ha="center", va="bottom")
