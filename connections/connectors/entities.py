"""The six unified entities (docs/entities.md), in the order syncs run them."""

ENTITIES = ("vendors", "locations", "assets", "inventory_items", "purchase_orders", "work_orders")


def entity_path(entity: str) -> str:
    """API paths are kebab-case: purchase_orders -> purchase-orders."""
    return entity.replace("_", "-")
