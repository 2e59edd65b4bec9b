"""The managed block: mailctl's part of a file the administrator also edits.

mailctl owns only the lines between BEGIN and END; every other line stays
byte for byte. Pure text in, text out: reading and writing the file (atomic,
modes, follow-up commands) is the caller's business.

    admin line
    # BEGIN mailctl managed block
    <rendered lines>
    # END mailctl managed block
    admin line

Entries the administrator wrote outside the block that the block also
defines are reported as duplicates (the program would see the key twice) and,
with adopt=True, removed so the block's version is the only one.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from mailctl.errors import MailctlError

BEGIN = "# BEGIN mailctl managed block"
END = "# END mailctl managed block"
KINDS: tuple[str, ...] = ("table", "dovecot")

# `local_name imap.example.nl {`, also 2.3's `local_name "a.nl b.nl" {`.
_LOCAL_NAME = re.compile(r"\s*local_name\s+(?P<names>[^{]*?)\s*\{\s*")
_TRAILING_COMMENT = re.compile(r"\s+#.*$")


@dataclass(frozen=True)
class Merged:
    """The new file text and the outside lines the block duplicates."""

    text: str
    duplicates: tuple[str, ...]


def _split(text: str) -> list[str]:
    """Lines with their "\\n" kept (the last one may lack it); only "\\n" splits."""
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _bare(line: str) -> str:
    return line.rstrip("\r\n")


def _is_blank(line: str) -> bool:
    return not line.strip()


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def _find_block(lines: Sequence[str]) -> tuple[int, int] | None:
    """Indexes of the BEGIN and END lines, None without markers; malformed -> MailctlError."""
    begins = [i for i, line in enumerate(lines) if line.strip() == BEGIN]
    ends = [i for i, line in enumerate(lines) if line.strip() == END]
    if len(begins) > 1:
        raise MailctlError(
            f"two '{BEGIN}' markers (lines {begins[0] + 1} and {begins[1] + 1});"
            " fix the file by hand"
        )
    if len(ends) > 1:
        raise MailctlError(
            f"two '{END}' markers (lines {ends[0] + 1} and {ends[1] + 1}); fix the file by hand"
        )
    if begins and not ends:
        raise MailctlError(
            f"'{BEGIN}' on line {begins[0] + 1} has no '{END}' line; fix the file by hand"
        )
    if ends and not begins:
        raise MailctlError(f"'{END}' on line {ends[0] + 1} has no '{BEGIN}' line before it")
    if not begins:
        return None
    if ends[0] < begins[0]:
        raise MailctlError(
            f"'{END}' on line {ends[0] + 1} comes before '{BEGIN}' on line {begins[0] + 1};"
            " fix the file by hand"
        )
    return begins[0], ends[0]


# ------------------------------------------------------------------ tables

_PCRE_FLAGS = re.compile(r"/[a-z]*$")


def _first_field(line: str) -> str | None:
    """Lookup key of a table line (lowercased), None for comments, blanks, continuations."""
    if _is_blank(line) or _is_comment(line) or line[0] in " \t":
        return None
    key = line.split(maxsplit=1)[0].lower()
    # A PCRE pattern is the same entry whatever flags follow it: the guide's
    # "/^example\.nl$/i" duplicates our "/^example\.nl$/".
    return _PCRE_FLAGS.sub("/", key) if key.startswith("/") else key


def _table_duplicates(
    region: list[str], keys: set[str], adopt: bool
) -> tuple[list[str], list[str]]:
    """(kept lines, duplicate lines) of one outside region of a Postfix/OpenDKIM table.

    Postfix continues a logical line on following lines that start with
    whitespace; an adopted entry loses those too.
    """
    kept: list[str] = []
    found: list[str] = []
    dropping = False
    for line in region:
        if dropping and line[:1] in (" ", "\t") and not _is_blank(line) and not _is_comment(line):
            continue  # continuation of the entry being adopted
        dropping = False
        key = _first_field(line)
        if key is not None and key in keys:
            if adopt:
                dropping = True
                continue
            found.append(_bare(line))
        kept.append(line)
    return kept, found


# ------------------------------------------------------------------ dovecot


def _local_names(line: str) -> list[str] | None:
    match = _LOCAL_NAME.fullmatch(_bare(line))
    if match is None:
        return None
    names = match.group("names").strip()
    if len(names) >= 2 and names[0] == names[-1] == '"':
        names = names[1:-1]
    return [name.lower() for name in names.split()]


def _section_end(region: Sequence[str], start: int, first_line: int) -> int:
    """Index of the `}` closing the section opened at region[start]."""
    depth = 0
    for i in range(start, len(region)):
        text = region[i].strip()
        if not text or text.startswith("#"):
            continue
        text = _TRAILING_COMMENT.sub("", text)
        if text.endswith("{"):
            depth += 1
        elif text.startswith("}"):
            depth -= 1
            if depth == 0:
                return i
    raise MailctlError(
        f"section '{region[start].strip()}' on line {first_line + start} has no closing '}}'"
    )


def _dovecot_duplicates(
    region: list[str], first_line: int, names: set[str], adopt: bool
) -> tuple[list[str], list[str]]:
    """(kept lines, duplicate header lines) of one outside region of a Dovecot config.

    A section listing several names (Dovecot 2.3) is a duplicate when any of
    them is in the block, but is removed only when the block has all of them;
    otherwise it stays and stays reported.
    """
    kept: list[str] = []
    found: list[str] = []
    i = 0
    while i < len(region):
        line = region[i]
        own = _local_names(line)
        if own and any(name in names for name in own):
            end = _section_end(region, i, first_line)
            if adopt and all(name in names for name in own):
                i = end + 1
                continue
            found.append(_bare(line))
        kept.append(line)
        i += 1
    return kept, found


# ------------------------------------------------------------------ merge


def merge_block(
    text: str, block: Sequence[str], *, adopt: bool = False, kind: str = "table"
) -> Merged:
    """Put `block` (lines without newlines) between the markers of `text`.

    Lines outside the block are kept as they are (a missing final newline is
    added); without markers the block is appended, after one blank line when
    the text is non-empty and does not already end with a blank line. Merging
    the result again with the same block returns the same text.

    `kind` says how duplicates are found: "table" (KeyTable, SigningTable,
    Postfix maps, PCRE tables; same first field, compared case-insensitively)
    or "dovecot" (`local_name NAME {` sections). Malformed markers raise
    MailctlError; the caller adds the file name.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown block kind {kind!r} (one of {', '.join(KINDS)})")
    for entry in block:
        if "\n" in entry or "\r" in entry:
            raise ValueError(f"block line contains a line break: {entry!r}")
        if entry.strip() in (BEGIN, END):
            raise ValueError(f"block line is a marker: {entry!r}")

    lines = _split(text)
    span = _find_block(lines)
    if span is None:
        before, after, after_line = lines, [], len(lines) + 1
    else:
        before, after, after_line = lines[: span[0]], lines[span[1] + 1 :], span[1] + 2

    duplicates: list[str] = []
    regions: list[list[str]] = []
    if kind == "table":
        keys = {key for key in map(_first_field, block) if key is not None}
        for region in (before, after):
            kept, found = _table_duplicates(region, keys, adopt)
            regions.append(kept)
            duplicates += found
    else:
        names = {name for line in block for name in (_local_names(line) or [])}
        for region, first_line in ((before, 1), (after, after_line)):
            kept, found = _dovecot_duplicates(region, first_line, names, adopt)
            regions.append(kept)
            duplicates += found
    before, after = regions

    head = "".join(before)
    if head and not head.endswith("\n"):
        head += "\n"
    if span is None and head and not _is_blank(before[-1]):
        head += "\n"
    tail = "".join(after)
    if tail and not tail.endswith("\n"):
        tail += "\n"
    body = "".join(f"{entry}\n" for entry in block)
    return Merged(f"{head}{BEGIN}\n{body}{END}\n{tail}", tuple(duplicates))


def unified_diff(old: str, new: str, path: str) -> str:
    """`diff -u` style text from `old` to `new` (labelled `path`); "" when equal."""
    if old == new:
        return ""
    out: list[str] = []
    for line in difflib.unified_diff(_split(old), _split(new), fromfile=path, tofile=path):
        if line.endswith("\n"):
            out.append(line)
        else:
            out.append(line + "\n\\ No newline at end of file\n")
    return "".join(out)
