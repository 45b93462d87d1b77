"""A connector's setup steps for the page at a connect link: the "## Setting up ..." section of
docs/connectors/<key>.md, rendered by a tiny Markdown subset (headings, paragraphs, lists,
`code`, **bold**, *italic*; a link keeps its text only). Every character is escaped before any
tag is added, so nothing in the file can put markup or script on the page."""

import re
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

DOCS = Path(settings.BASE_DIR) / "docs" / "connectors"
LIST_ITEM = re.compile(r"^\s*(?:[-*]|\d+\.)\s+")
INLINE = [
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),
    (re.compile(r"`([^`]+)`"), r"<code>\1</code>"),
    (re.compile(r"\*\*([^*]+)\*\*"), r"<strong>\1</strong>"),
    (re.compile(r"\*([^*]+)\*"), r"<em>\1</em>"),
]


def setup_section(text: str) -> str:
    """The body of the first "## Setting up" section, without its heading; "" when there is none."""
    match = re.search(r"^## Setting up[^\n]*\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
    return match.group(1).strip() if match else ""


def inline(text: str) -> str:
    html = escape(text)
    for pattern, replacement in INLINE:
        html = pattern.sub(replacement, html)
    return html


def render(markdown: str) -> SafeString:
    out = []
    for block in re.split(r"\n\s*\n", markdown.strip()):
        lines = block.splitlines()
        if not lines:
            continue
        if lines[0].startswith("#"):
            out.append(f"<h3>{inline(lines[0].lstrip('#').strip())}</h3>")
        elif LIST_ITEM.match(lines[0]):
            number = re.match(r"^\s*(\d+)\.", lines[0])
            tag = "ol" if number else "ul"
            start = f' start="{int(number.group(1))}"' if number and number.group(1) != "1" else ""
            items: list[str] = []
            for line in lines:
                if LIST_ITEM.match(line):
                    items.append(LIST_ITEM.sub("", line))
                elif items:
                    items[-1] += " " + line.strip()
            out.append(f"<{tag}{start}>" + "".join(f"<li>{inline(item)}</li>" for item in items) + f"</{tag}>")
        elif lines[0].lstrip().startswith("|"):
            out.append(f"<pre>{escape(block)}</pre>")
        else:
            out.append(f"<p>{inline(' '.join(line.strip() for line in lines))}</p>")
    return mark_safe("".join(out))  # built from escaped text only


@lru_cache(maxsize=32)
def setup_steps(connector_key: str) -> SafeString:
    """The connector's setup steps as HTML, "" when its doc or the section is missing."""
    path = DOCS / f"{connector_key}.md"
    if not re.fullmatch(r"[a-z0-9_]+", connector_key) or not path.is_file():
        return mark_safe("")
    return render(setup_section(path.read_text()))
