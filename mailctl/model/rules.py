"""The rules of domains, mailboxes and aliases, and their messages, each once.

`domain add`, `user add`, `alias add` and `import` all apply these functions:
the single-row services with what they read for one row, the import with what
it read for the whole file. Pure: the callers read the database.

- A source is one alias whose destination is one comma-separated value with
  every address once (`merge_destinations`); a hand-made database may hold
  several rows for a source, which read as one alias in row order.
- A mailbox may not be created where an alias would take its mail
  (`mailbox_problem`), and an alias may not take a mailbox's mail
  (`alias_problem`).
- A catch-all `@domain` takes the mail of the domain's mailboxes with the
  guide's alias query (`catchall_warning`, `catchall_mailbox_warning`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from mailctl.model.datarecord import datarecord

CATCHALL_FIX = (
    "mailctl setup render --catchall-fix writes the map that fixes it"
    " (see the docs: how-to/catch-all)"
)
MIN_RSA_BITS = 2048


# ------------------------------------------------------------------ hosting


def not_hosted_message(address: str | None, domain: str, *, in_file: bool = False) -> str:
    """An address (or, with None, the domain itself) in a domain that is not hosted.

    `in_file`: the address is an import file's, whose own domain rows also count.
    """
    if address is None:
        return f"domain {domain} is not hosted here (see: mailctl domain list)"
    remedy = f"add it first: mailctl domain add {domain}"
    if in_file:
        remedy += ", or give it a domain row in the file"
    return f"{address}: domain {domain} is not hosted here ({remedy})"


# ------------------------------------------------------------------ alias destinations


def split_destinations(stored: str) -> list[str]:
    """One stored `destination` value as its addresses (spaces a human left are dropped)."""
    # Spaces only: a control character stays, for the address check to refuse.
    return [d.strip(" ") for d in stored.split(",") if d.strip(" ")]


def join_destinations(destinations: Iterable[str]) -> str:
    """The stored form: Postfix's alias query returns the value as it is."""
    return ",".join(destinations)


def stored_destinations(values: Iterable[str]) -> list[str]:
    """The destinations of one source from its rows' values: in row order, each once."""
    # dict.fromkeys keeps the first of each in order, in linear time: an alias of
    # 500,000 destinations must not take minutes.
    return list(dict.fromkeys(d for value in values for d in split_destinations(value)))


@datarecord(frozen=True)
class AliasMerge:
    """What adding destinations to a source does (`alias add` and import alike)."""

    present: tuple[str, ...]  # the destinations there are, from every row
    added: tuple[str, ...]  # the wanted ones not among them, in order

    @property
    def merged(self) -> tuple[str, ...]:
        return self.present + self.added

    def first_row(self, stored: str) -> str:
        """The value of the source's first row after the merge: the new ones go there."""
        return join_destinations(stored_destinations([stored, *self.added]))


def merge_destinations(rows: Iterable[str], wanted: Iterable[str]) -> AliasMerge:
    """Merge `wanted` (validated addresses) into a source's rows' values."""
    present = stored_destinations(rows)
    known = set(present)
    added = [d for d in dict.fromkeys(wanted) if d not in known]
    return AliasMerge(tuple(present), tuple(added))


# ------------------------------------------------------------------ mailbox or alias


def mailbox_problem(
    email: str, destinations: Sequence[str], *, offer_force: bool = False
) -> str | None:
    """A new mailbox `email` where an alias with these destinations exists.

    The alias may stay only if it keeps the mailbox among its destinations
    (forward with a local copy); otherwise it would take the mailbox's mail.
    `offer_force`: the caller has a --force that skips this rule.
    """
    if not destinations or email in destinations:
        return None
    message = (
        f"{email} is an alias (-> {join_destinations(destinations)}); remove it first"
        f" (mailctl alias del {email})"
    )
    return message + " or use --force" if offer_force else message


def alias_problem(
    source: str,
    merged: Sequence[str],
    *,
    is_mailbox: bool,
    force: bool = False,
    offer_force: bool = False,
) -> str | None:
    """The alias `source` with the destinations `merged` (after the merge).

    An alias domain has exactly one destination; an alias for a mailbox must
    keep the mailbox among its destinations (skipped with `force`); an alias
    that is no mailbox may not point to itself. `offer_force`: say that the
    caller has a --force.
    """
    if any(d.startswith("@") for d in merged) and len(merged) > 1:
        return (
            f"alias domain {source}: it would get several destinations ({', '.join(merged)});"
            " an alias domain has exactly one"
        )
    if is_mailbox:
        if source not in merged and not force:
            message = (
                f"{source} is a mailbox; an alias for it must keep {source} among its"
                " destinations (forward with a local copy)"
            )
            return message + ", or use --force" if offer_force else message
    elif source in merged:
        return f"alias {source} would point to itself and it is not a mailbox"
    return None


# ------------------------------------------------------------------ catch-all


def is_catchall(source: str) -> bool:
    """`@domain`: a catch-all, or an alias domain when its destination is `@domain` too."""
    return source.startswith("@")


def catchall_warning(domain: str, existing: int, new: int = 0) -> str:
    """A catch-all @domain was made (or, on import, gets new mailboxes): it shadows them."""
    also_new = f", of its {new} new one(s)" if new else ""
    return (
        f"catch-all @{domain}: with the guide's alias query it also takes the mail of"
        f" the domain's {existing} existing mailbox(es){also_new} and of every mailbox"
        f" added later; {CATCHALL_FIX}"
    )


def catchall_mailbox_warning(domain: str, email: str) -> str:
    """A mailbox was made in a domain that has a catch-all."""
    return (
        f"@{domain} has a catch-all: with the guide's alias query it takes {email}'s mail"
        f" too; {CATCHALL_FIX}"
    )


# ------------------------------------------------------------------ DKIM keys


def weak_key_warning(path: object, algorithm: str, bits: int) -> str | None:
    """An RSA signing key shorter than recommended."""
    if algorithm == "rsa" and bits < MIN_RSA_BITS:
        return f"DKIM key {path} has {bits} bits; {MIN_RSA_BITS} or more is recommended"
    return None
