"""The six unified entities: what a connector's normalize() returns and what the store holds.

docs/entities.md is generated from these models (`python manage.py entities_doc`), the API's
record schemas derive from them (syncs/api.py), and the engine refuses a record that does not
fit them (syncs/writers.py).
"""

from typing import Any

from pydantic import Field

from connections.connectors.schema.fields import (
    ActiveStatus,
    AssetStatus,
    Country,
    Currency,
    DecimalString,
    IsoDate,
    OffsetDatetime,
    PurchaseOrderLineStatus,
    PurchaseOrderStatus,
    Unified,
    WorkOrderPriority,
    WorkOrderStatus,
    WorkOrderType,
)

# --- nested objects ---------------------------------------------------------------------------


class Ref(Unified):
    """A reference to another record of the same connection."""

    remote_id: str = Field(description="The referenced record's `remote_id`.")
    name: str | None = Field(description="Its name as the referencing record shows it.")


class Parent(Unified):
    """The record above this one in a hierarchy of the same entity."""

    remote_id: str = Field(description="The parent record's `remote_id`.")


class ItemRef(Unified):
    """The inventory item a purchase order line orders."""

    remote_id: str | None = Field(description="The inventory item's `remote_id`, when the upstream links it.")
    code: str | None = Field(description="The item's code (material or part number).")


class Organization(Unified):
    """The buying organization: a company code, purchasing organization or site."""

    code: str = Field(description="Its upstream code, e.g. a company code `1000`.")
    name: str | None = Field(description="Its name.")


class Address(Unified):
    """A postal address."""

    line1: str | None = Field(description="Street and number.")
    line2: str | None = Field(description="Building, floor, suite or PO box.")
    city: str | None = Field(description="City or town.")
    region: str | None = Field(description="State, province or county.")
    postal_code: str | None = Field(description="Postal or ZIP code.")
    country: Country | None = Field(description="ISO 3166-1 alpha-2 country code, e.g. `DE`.")


class StockLevel(Unified):
    """The quantity of an item held at one stock location."""

    location: Ref | None = Field(description="The stock location (storeroom, warehouse, plant).")
    quantity_on_hand: DecimalString = Field(description="Quantity held there, in the item's unit of measure.")
    bin: str | None = Field(description="Bin or shelf within the location.")


class PurchaseOrderLine(Unified):
    """One line of a purchase order."""

    line_number: int | None = Field(description="The upstream line number, e.g. 10, 20, 30.")
    item_code: str | None = Field(description="The ordered item's code, as printed on the order.")
    item: ItemRef | None = Field(description="The inventory item ordered; null for a free-text line.")
    description: str | None = Field(description="Line text.")
    quantity: DecimalString | None = Field(description="Ordered quantity.")
    unit_of_measure: str | None = Field(description="Unit of the quantity, e.g. `EA`, `L`, `KIT`.")
    unit_price: DecimalString | None = Field(description="Net price of one unit, in the order's currency.")
    amount: DecimalString | None = Field(description="Net line amount (quantity x unit price).")
    tax_amount: DecimalString | None = Field(description="Tax on the line amount.")
    quantity_received: DecimalString | None = Field(description="Quantity received so far.")
    delivery_date: IsoDate | None = Field(description="Promised or requested delivery date.")
    status: PurchaseOrderLineStatus | None = Field(description="The line's own progress.")
    account: str | None = Field(description="Cost centre or general ledger account charged.")


# --- the records ------------------------------------------------------------------------------


class UnifiedRecord(Unified):
    """Fields every unified record has."""

    remote_id: str = Field(description="The record's id in the upstream system.")
    number: str | None = Field(description="The human identifier, e.g. a PO number `4500000028`.")
    upstream_status: str | None = Field(
        description="The upstream's own status code or text, unchanged: the unified `status` is the nearest "
                    "unified value, this keeps what the upstream said.")
    created_at: OffsetDatetime | None = Field(description="Upstream creation time.")
    updated_at: OffsetDatetime = Field(description="Upstream modification time.")
    deleted_at: OffsetDatetime | None = Field(
        None, description="Set by PlantSync when the record is deleted upstream; connectors leave it out.")
    custom_fields: dict[str, Any] = Field(description="Upstream fields with no unified home, by name.")


class Vendor(UnifiedRecord):
    """A supplier the organization buys from."""

    name: str | None = Field(description="Legal or trading name.")
    code: str | None = Field(description="The upstream's supplier code.")
    email: str | None = Field(description="Ordering e-mail address.")
    phone: str | None = Field(description="Phone number, as the upstream holds it.")
    address: Address | None = Field(description="Main address.")
    currency: Currency | None = Field(description="Ordering currency, ISO 4217.")
    status: ActiveStatus | None = Field(description="`inactive` when blocked or archived upstream.")
    tax_id: str | None = Field(description="VAT or tax registration number.")


class Location(UnifiedRecord):
    """A plant, building, area or storeroom."""

    name: str | None = Field(description="Display name.")
    code: str | None = Field(description="The upstream's location code.")
    status: ActiveStatus | None = Field(description="`inactive` when closed or archived upstream.")
    parent: Parent | None = Field(description="The enclosing location; null at the top.")
    address: Address | None = Field(description="Postal address.")


class Asset(UnifiedRecord):
    """A piece of equipment that is maintained."""

    name: str | None = Field(description="Display name.")
    description: str | None = Field(description="Long text.")
    status: AssetStatus | None = Field(description="Operating state.")
    site: str | None = Field(description="The site (plant) the asset belongs to, by its upstream code or name.")
    category: str | None = Field(description="Equipment class or category, e.g. `Pump`.")
    location: Ref | None = Field(description="Where the asset is installed.")
    parent: Parent | None = Field(description="The asset this one is part of; null at the top.")
    serial_number: str | None = Field(description="Manufacturer's serial number.")
    manufacturer: str | None = Field(description="Manufacturer.")
    model: str | None = Field(description="Manufacturer's model number.")


class InventoryItem(UnifiedRecord):
    """A stocked part or material."""

    code: str | None = Field(description="Item code (material or part number).")
    name: str | None = Field(description="Short text.")
    description: str | None = Field(description="Long text.")
    status: ActiveStatus | None = Field(description="`inactive` when blocked or obsolete upstream.")
    unit_of_measure: str | None = Field(description="Base unit, e.g. `EA`.")
    quantity_on_hand: DecimalString | None = Field(description="Total on hand over every stock location.")
    minimum_quantity: DecimalString | None = Field(description="Reorder point.")
    unit_cost: DecimalString | None = Field(description="Cost of one unit, in `currency`.")
    currency: Currency | None = Field(description="Currency of `unit_cost`, ISO 4217.")
    location: Ref | None = Field(description="The main stock location.")
    site: str | None = Field(description="The site (plant) the item is stocked at, by its upstream code or name.")
    stock: list[StockLevel] = Field(description="Quantity per stock location; empty when the upstream only "
                                                "reports the total.")


class PurchaseOrder(UnifiedRecord):
    """An order placed with a vendor."""

    status: PurchaseOrderStatus | None = Field(description="Where the order stands.")
    vendor: Ref | None = Field(description="The vendor ordered from.")
    order_date: IsoDate | None = Field(description="Date the order was placed.")
    required_date: IsoDate | None = Field(description="Date the goods are needed by.")
    currency: Currency | None = Field(description="Order currency, ISO 4217.")
    subtotal: DecimalString | None = Field(description="Sum of the line amounts, before tax.")
    tax: DecimalString | None = Field(description="Total tax.")
    total: DecimalString | None = Field(description="Subtotal plus tax.")
    payment_terms: str | None = Field(description="Payment terms as the upstream names them, e.g. `NET30`.")
    ship_to: str | None = Field(description="Delivery address or location, as one text.")
    bill_to: str | None = Field(description="Invoicing address, as one text.")
    organization: Organization | None = Field(description="The buying company code, purchasing organization "
                                                          "or site.")
    buyer: str | None = Field(description="The buyer or purchasing group responsible.")
    lines: list[PurchaseOrderLine] = Field(description="The order lines, in upstream order.")


class WorkOrder(UnifiedRecord):
    """A maintenance job."""

    title: str | None = Field(description="Short description.")
    description: str | None = Field(description="Instructions or long text.")
    status: WorkOrderStatus | None = Field(description="Where the job stands.")
    priority: WorkOrderPriority | None = Field(description="Urgency.")
    type: WorkOrderType | None = Field(description="Kind of job.")
    asset: Ref | None = Field(description="The asset worked on.")
    location: Ref | None = Field(description="Where the work happens.")
    assigned_to: str | None = Field(description="The lead technician or crew.")
    assignees: list[str] = Field(description="Everyone assigned, lead first; empty when unassigned.")
    site: str | None = Field(description="The site (plant), by its upstream code or name.")
    due_date: IsoDate | None = Field(description="Date the job is due.")
    scheduled_start: OffsetDatetime | None = Field(description="Planned start.")
    scheduled_end: OffsetDatetime | None = Field(description="Planned finish.")
    started_at: OffsetDatetime | None = Field(description="Actual start.")
    completed_at: OffsetDatetime | None = Field(description="Actual finish.")
    estimated_hours: DecimalString | None = Field(description="Planned labour hours.")
    actual_hours: DecimalString | None = Field(description="Labour hours booked.")
    actual_cost: DecimalString | None = Field(description="Cost booked so far (labour, parts, services).")
    failure_code: str | None = Field(description="Failure or problem code, for corrective work.")
    parent: Parent | None = Field(description="The work order this one is part of.")


ENTITY_MODELS: dict[str, type[UnifiedRecord]] = {
    "vendors": Vendor, "locations": Location, "assets": Asset, "inventory_items": InventoryItem,
    "purchase_orders": PurchaseOrder, "work_orders": WorkOrder,
}
