import getpass
import json
import uuid

from django.core.management.base import BaseCommand, CommandError

from connections.models import Connection
from core.audit import Actor
from core.errors import CatalogError
from core.models import AuditEvent
from webhooks.services import EVENT_TYPES, endpoint_create


class Command(BaseCommand):
    help = "Creates a webhook endpoint and prints its signing secret (shown this once only)."

    def add_arguments(self, parser):
        parser.add_argument("--url", required=True, help="The receiver's https:// URL.")
        parser.add_argument("--connection", help="Only this connection's events (its UUID); default: all connections.")
        parser.add_argument("--events", nargs="+", default=[], metavar="TYPE",
                            help=f"Event types to send (default: all). One of: {', '.join(EVENT_TYPES)}.")
        parser.add_argument("--description", default="")
        parser.add_argument("--json", action="store_true", dest="as_json",
                            help='Print {"id": ..., "secret": ...} only.')

    def handle(self, *args, url: str, connection: str | None, events: list[str], description: str, as_json: bool,
               **options):
        scope = None
        if connection:
            try:
                scope = Connection.objects.get(pk=uuid.UUID(connection))
            except (ValueError, Connection.DoesNotExist):
                raise CommandError(f"No connection with id {connection!r}.") from None
        actor = Actor(name=f"cli:{_os_user()}", source=AuditEvent.Source.CLI)
        try:
            endpoint, secret = endpoint_create(url=url, actor=actor, description=description, event_types=events,
                                               connection=scope)
        except CatalogError as exc:
            raise CommandError(exc.message) from None
        if as_json:
            self.stdout.write(json.dumps({"id": endpoint.pk, "secret": secret}))
            return
        self.stdout.write(f"Endpoint {endpoint.pk} created for {endpoint.url}")
        self.stdout.write(f"Events: {', '.join(endpoint.event_types) or 'all'}; "
                          f"connections: {scope or 'all'}")
        self.stdout.write(f"Signing secret (shown once, store it now): {secret}")



def _os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in some containers
        return "unknown"
