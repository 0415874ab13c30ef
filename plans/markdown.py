"""Markdown for the plan's long texts, rendered safely.

Markdown may contain raw HTML, so its output goes through nh3 (the Rust
`ammonia` sanitiser) with a small allow-list: no script/style, no event
handler attributes, and links only to http(s)/mailto (no javascript:).
Rendering is a pure function of the text, so results are kept in a per-process
LRU cache: the activity feed is re-rendered every 10 s by each open page."""

from __future__ import annotations

from functools import lru_cache

import markdown as md
import nh3

_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "dl", "dt", "em", "h1", "h2",
    "h3", "h4", "h5", "h6", "hr", "i", "kbd", "li", "ol", "p", "pre", "s", "strong", "sub",
    "sup", "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "td": {"align"}, "th": {"align"}}
_SCHEMES = {"http", "https", "mailto"}
_EXTENSIONS = ["fenced_code", "tables", "sane_lists"]


@lru_cache(maxsize=4096)
def render_markdown(text: str) -> str:
    """Markdown to sanitised HTML (a plain str; mark it safe only after this)."""
    if not text:
        return ""
    html = md.markdown(text, extensions=_EXTENSIONS, output_format="html")
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes=_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )
