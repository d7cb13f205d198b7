"""One exception tree for the autoinform package; classes carry the data callers need."""

from __future__ import annotations


class AutoinformError(Exception):
    """Base of every error the engine raises on purpose."""


class ConfigError(AutoinformError):
    """Configuration is missing or invalid; raised at start-up."""


class StorageError(AutoinformError):
    """The database could not be reached or migrated."""


class NotFoundError(AutoinformError):
    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} not found: {key}")
        self.kind = kind
        self.key = key


class ImportFileError(AutoinformError):
    """The list file as a whole cannot be read (not a single bad row: those are rejections)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class ScenarioError(AutoinformError):
    """A scenario file is invalid; carries the file, line and field when known."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        where = ""
        if file:
            where = file
            if line is not None:
                where += f":{line}"
            where += ": "
        if field:
            where += f"{field}: "
        super().__init__(f"{where}{message}")
        self.file = file
        self.line = line
        self.field = field
        self.detail = message


class RenderError(ScenarioError):
    """A scenario could not be rendered for a recipient (missing or mistyped variable)."""


class SkipDelivery(AutoinformError):
    """The scenario's own rule says this recipient gets no message (`skip_when`: a zero debt is not
    told "please pay"). Not a fault: the delivery ends negative with `reason` and nothing is sent."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"not sent ({reason}): {detail}")
        self.reason = reason
        self.detail = detail


class CampaignStateError(AutoinformError):
    """A campaign operation is not allowed in the campaign's current state."""

    def __init__(self, campaign_id: int, state: str, action: str) -> None:
        super().__init__(f"campaign {campaign_id}: cannot {action} while {state}")
        self.campaign_id = campaign_id
        self.state = state
        self.action = action


class PermissionDenied(AutoinformError):
    """The acting user's role does not allow the operation (AI-15, AI-19)."""


class ChannelError(AutoinformError):
    """A channel failed to deliver; `permanent` says whether a retry can help."""

    def __init__(self, message: str, *, permanent: bool, code: str | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.code = code


class AuthenticationError(AutoinformError):
    """Who is acting could not be established: no or unknown token, a token file others can read,
    a disabled user, a wrong password (issue 12). The message never contains the secret."""


class HotlineDataError(ScenarioError):
    """hotline/menu.yaml or hotline/info.yaml is invalid: file, line and field as for scenarios."""
