"""One error hierarchy: the CLI root turns every MailctlError into one line on
stderr and its exit code; anything else is a bug and shows a traceback."""

from __future__ import annotations


class MailctlError(Exception):
    """Base of every error mailctl reports to the user."""

    exit_code = 1

    def lines(self) -> list[str]:
        """The message as the CLI prints it: one line (ImportRejected: one per bad row)."""
        return [str(self)]


class UsageError(MailctlError):
    """The command line itself is wrong (exit 2, like click's usage errors)."""

    exit_code = 2


class ConfigError(MailctlError):
    """The configuration file or a configured secret file is unusable."""


class InvalidInput(MailctlError):
    """A domain, address, password or other value is not acceptable."""


class InvalidName(InvalidInput):
    """A domain name or address fails syntax rules."""


class PasswordRejected(InvalidInput):
    """A password does not meet the configured rules."""


class NotFound(MailctlError):
    """The named domain, user or alias does not exist."""


class AlreadyExists(MailctlError):
    """The object to create exists already."""


class DomainNotHosted(MailctlError):
    """An address belongs to a domain that is not in virtual_domains."""


class Conflict(MailctlError):
    """The change would break a rule such as mailbox/alias exclusivity."""


class DatabaseError(MailctlError):
    """The database is unreachable or refused the operation."""


class DatabaseUnreachable(DatabaseError):
    """No connection to the database could be made, or it was lost."""


class SchemaNotCurrent(DatabaseError):
    """The database schema needs `mailctl db upgrade` first."""


class Aborted(MailctlError):
    """The user declined a confirmation prompt."""


class LimitReached(MailctlError):
    """A domain limit (max-users, max-aliases, max-quota) refuses the change."""


class SavedButIncomplete(MailctlError):
    """The change is committed, but a step after the commit failed (a maildir, a key
    file, a reload): exit 3, so a script can tell it from a change that never happened."""

    exit_code = 3


def printable(text: str) -> str:
    """`text` with every character that is not printable escaped as in a Python literal
    (\\n, \\x1b, \\u202e): a name or path echoed in a message can neither break its
    line nor steer the terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
