"""The records an export/import file holds, whatever its format, and the row errors
of reading or importing one."""

from __future__ import annotations

from dataclasses import dataclass, field

from mailctl.errors import InvalidInput

VERSION = 1
DKIM_FIELDS = (
    "selector",
    "algorithm",
    "bits",
    "state",
    "created_at",
    "activated_at",
    "retired_at",
    "private_key",
)
# Account policy (migration 0003), in the order a row writes them. A field a row
# leaves out keeps the stored value on import (a new account: the default), and
# export writes only what differs from the default.
DOMAIN_POLICY_FIELDS = (
    "suspended",
    "suspend_reason",
    "receive",
    "default_quota",
    "max_quota",
    "max_users",
    "max_aliases",
)
USER_POLICY_FIELDS = (
    "suspended",
    "suspend_reason",
    "imap",
    "pop3",
    "smtp",
    "receive",
    "quota",
    "send_as",
)
FLAG_FIELDS = ("suspended", "imap", "pop3", "smtp", "receive")  # true or false
COUNT_FIELDS = ("max_users", "max_aliases")  # a number in JSON, or "none"
MAX_ERRORS_SHOWN = 20


@dataclass(frozen=True)
class DkimRecord:
    """A DKIM key in an export file."""

    selector: str
    algorithm: str
    bits: int
    state: str
    created_at: str  # ISO 8601, as stored (UTC, no zone)
    activated_at: str | None = None
    retired_at: str | None = None
    private_key: str | None = field(default=None, repr=False)  # PEM, with --with-keys only
    where: str = field(default="", compare=False)


@dataclass(frozen=True)
class DomainRecord:
    """A domain in an export file, with its keys and its policy (None: not given).
    Sizes and counts are the file's text (`500M`, `none`), read by the import."""

    name: str
    dkim: tuple[DkimRecord, ...] = ()
    where: str = field(default="", compare=False)
    suspended: bool | None = None
    suspend_reason: str | None = None
    receive: bool | None = None
    default_quota: str | None = None
    max_quota: str | None = None
    max_users: str | None = None
    max_aliases: str | None = None


@dataclass(frozen=True)
class UserRecord:
    """A mailbox in an export file, with its policy and send-as grants."""

    email: str
    password: str | None = None  # a Dovecot hash, stored as is
    plaintext: str | None = field(default=None, repr=False)  # import only: hashed first
    where: str = field(default="", compare=False)
    suspended: bool | None = None  # policy: None is not given
    suspend_reason: str | None = None
    imap: bool | None = None
    pop3: bool | None = None
    smtp: bool | None = None
    receive: bool | None = None
    quota: str | None = None  # `500M`, `unlimited` or `default`
    send_as: tuple[str, ...] = ()  # addresses and @domains this login may send as


@dataclass(frozen=True)
class AliasRecord:
    """An alias in an export file."""

    source: str
    destinations: tuple[str, ...]
    where: str = field(default="", compare=False)


@dataclass
class Document:
    """A whole export file: domains, users, aliases."""

    domains: list[DomainRecord] = field(default_factory=list)
    users: list[UserRecord] = field(default_factory=list)
    aliases: list[AliasRecord] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return len(self.domains) + len(self.users) + len(self.aliases)


@dataclass(frozen=True)
class RowError:
    """A rejected row of an import file: where, and why."""

    where: str  # "users[17]", "domains[2].dkim[0]" or "line 18"
    message: str
    order: tuple[int, int] = (0, 0)  # for listing errors in file order

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class ImportRejected(InvalidInput):
    """Rows of an import file are wrong; nothing was written."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = sorted(errors, key=lambda e: e.order)
        shown = [f"  {e}" for e in self.errors[:MAX_ERRORS_SHOWN]]
        if len(self.errors) > MAX_ERRORS_SHOWN:
            shown.append(f"  ... and {len(self.errors) - MAX_ERRORS_SHOWN} more")
        self._lines = [
            f"{len(self.errors)} error(s) in the import file; nothing was imported:",
            *shown,
        ]
        super().__init__("\n".join(self._lines))

    def lines(self) -> list[str]:
        return self._lines
