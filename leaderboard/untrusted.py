"""Submitted strings (model names, paths, revisions, contacts, error messages that quote them) shown
in Markdown as the text they are: never as a heading, a link, an image or HTML.

Gradio's Markdown sanitizes scripts, but a name such as `[verified](https://evil.example)` or
`![](https://tracker.example/pixel)` would still render as a link or load an image.
"""

from __future__ import annotations

import html

MARKDOWN_SPECIAL = set("\\`*_{}[]()#+-.!|~:")  # ':' too: some renderers turn bare addresses into links


def as_text(value: object) -> str:
    """The value escaped for Markdown: HTML entities for <, > and &, a backslash before every character
    Markdown gives a meaning, and line breaks as spaces (a line break could start a block)."""
    flat = html.escape(" ".join(str(value).splitlines()), quote=False)  # < and > become entities
    return "".join(f"\\{c}" if c in MARKDOWN_SPECIAL else c for c in flat)
