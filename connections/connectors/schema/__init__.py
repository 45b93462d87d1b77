"""The unified entities as typed models: one definition for the engine, the API and the docs.

See docs/entities.md (generated from this package by `python manage.py entities_doc`).
"""

from connections.connectors.schema.entities import (
                                                    ENTITY_MODELS,
                                                    Address,
                                                    Asset,
                                                    InventoryItem,
                                                    ItemRef,
                                                    Location,
                                                    Organization,
                                                    Parent,
                                                    PurchaseOrder,
                                                    PurchaseOrderLine,
                                                    Ref,
                                                    StockLevel,
                                                    UnifiedRecord,
                                                    Vendor,
                                                    WorkOrder,
)
from connections.connectors.schema.validation import RecordInvalid, record_validate

__all__ = ["ENTITY_MODELS", "Address", "Asset", "InventoryItem", "ItemRef", "Location", "Organization", "Parent",
           "PurchaseOrder", "PurchaseOrderLine", "RecordInvalid", "Ref", "StockLevel", "UnifiedRecord", "Vendor",
           "WorkOrder", "record_validate"]
