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


def _blocks(markdown: str) -> list[list[str]]:
    """Blocks split at blank lines, and where a list starts right under a paragraph's last line."""
    blocks = []
    for block in re.split(r"\n\s*\n", markdown.strip()):
        current: list[str] = []
        for line in block.splitlines():
            if current and LIST_ITEM.match(line) and not LIST_ITEM.match(current[0]):
                blocks.append(current)
                current = []
            current.append(line)
        blocks.append(current)
    return blocks


def _items(lines: list[str]) -> list[tuple[str, list[str]]]:
    """A list's items, each with the indented items under it (one level), continuation lines joined."""
    items: list[tuple[str, list[str]]] = []
    for line in lines:
        if LIST_ITEM.match(line):
            if line[:1].isspace() and items:
                items[-1][1].append(LIST_ITEM.sub("", line))
            else:
                items.append((LIST_ITEM.sub("", line), []))
        elif items:
            text, subs = items[-1]
            if subs:
                subs[-1] += " " + line.strip()
            else:
                items[-1] = (text + " " + line.strip(), subs)
    return items


def _item(text: str, subs: list[str]) -> str:
    nested = "<ul>" + "".join(f"<li>{inline(sub)}</li>" for sub in subs) + "</ul>" if subs else ""
    return f"<li>{inline(text)}{nested}</li>"


def render(markdown: str) -> SafeString:
    out = []
    for lines in _blocks(markdown):
        block = "\n".join(lines)
        if not lines:
            continue
        if lines[0].startswith("#"):
            out.append(f"<h3>{inline(lines[0].lstrip('#').strip())}</h3>")
        elif LIST_ITEM.match(lines[0]):
            number = re.match(r"^\s*(\d+)\.", lines[0])
            tag = "ol" if number else "ul"
            start = f' start="{int(number.group(1))}"' if number and number.group(1) != "1" else ""
            out.append(f"<{tag}{start}>" + "".join(_item(text, subs) for text, subs in _items(lines)) + f"</{tag}>")
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
