"""Domain exceptions; the HTTP layer maps each to one status code and error body."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the product explains to its callers."""

    code = "domain_error"
    default_message = "The request cannot be completed"

    def __init__(self, message: str | None = None, errors: dict[str, str] | None = None):
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        self.errors = errors or {}


class ValidationFailed(DomainError):
    code = "validation_error"
    default_message = "The request is not valid"


class InvalidReference(ValidationFailed):
    code = "invalid_reference"
    default_message = "A referenced record does not exist"


class NotFound(DomainError):
    code = "not_found"
    default_message = "The requested record does not exist"


class AlreadyExists(DomainError):
    code = "already_exists"
    default_message = "A record with that name already exists"


class Forbidden(DomainError):
    code = "forbidden"
    default_message = "You are not allowed to do this"


class FeatureDisabled(Forbidden):
    code = "feature_disabled"
    default_message = "This feature is not enabled for you"


class Conflict(DomainError):
    code = "conflict"
    default_message = "The request conflicts with the current state"


class RoleFromIdentityProvider(Conflict):
    code = "role_from_identity_provider"
    default_message = (
        "That role comes from the identity provider's token; change it in the identity provider"
    )


class Unprocessable(DomainError):
    code = "unprocessable"
    default_message = "The request cannot be processed"


class StorageUnavailable(DomainError):
    code = "storage_unavailable"
    default_message = "The storage is unavailable; try again shortly"

    def __init__(self, message: str | None = None, retry_after: int = 5, detail: str | None = None):
        super().__init__(message)
        self.retry_after = retry_after
        self.detail = detail  # for operators (logs, the CLI); never sent to a client


class SchemaOutOfDate(StorageUnavailable):
    code = "schema_out_of_date"
    default_message = (
        "The database schema is out of date: an operator must run `python cli.py migrate`; "
        "try again shortly"
    )

    def __init__(self, pending: list[str], retry_after: int = 5):
        super().__init__(retry_after=retry_after, detail=f"pending: {', '.join(pending)}")
        self.pending = pending


class PayloadTooLarge(DomainError):
    code = "payload_too_large"
    default_message = "The request body is too large"


class Unauthenticated(DomainError):
    code = "invalid_token"
    default_message = "A valid bearer token is required"


class AuthenticationUnavailable(StorageUnavailable):
    code = "identity_provider_unavailable"
    default_message = "The identity provider's keys cannot be fetched; try again shortly"


class ConfigurationError(DomainError):
    code = "configuration_error"
    default_message = "The configuration is not usable"


class RunningEntryExists(Conflict):
    code = "running_entry_exists"
    default_message = "You already have a running time entry"


class OverlappingTimeEntry(Unprocessable):
    code = "overlapping_time_entry"
    default_message = "There is another time entry in that date range"


class AlreadyStopped(Unprocessable):
    code = "already_stopped"
    default_message = "The specified time entry is already stopped"


class AlreadyRunning(Unprocessable):
    code = "already_running"
    default_message = "The specified time entry is already running"


class IdempotencyKeyReused(Unprocessable):
    code = "idempotency_key_reused"
    default_message = (
        "This Idempotency-Key was used with another request; send a new key for a new request"
    )


class IdempotencyKeyInUse(Conflict):
    code = "idempotency_key_in_use"
    default_message = "A request with this Idempotency-Key is still in progress; retry shortly"

    def __init__(self, retry_after: int = 1):
        super().__init__()
        self.retry_after = max(1, retry_after)
