"""An HTML inspector for the XSS tests: finds script, handlers and javascript: URLs."""

from __future__ import annotations

import re
from html.parser import HTMLParser

URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "srcdoc"}
# Whitespace and control characters a browser ignores inside a URL scheme.
_URL_NOISE = re.compile(r"[\x00-\x20\x7f]+")


class _Inspector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self._check(tag, attrs)
        if tag == "script":
            self._in_script = True
            if not dict(attrs).get("src"):
                self.problems.append("an inline <script> element")

    def handle_startendtag(self, tag, attrs):
        self._check(tag, attrs)

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.problems.append(f"script content {data.strip()[:60]!r}")

    def _check(self, tag, attrs):
        if tag in {"iframe", "object", "embed", "base", "frame"}:
            self.problems.append(f"a <{tag}> element")
        for name, value in attrs:
            name = name.lower()
            if name.startswith("on") or name.startswith("hx-on") or name.startswith("data-hx-on"):
                self.problems.append(f"<{tag} {name}={value!r}>: an event handler attribute")
            if name in URL_ATTRIBUTES and value:
                scheme = _URL_NOISE.sub("", value).lower()
                if scheme.startswith(("javascript:", "vbscript:", "data:text/html")):
                    self.problems.append(f"<{tag} {name}={value!r}>: a script URL")
            if name == "style" and value and "expression(" in value.lower():
                self.problems.append(f"<{tag} style={value!r}>")


def html_problems(html: str) -> list[str]:
    """What in `html` would run script: inline <script>, on* attributes, javascript: URLs,
    frames. Our templates have none of these (a CSP forbids them), so any is injected."""
    inspector = _Inspector()
    inspector.feed(html)
    inspector.close()
    problems = inspector.problems
    lowered = html.lower()
    for raw in ("<script>alert", "<img src=x onerror", "<iframe"):
        if raw in lowered:
            problems.append(f"raw {raw!r} in the text")
    return problems
