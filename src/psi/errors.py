"""The errors psi raises on purpose, split by whose fault they are.

    PsiError                  every error psi means to show a person
    ├── UserError             the user can fix it: config, input, a missing file or key
    │   ├── ConfigError       config.toml or a PSI_* variable is wrong (file, line, what)
    │   │   └── InvalidSetting  a change refused: the settings it makes would not validate
    │   ├── ModelNotFound     a model file is missing or unreadable
    │   ├── MissingAPIKey     the environment variable holding a key is unset
    │   ├── UnknownProfile    a model profile name that is not configured
    │   ├── InputError        a message psi cannot take (too long, not text)
    │   ├── NotFound          a conversation or row that does not exist
    │   └── GoalError         a goal that cannot work as given (its metric, its dates)
    │       └── InvalidRule   a recurrence rule psi cannot read, or one that never fires
    ├── ModelError            the model or its server misbehaved
    │   ├── EndpointError     a server answered with an error or not at all (host, status)
    │   ├── ModelTimeout      no answer within the timeout
    │   └── BadModelOutput    output that does not fit the schema after the retries
    ├── OfflineRefusal        offline mode refused a request that would leave the machine
    ├── StoreError            the database cannot be used (locked, unreachable, unmigrated)
    └── RequestTimeout        a request to `psi serve` ran past server.request_timeout

Every message says what happened and what to do next (`hint`). The CLI and
the API print `str(error)` and `error.hint` and exit non-zero; they never show
a traceback for these. Anything else is a bug and is raised as it is.
"""

from __future__ import annotations


class PsiError(Exception):
    """An error psi expects and explains to the person using it."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UserError(PsiError):
    exit_code = 2


class ConfigError(UserError):
    pass


class InvalidSetting(ConfigError):
    """`problems` name each setting refused, as (dotted path parts, what is wrong)."""

    def __init__(
        self, message: str, *, problems: list[tuple[list[str], str]], hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.problems = problems


class ModelNotFound(UserError):
    pass


class MissingAPIKey(UserError):
    pass


class UnknownProfile(UserError):
    pass


class InputError(UserError):
    pass


class NotFound(UserError):
    pass


class GoalError(UserError):
    pass


class InvalidRule(GoalError):
    pass


class ModelError(PsiError):
    exit_code = 3


class EndpointError(ModelError):
    def __init__(
        self, message: str, *, host: str, status: int | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.host = host
        self.status = status


class ModelTimeout(ModelError):
    pass


class BadModelOutput(ModelError):
    pass


class OfflineRefusal(PsiError):
    exit_code = 4


class PrivacyRefusal(OfflineRefusal):
    """The user's privacy policy keeps this data on the machine (local-only)."""


class StoreError(PsiError):
    exit_code = 5


class RequestTimeout(PsiError):
    exit_code = 6
