"""Pages from Jinja2 templates (`templates/`), escaped by default.

Everything a page shows that came from a submission (student ids, messages, code) is escaped
by Jinja2's autoescape, never by hand; markup the kit builds itself (an embedded PNG) is passed
as `markupsafe.Markup`. A page is one file: its style is inlined by `base.html.j2`, it loads
nothing and runs no script.
"""

from __future__ import annotations

import functools
from typing import Any

import jinja2


@functools.cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("autograder.outputs", "templates"),
        autoescape=True,  # every file, whatever its name ends with
        undefined=jinja2.StrictUndefined,  # a misspelt name fails loudly, not as an empty cell
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(template: str, **context: Any) -> str:
    """The template filled in with `context`."""
    return environment().get_template(template).render(**context)
