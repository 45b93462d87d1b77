"""A real Tryton 8.2 server for the tryton connector's tests (docs/connectors/tryton.md).

`tryton_server` (session scope) makes a SQLite database with trytond-admin (base modules plus
purchase and stock), runs `trytond` on a free loopback port and seeds it through proteus over
XML-RPC, as a customer's staff would: a company attached to the admin user, suppliers, products
with stock, and purchases in every state the purchase module reaches without accounting. The
server is another process: tests using it are marked `real_clock`.

Started by hand it stays up for the dashboard: `python -m tests.upstreams.tryton` prints the
connection settings.
"""

import contextlib
import datetime as dt
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
DATABASE = "plantsync"
ADMIN_LOGIN = "admin"
ADMIN_PASSWORD = "admin-Pa55word"
SUPPLIER_NAMES = ("Nordic Bearings GmbH", "Allied Hydraulics Inc.", "Summit Valves AB")
PRODUCTS = (("BRG-6204", "Ball bearing 6204", "8.5000"), ("OIL-46", "Hydraulic oil ISO 46", "4.2500"),
            ("SEAL-35", "Mechanical seal 35mm", "61.0000"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class TrytonServer:
    directory: Path
    port: int
    database: str = DATABASE
    process: subprocess.Popen | None = None
    # What the seeding made, by name: ids of parties, products, purchases.
    seeded: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def rpc_url(self) -> str:
        return f"{self.url}{self.database}/rpc/"

    @property
    def config_file(self) -> Path:
        return self.directory / "trytond.conf"

    def connection_settings(self) -> tuple[dict, dict]:
        return ({"url": self.url, "database": self.database},
                {"username": ADMIN_LOGIN, "password": ADMIN_PASSWORD})

    def _env(self) -> dict:
        env = {**os.environ, "TRYTOND_DATABASE_NAMES": self.database}
        for name in ("TRYTOND_CONFIG", "DATABASE_URL"):
            env.pop(name, None)
        return env

    def create(self) -> None:
        started = time.monotonic()
        self.config_file.write_text(
            f"[database]\nuri = sqlite://\npath = {self.directory}\n\n[web]\nlisten = 127.0.0.1:{self.port}\n"
            # Log in as often as the tests need (wrong passwords included) without being throttled.
            "\n[session]\nmax_attempt = 1000\nmax_attempt_ip_network = 1000\n")
        (self.directory / f"{self.database}.sqlite").touch()
        passfile = self.directory / "admin-password"
        passfile.write_text(ADMIN_PASSWORD)
        subprocess.run(
            [str(BIN / "trytond-admin"), "-c", str(self.config_file), "-d", self.database, "--all",
             "--email", "admin@example.com", "-u", "purchase", "stock", "--activate-dependencies"],
            env={**self._env(), "TRYTONPASSFILE": str(passfile)}, check=True, capture_output=True, timeout=600)
        self.timings["create"] = round(time.monotonic() - started, 1)

    def start(self) -> None:
        started = time.monotonic()
        log = open(self.directory / "trytond.log", "wb")  # closed by stop()
        self.process = subprocess.Popen([str(BIN / "trytond"), "-c", str(self.config_file)], env=self._env(),
                                        stdout=log, stderr=subprocess.STDOUT)
        self._log = log
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"trytond exited: {(self.directory / 'trytond.log').read_text()[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("trytond did not listen within 60 s")
        self.timings["start"] = round(time.monotonic() - started, 1)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if getattr(self, "_log", None):
            self._log.close()

    @contextlib.contextmanager
    def proteus(self):
        """A proteus configuration logged in as the admin, over XML-RPC like any client."""
        from proteus import config as proteus_config

        with proteus_config.set_xmlrpc_session(self.rpc_url, username=ADMIN_LOGIN,
                                               password=ADMIN_PASSWORD) as cfg:
            User = cfg.get_proxy("res.user")
            cfg._context = User.get_preferences(True, {})
            yield cfg

    def seed(self) -> None:
        started = time.monotonic()
        from proteus import Model, Wizard

        with self.proteus() as cfg:
            Party = Model.get("party.party", config=cfg)
            Currency = Model.get("currency.currency", config=cfg)
            User = Model.get("res.user", config=cfg)

            currency, = Currency.find([("code", "=", "EUR")]) or [None]
            if currency is None:
                currency = Currency(name="Euro", symbol="€", code="EUR", rounding=Decimal("0.01"))
                currency.save()
            company_party = Party(name="Nordwerk Industries GmbH")
            company_party.save()
            company_config = Wizard("company.company.config", config=cfg)
            company_config.execute("company")
            company = company_config.form
            company.party = company_party
            company.currency = currency
            company_config.execute("add")
            cfg._context = User.get_preferences(True, {})

            suppliers = []
            for n, name in enumerate(SUPPLIER_NAMES):
                party = Party(name=name)
                address, = party.addresses
                address.street = f"{n + 1} Industriestrasse\nGate {n + 1}"
                address.city, address.postal_code = "Hamburg", f"2009{n}"
                party.contact_mechanisms.new(type="email", value=f"orders@supplier{n + 1}.example")
                party.save()
                suppliers.append(party)
            # A customer too: a party that is no supplier (vendors are every party, documented).
            customer = Party(name="Customer Without Purchases")
            customer.save()

            Uom = Model.get("product.uom", config=cfg)
            Template = Model.get("product.template", config=cfg)
            unit, = Uom.find([("name", "=", "Unit")])
            products = []
            for code, name, cost in PRODUCTS:
                template = Template(name=name, default_uom=unit, type="goods", purchasable=True,
                                    list_price=Decimal(cost) * 2)
                template.save()
                product, = template.products
                product.suffix_code = code
                product.cost_price = Decimal(cost)
                product.save()
                products.append(product)

            purchases = {}
            Purchase = Model.get("purchase.purchase", config=cfg)

            def purchase(key, supplier, lines, *clicks, **values):
                p = Purchase(party=supplier, invoice_method="manual", **values)
                for product, qty, price in lines:
                    line = p.lines.new()
                    line.product = product
                    line.quantity = qty
                    line.unit_price = Decimal(price)
                if not lines:
                    p.lines.new(type="comment", description="Nothing to receive: framework agreement")
                p.save()
                for click in clicks:
                    p.click(click)
                purchases[key] = p.id
                return p

            today = dt.date.today()
            purchase("draft", suppliers[0], [(products[0], 10, "8.4000")], reference="REQ-1")
            purchase("draft_to_delete", suppliers[1], [(products[1], 5, "4.2500")])
            purchase("quotation", suppliers[1], [(products[1], 20, "4.1000"), (products[2], 2, "60.0000")], "quote",
                     purchase_date=today)
            purchase("processing", suppliers[2], [(products[2], 4, "61.0000")], "quote", "confirm")
            received = purchase("received", suppliers[0], [(products[0], 6, "8.5000"), (products[1], 12, "4.2500")],
                                "quote", "confirm")
            purchase("done", suppliers[2], [], "quote", "confirm")
            purchase("cancelled", suppliers[0], [(products[2], 1, "61.0000")], "cancel")

            ShipmentIn = Model.get("stock.shipment.in", config=cfg)
            Move = Model.get("stock.move", config=cfg)
            received.reload()
            shipment = ShipmentIn(supplier=suppliers[0])
            for move in received.moves:
                shipment.incoming_moves.append(Move(move.id))
            shipment.save()
            shipment.click("receive")
            shipment.click("do")

            self.seeded = {"company": company_party.id, "suppliers": [s.id for s in suppliers],
                           "customer": customer.id, "products": [p.id for p in products], "purchases": purchases}
        self.timings["seed"] = round(time.monotonic() - started, 1)


@contextlib.contextmanager
def running_server(directory: Path | None = None):
    with contextlib.ExitStack() as stack:
        if directory is None:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tryton-")))
        server = TrytonServer(directory=directory, port=free_port())
        server.create()
        server.start()
        try:
            server.seed()
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="session")
def tryton_server():
    if not (BIN / "trytond").exists():
        from tests.conftest import skip_or_fail

        skip_or_fail("trytond is not installed (pip install -e '.[test]')")
    with running_server() as server:
        yield server


if __name__ == "__main__":
    with running_server() as server:
        config, credentials = server.connection_settings()
        print(f"Tryton is up ({server.timings}): config {config}, credentials {credentials}. Ctrl-C stops it.")
        with contextlib.suppress(KeyboardInterrupt):
            server.process.wait()
