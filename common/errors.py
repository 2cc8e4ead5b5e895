"""The project's own errors. Services, selectors, the runner, step types and commands raise these, never DRF's.

Only the API's exception handler (common.exceptions) knows HTTP: it maps each class to a problem+json response
with the class's `status`. The admin and the management commands show `message` as one line.
"""


class ApplicationError(Exception):
    """A rule refused the operation; `message` is safe to show to whoever asked (it never holds a secret)."""

    status = 400
    code = "invalid"
    default_message = "The request could not be processed."

    def __init__(self, message: str | None = None, *, code: str | None = None):
        self.message = message or self.default_message
        if code is not None:
            self.code = code
        super().__init__(self.message)


class Invalid(ApplicationError):
    """The input is wrong: `field_errors` maps each offending field (or JSON path) to its messages.

    `Invalid("msg", field="email")` is the one-field shorthand; the message then also heads the problem.
    """

    default_message = "The request is invalid: see errors."

    def __init__(
        self,
        message: str | None = None,
        *,
        field: str | None = None,
        field_errors: dict[str, list[str]] | None = None,
    ):
        super().__init__(message)
        if field is not None:
            field_errors = {field: [self.message]}
        self.field_errors: dict[str, list[str]] = field_errors or {}

    def __str__(self) -> str:
        if not self.field_errors:
            return self.message
        details = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in self.field_errors.items())
        return details if self.message == self.default_message else f"{self.message} ({details})"


class AuthenticationFailed(ApplicationError):
    """The credentials (password, token) are wrong, expired or revoked."""

    status = 401
    code = "authentication_failed"
    default_message = "Incorrect authentication credentials."


class PermissionDenied(ApplicationError):
    """The caller is known but may not do this (a role too low, a token without the scope)."""

    status = 403
    code = "permission_denied"
    default_message = "You do not have permission to perform this action."


class NotFound(ApplicationError):
    """Nothing the caller may see has this id (also what a non-member gets: no existence leak)."""

    status = 404
    code = "not_found"
    default_message = "Not found."


class Conflict(ApplicationError):
    """The operation clashes with the current state (a last owner leaving, an execution already finished)."""

    status = 409
    code = "conflict"
    default_message = "The request conflicts with the current state of the resource."


class Gone(ApplicationError):
    """It existed, and is no longer available (a data export past its download period)."""

    status = 410
    code = "gone"
    default_message = "This resource is no longer available."


class PreconditionFailed(ApplicationError):
    """A conditional write's precondition (If-Match) does not hold: the resource changed since the client read it."""

    status = 412
    code = "precondition_failed"
    default_message = "The resource changed since the given ETag; read it again and reapply the change."


class TooManyRequests(ApplicationError):
    """Refused for a while (a sign-in lockout): `retry_after` seconds until it may be tried again."""

    status = 429
    code = "too_many_requests"
    default_message = "Too many requests; try again later."

    def __init__(self, message: str | None = None, *, code: str | None = None, retry_after: int = 60):
        super().__init__(message, code=code)
        self.retry_after = max(int(retry_after), 1)


class Unprocessable(ApplicationError):
    """Well-formed, but refused as a whole (an Idempotency-Key reused with another body)."""

    status = 422
    code = "unprocessable"
    default_message = "The request could not be processed."


class Unavailable(ApplicationError):
    """A service the operation depends on cannot be used now (Vault's transit engine, for project secrets)."""

    status = 503
    code = "unavailable"
    default_message = "A service this operation depends on is unavailable; try again later."


class QuotaExceeded(ApplicationError):
    """A quota is used up for now (a project's executions or LLM tokens of the day); `retry_after_seconds` says
    when it renews. The API answers 429 with Retry-After."""

    status = 429
    code = "quota_exceeded"
    default_message = "A quota is used up."

    def __init__(self, message: str | None = None, *, quota: str, retry_after_seconds: int):
        super().__init__(message)
        self.quota = quota
        self.retry_after_seconds = retry_after_seconds
