"""Pure renderers: database state in, the text of each managed block out.

Nothing here touches files, the database or the clock; the same input always
gives the same, sorted output, so `sync` is idempotent and testable with
golden strings. What cannot be written into a table or config file is refused
with a mailctl error (InvalidInput, or Conflict for two keys claiming one
KeyTable line), never half-rendered.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class DkimEntry:
    """One key OpenDKIM signs with: KeyTable and SigningTable lines."""

    domain: str  # stored form (A-label)
    selector: str
    key_path: str  # absolute path of <selector>.private


@dataclass(frozen=True, order=True)
class TlsEntry:
    """A domain whose certificate and key exist and parse."""

    domain: str
    cert: str  # fullchain.pem
    key: str  # privkey.pem
