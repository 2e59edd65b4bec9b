"""The DKIM key lifecycle, one definition for every layer.

pending (published, not signing) -> active (signing) -> retired (record still
published for mail in flight) -> archived (file moved away, record gone).
StrEnum members equal their stored strings, so rows compare as they are.
"""

from __future__ import annotations

from enum import StrEnum


class DkimState(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    RETIRED = "retired"
    ARCHIVED = "archived"


# Keys OpenDKIM must know (KeyTable) and whose record DNS must serve.
PUBLISHED = (DkimState.PENDING, DkimState.ACTIVE, DkimState.RETIRED)
# Keys that sign (SigningTable).
SIGNING = (DkimState.ACTIVE,)
