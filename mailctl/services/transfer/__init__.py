"""Export and import of everything in the database: domains (with DKIM key
metadata and, on request, the keys), mailboxes with their hashes, aliases.

An import is an idempotent upsert planned in full before anything is
written: every row is checked against the database as it is plus the rest of
the file, with the rules of `domain add`, `user add` and `alias add` (the same
functions: model.rules, and the services' own for what touches the database),
and every problem is collected with its row's location. One bad row means
nothing is written. The plan is then applied in one transaction: domains
through the same service as `domain add` (one at a time: each has a key and
managed-file entries), users and aliases in bulk statements, since row-by-row
ORM work would cost more than hashing on an import of 10,000 mailboxes.

Account policy (suspension, services, quotas, domain limits, send-as grants)
rides on the domain and user rows: a field a row gives is set, one it leaves
out kept, grants are added; a file that would take a domain past a limit is
refused whole.

The steps, one module each: `export`; `current` (the database as it is);
`rows` (the file's rows checked without the database); `plan`, `keys` and
`policy` (the rows against the database, the DKIM keys of new domains, the
policy rows, grants and limits); `apply`.
"""

from __future__ import annotations

from mailctl.services.transfer.apply import apply_import
from mailctl.services.transfer.current import Current, read_current
from mailctl.services.transfer.export import export_document
from mailctl.services.transfer.keys import KeyImport, NewDomain
from mailctl.services.transfer.plan import KINDS, PENDING_HASH, Plan, Tally, plan_import, summary
from mailctl.services.transfer.policy import PolicyChange
from mailctl.services.transfer.rows import Checked, CheckedAlias, CheckedUser, RowErrors, check_rows

__all__ = [
    "KINDS",
    "PENDING_HASH",
    "Checked",
    "CheckedAlias",
    "CheckedUser",
    "Current",
    "KeyImport",
    "NewDomain",
    "Plan",
    "PolicyChange",
    "RowErrors",
    "Tally",
    "apply_import",
    "check_rows",
    "export_document",
    "plan_import",
    "read_current",
    "summary",
]
