"""Everything the site shows is text unless the site itself made it markup.

Pages are Jinja2 templates with autoescaping on, so a parameter value, column name or dataset
name holding ``<script>`` or quotes is shown as those characters. The few pieces of markup
built in Python (the SVG pictures, the rendered notebook) are assembled from escaped parts
and wrapped in :class:`markupsafe.Markup` only then. Data handed to the page's script travels
as JSON inside ``<script type="application/json">``, with ``<``, ``>`` and ``&`` written as
``\\u003c`` and so on, so it can never close the element it lives in.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any
from urllib.parse import quote

from markupsafe import Markup, escape

__all__ = ["Markup", "clean_html", "environment", "esc", "href", "json_script"]

# What an HTML output of a notebook cell may keep: text, tables (pandas), lists, images
# embedded as data. Scripts, styles, frames, forms and event handlers go.
_TAGS = frozenset(
    "a abbr b blockquote br caption code dd del details div dl dt em h1 h2 h3 h4 h5 h6 hr i "
    "img ins kbd li ol p pre q s samp small span strong sub summary sup table tbody td tfoot "
    "th thead tr u ul var".split()
)
_DROPPED_WITH_CONTENT = re.compile(
    r"<(script|style|template|noscript|iframe|object|embed)\b.*?</\1\s*>", re.S | re.I
)


def esc(value: Any) -> str:
    """``value`` as HTML text (and attribute value): ``&<>"'`` escaped."""
    return str(escape("" if value is None else str(value)))


def href(*segments: str) -> str:
    """A relative link from path segments, each percent-quoted (``/`` only between them)."""
    return "/".join(quote(s, safe="") if s not in ("..", ".") else s for s in segments)


_SCRIPT_SAFE = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def json_script(obj: Any) -> Markup:
    """``obj`` as JSON that is safe inside a ``<script type="application/json">`` element."""
    text = json.dumps(obj, sort_keys=True, default=str, allow_nan=False, separators=(",", ":"))
    return Markup(text.translate(_SCRIPT_SAFE))


@cache
def environment() -> Any:
    """The Jinja2 environment of the site's templates: autoescape on, undefined is an error.

    Cached per process: templates are immutable package data.
    """
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("nbtrail.site", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["json_script"] = json_script
    env.filters["href"] = lambda s: href(str(s))
    return env


def _allowed_attribute(tag: str, name: str, value: str) -> bool:
    if name in ("class", "title", "colspan", "rowspan", "align"):
        return True
    if tag == "img" and name in ("alt", "width", "height"):
        return True
    if tag == "img" and name == "src":
        return value.startswith("data:image/")
    if tag == "a" and name == "href":  # in-page or relative links only: nothing leaves the site
        return ":" not in value.split("/", 1)[0] and not value.startswith("//")
    return False


def clean_html(text: str) -> str:
    """An HTML fragment from a notebook output with only harmless markup left.

    Script, style and frame elements are dropped with their content; other unknown tags are
    shown as text (bleach escapes them); attributes are kept only from a short list, and
    links and images only when they stay inside the page (``data:image/`` images).
    """
    import bleach

    text = _DROPPED_WITH_CONTENT.sub("", text)
    cleaned: str = bleach.clean(
        text, tags=_TAGS, attributes=_allowed_attribute, protocols=["data"], strip=False
    )
    return cleaned
