from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from connections.connectors.schema.reference import entities_markdown
from connections.management.commands import entities_doc

PAGE = Path(__file__).resolve().parents[2] / "docs" / "entities.md"


def test_it_keeps_the_committed_page_as_generated_from_the_schema():
    assert PAGE.read_text() == entities_markdown(), "run `python manage.py entities_doc` and commit docs/entities.md"


def test_it_describes_every_entity_field_enum_and_rule():
    page = entities_markdown()
    for heading in ("## vendors", "## locations", "## assets", "## inventory_items", "## purchase_orders",
                    "## work_orders", "### PurchaseOrderLine", "### Address", "### StockLevel"):
        assert f"\n{heading}\n" in page
    assert "| `tax_amount` | decimal string or null |" in page
    assert "| `scheduled_start` | date-time with offset or null |" in page
    assert "one of `open`, `in_progress`, `on_hold`, `completed`, `cancelled` or null" in page
    assert "`upstream_status` keeps the upstream's own code" in page


def test_it_fails_the_check_when_the_page_is_out_of_date(tmp_path, monkeypatch):
    stale = tmp_path / "entities.md"
    stale.write_text("# Unified entities\n")
    monkeypatch.setattr(entities_doc, "PAGE", stale)
    with pytest.raises(CommandError, match="out of date"):
        call_command("entities_doc", "--check")
    call_command("entities_doc")
    call_command("entities_doc", "--check")
    assert stale.read_text() == entities_markdown()
