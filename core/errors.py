"""The one error catalogue (docs/architecture.md, "The error catalogue").

The API, sync runs, incidents, webhooks and the dashboard all speak these codes. Clients
branch on the code; the message is for people and may change.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ErrorSpec:
    code: str
    status: int
    type: str
    retryable: bool
    message: str
    action: str = ""


_SPECS = [
    ErrorSpec("INVALID_REQUEST", 400, "invalid_request_error", False, "The request is malformed."),
    ErrorSpec("VALIDATION_FAILED", 400, "invalid_request_error", False, "Some fields are invalid.",
              "Correct the fields listed in details and send the request again."),
    ErrorSpec("AUTHENTICATION_FAILED", 401, "authentication_error", False, "The token is missing, invalid or revoked."),
    ErrorSpec("PERMISSION_DENIED", 403, "permission_error", False, "This token may not do that."),
    ErrorSpec("NOT_FOUND", 404, "invalid_request_error", False, "No such resource."),
    ErrorSpec("METHOD_NOT_ALLOWED", 405, "invalid_request_error", False, "This method is not allowed here."),
    ErrorSpec("SYNC_IN_PROGRESS", 409, "conflict_error", True, "A sync of this entity is already running.",
              "Wait for the active run to finish, or cancel it, then try again."),
    ErrorSpec("CONNECTION_NOT_ACTIVE", 409, "conflict_error", False, "The connection is paused or disconnected.",
              "Resume the connection first."),
    ErrorSpec("REAUTHORIZATION_REQUIRED", 409, "conflict_error", False,
              "The upstream system rejected the connection's credentials.", "Update the connection's credentials."),
    ErrorSpec("IDEMPOTENCY_KEY_REUSED", 422, "invalid_request_error", False,
              "This Idempotency-Key was used with a different request."),
    ErrorSpec("RATE_LIMIT_EXCEEDED", 429, "rate_limit_error", True, "Too many requests.",
              "Wait for the number of seconds in Retry-After."),
    ErrorSpec("INTERNAL_ERROR", 500, "api_error", True, "Something went wrong on our side."),
    ErrorSpec("SERVICE_UNAVAILABLE", 503, "api_error", True, "A service this request needs is down.",
              "Try again after Retry-After seconds."),
    # Sync side: runs, incidents, webhooks and the dashboard.
    ErrorSpec("UPSTREAM_AUTHENTICATION_FAILED", 502, "upstream_error", False,
              "The upstream system rejected the credentials.", "Reauthorize the connection with valid credentials."),
    ErrorSpec("UPSTREAM_PERMISSION_DENIED", 502, "upstream_error", False,
              "The upstream user lacks a permission this sync needs.", "Grant the integration user read access."),
    ErrorSpec("UPSTREAM_NOT_FOUND", 502, "upstream_error", False, "The upstream system has no such resource.",
              "Check the connection's URL and settings, and that the API is enabled for the integration user."),
    ErrorSpec("UPSTREAM_REQUEST_REJECTED", 502, "upstream_error", False,
              "The upstream system refused a request as invalid.",
              "Check the connection's settings; report it if they are right, with the details."),
    ErrorSpec("UPSTREAM_ADDRESS_REFUSED", 502, "upstream_error", False,
              "The upstream address is not allowed by the outbound policy.",
              "Use the system's own address; an administrator can allow its network in UPSTREAM_ALLOWED_NETWORKS."),
    ErrorSpec("UPSTREAM_UNREACHABLE", 502, "upstream_error", True, "The upstream system could not be reached.",
              "Check the instance URL and that the system is up; the sync retries on its schedule."),
    ErrorSpec("UPSTREAM_RATE_LIMITED", 502, "upstream_error", True, "The upstream system kept rate limiting us.",
              "Lower the sync frequency or raise the upstream API quota."),
    ErrorSpec("UPSTREAM_SERVER_ERROR", 502, "upstream_error", True, "The upstream system kept answering with errors.",
              "The sync retries on its schedule; contact the system's administrator if it persists."),
    ErrorSpec("UPSTREAM_INVALID_RESPONSE", 502, "upstream_error", True,
              "The upstream system sent a response we could not read."),
    ErrorSpec("MAPPING_FAILED", 500, "sync_error", False, "Upstream records could not be mapped to the unified model.",
              "None of the records read could be mapped: check the connection's config, then the upstream data."),
    ErrorSpec("RECORD_MAPPING_FAILED", 500, "sync_error", False,
              "Some upstream records could not be mapped; they were skipped and their stored copies kept.",
              "Look at the sample: correct those records upstream, or report the mapping if the data is valid. "
              "The incident resolves on the next run that maps every record."),
    ErrorSpec("SYNC_STALLED", 500, "sync_error", True,
              "The run stopped sending heartbeats and was requeued from its checkpoint."),
    ErrorSpec("SYNC_CANCELLED", 409, "sync_error", False, "The run was cancelled."),
]
CATALOGUE: dict[str, ErrorSpec] = {spec.code: spec for spec in _SPECS}


def spec_for(code: str) -> ErrorSpec:
    return CATALOGUE.get(code, CATALOGUE["INTERNAL_ERROR"])


@dataclass
class CatalogError(Exception):
    """An error that carries a catalogue code; raised by services, shown by every surface."""

    code: str
    message: str = ""
    details: dict = field(default_factory=dict)
    retry_after: float | None = None

    def __post_init__(self):
        if self.code not in CATALOGUE:
            raise ValueError(f"{self.code} is not in the error catalogue")
        self.message = self.message or CATALOGUE[self.code].message
        super().__init__(self.message)

    @property
    def spec(self) -> ErrorSpec:
        return CATALOGUE[self.code]

    def as_dict(self, *, request_id: str = "") -> dict:
        spec = self.spec
        return {"code": self.code, "type": spec.type, "message": self.message,
                "request_id": request_id, "details": self.details}
