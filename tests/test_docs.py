"""docs/architecture.md stays true: the code points to it (not to a design file the repository
does not ship), its error table lists every catalogued code, and the paths it names exist."""

import re
from pathlib import Path

from core.errors import CATALOGUE

ROOT = Path(__file__).resolve().parents[1]
ARCHITECTURE = ROOT / "docs" / "architecture.md"
PRODUCT_FOLDERS = ("config", "core", "connections", "syncs", "webhooks", "dashboard", "benchmarks", "templates")
STALE_POINTERS = re.compile(r"DESIGN section|DESIGN\.md")
# A backticked token that names a file or folder: a relative path with a slash, or a file name
# with one of the repository's extensions (`syncs/engine.py`, `core/`, `manage.py`).
PATH_LIKE = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*/?$")
EXTENSIONS = (".py", ".md", ".html", ".toml", ".css", ".js", ".txt", ".cfg", ".json", ".yml", ".yaml")


def product_files() -> list[Path]:
    files = []
    for folder in PRODUCT_FOLDERS:
        files += [p for p in (ROOT / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    return files


def catalogue_table_codes(text: str) -> set[str]:
    """The codes in the first column of the table under "## The error catalogue"."""
    section = text.split("## The error catalogue", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\|\s*`([A-Z_]+)`\s*\|", section, re.MULTILINE))


def backticked_paths(text: str) -> set[str]:
    paths = set()
    for token in re.findall(r"`([^`\n]+)`", text):
        token = token.split("#", 1)[0]
        if not PATH_LIKE.match(token) or token.startswith("."):
            continue
        if "/" in token or token.endswith(EXTENSIONS):
            paths.add(token)
    return paths


def test_it_finds_no_pointer_to_a_design_file_the_repository_does_not_ship():
    files = product_files()
    assert len(files) > 100  # the walk found the product, not an empty folder
    stale = []
    for path in files:
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        stale += [f"{path.relative_to(ROOT)}:{number}" for number, line in enumerate(text.splitlines(), 1)
                  if STALE_POINTERS.search(line)]
    assert stale == []


def test_it_lists_every_catalogued_code_in_the_architecture_table():
    codes = catalogue_table_codes(ARCHITECTURE.read_text())
    assert sorted(set(CATALOGUE) - codes) == []
    assert sorted(codes - set(CATALOGUE)) == []


def test_it_lists_each_code_with_its_status_type_and_retryable():
    text = ARCHITECTURE.read_text()
    for code, spec in CATALOGUE.items():
        row = f"| `{code}` | {spec.status} | {spec.type} | {'yes' if spec.retryable else 'no'} |"
        assert row in text, row


def test_it_names_only_paths_that_exist():
    paths = backticked_paths(ARCHITECTURE.read_text())
    assert {"syncs/engine.py", "core/", "core/errors.py"} <= paths  # the extraction works
    assert sorted(p for p in paths if not (ROOT / p).exists()) == []


def test_it_recognises_paths_and_leaves_other_code_alone():
    sample = ("`syncs/engine.py` `core/` `manage.py` `docs/api.md#the-change-feed` `sync.completed` "
              "`/api/v1/syncs` `ctk_` `SYNC_STALLED` `webhooks.services` `core/api*.py`")
    assert backticked_paths(sample) == {"syncs/engine.py", "core/", "manage.py", "docs/api.md"}
