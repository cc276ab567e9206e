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

from ..report import write_atomically
from .figures import esc, page, plt, png

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
    title = f"{result['assignment']}: feedback for {result['student']}"
    parts = [
        f'<p class="total">Score: <b>{result["score"]:.4g} / {result["max_score"]:g}</b> '
        f"&middot; checked on {esc(', '.join(result.get('devices', [])))}"
        + (f" &middot; seed {esc(result['seed'])}" if result.get("seed") is not None else "")
        + "</p>"
    ]
    if result.get("errors"):
        parts.append(
            "<h2>Problems with the notebook</h2><ul>"
            + "".join(f'<li class="msg">{esc(e)}</li>' for e in result["errors"])
            + "</ul>"
        )
    parts.append(_summary(result["exercises"]))
    parts += [_exercise(e) for e in result["exercises"]]
    return page(title, "\n".join(parts))


def _summary(exercises: list[dict]) -> str:
    rows = "".join(
        f'<tr><td><a href="#ex-{esc(e["id"])}">{esc(e["id"])}</a></td>'
        f'<td class="num">{e["score"]:.3g} / {e["max_score"]:g}</td>'
        f'<td class="{esc(e["status"])}">{esc(e["status"])}</td><td class="msg">{esc(e.get("message", ""))}</td></tr>'
        for e in exercises
    )
    return f'<table class="summary"><tr><th>exercise</th><th>points</th><th>status</th><th>why</th></tr>{rows}</table>'


def _exercise(e: dict) -> str:
    head = (
        f'<section class="exercise" id="ex-{esc(e["id"])}"><h2>{esc(e["id"])} &mdash; '
        f'<span class="{esc(e["status"])}">{esc(e["status"])}</span>, {e["score"]:.3g} / {e["max_score"]:g}</h2>'
    )
    if e.get("message"):
        head += f'<p class="msg">{esc(e["message"])}</p>'
    rows = "".join(
        f"<tr><td>{esc(c['name'])}</td><td>{esc(c['device'])}</td>"
        f'<td class="{"passed" if c["passed"] else "failed"}">{"passed" if c["passed"] else "failed"}</td>'
        f"<td>{esc(c.get('expected', ''))}</td><td>{esc(c.get('got', ''))}</td>"
        f'<td class="msg">{esc(c.get("message", ""))}</td></tr>'
        for c in e.get("checks", [])
    )
    table = (
        (
            '<table class="checks"><tr><th>what was tried</th><th>device</th><th>result</th>'
            f"<th>expected</th><th>came back</th><th>difference</th></tr>{rows}</table>"
        )
        if rows
        else ""
    )
    pictures = "".join(
        f"<figure>{draw(c['plot'])}<figcaption>{esc(c['name'])} [{esc(c['device'])}]</figcaption></figure>"
        for c in e.get("checks", [])
        if c.get("plot")
    )
    return head + table + pictures + "</section>"


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
