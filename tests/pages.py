"""A page as the browser ends up showing it when some of its parts come right after it
(htmx `hx-get` with `hx-trigger="load..."`: the plan page's windows and tasks cards, its
readiness card and activity feed): the page with each such part's answer swapped in,
fetched by the same test client, as htmx would do it."""

from __future__ import annotations

import html
import re

# The opening tag of an element that loads its content once the page is in.
_LOADS = re.compile(r'<(div|tbody)\b[^>]*?\bhx-get="([^"]+)"[^>]*?\bhx-trigger="load\b[^"]*"[^>]*>')
_SWAP = re.compile(r'\bhx-swap="([a-zA-Z]+)')


def _element_end(page: str, start: int, tag: str) -> int:
    """Where the <tag> whose content starts at `start` closes (after its end tag)."""
    depth = 1
    for found in re.finditer(rf"<{tag}\b|</{tag}>", page[start:]):
        depth += -1 if found.group(0).startswith("</") else 1
        if depth == 0:
            return start + found.end()
    raise AssertionError(f"unclosed <{tag}> around a part the page loads")


def with_loaded_parts(client, page: str) -> str:
    """`page` with every part it loads swapped in (each answer must be 200)."""
    out, pos = [], 0
    for found in _LOADS.finditer(page):
        if found.start() < pos:
            continue  # inside a part already replaced
        url = html.unescape(found.group(2))
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        part = response.content.decode()
        tag = found.group(1)
        end = _element_end(page, found.end(), tag)
        swap = _SWAP.search(found.group(0))
        if swap and swap.group(1) == "outerHTML":
            out += [page[pos : found.start()], part]
        else:
            out += [page[pos : found.end()], part, f"</{tag}>"]
        pos = end
    out.append(page[pos:])
    return "".join(out)


def page_html(client, url: str, **params) -> str:
    """GET `url` (200) and return it with its loaded parts, as the browser shows it."""
    response = client.get(url, params or None)
    assert response.status_code == 200, (url, response.status_code)
    return with_loaded_parts(client, response.content.decode())
