"""The managed block: admin lines untouched, block replaced, duplicates found and adopted."""

from __future__ import annotations

import pytest

from mailctl.errors import MailctlError
from mailctl.serverfiles.blocks import BEGIN, END, Merged, merge_block, unified_diff

KEY = "mail._domainkey.example.nl example.nl:mail:/etc/opendkim/keys/example.nl/mail.private"
KEY2 = "mail._domainkey.example2.nl example2.nl:mail:/etc/opendkim/keys/example2.nl/mail.private"
BLOCK = [KEY, KEY2]

SNI_23 = [
    "local_name imap.example.nl {",
    "  ssl_cert = </etc/letsencrypt/live/example.nl/fullchain.pem",
    "  ssl_key = </etc/letsencrypt/live/example.nl/privkey.pem",
    "}",
    "local_name imap.example2.nl {",
    "  ssl_cert = </etc/letsencrypt/live/example2.nl/fullchain.pem",
    "  ssl_key = </etc/letsencrypt/live/example2.nl/privkey.pem",
    "}",
]


def test_markers_are_the_specs() -> None:
    assert BEGIN == "# BEGIN mailctl managed block"
    assert END == "# END mailctl managed block"


# ------------------------------------------------------------------ merging


def test_empty_file_gets_the_block() -> None:
    assert merge_block("", BLOCK) == Merged(
        "# BEGIN mailctl managed block\n"
        "mail._domainkey.example.nl example.nl:mail:/etc/opendkim/keys/example.nl/mail.private\n"
        "mail._domainkey.example2.nl"
        " example2.nl:mail:/etc/opendkim/keys/example2.nl/mail.private\n"
        "# END mailctl managed block\n",
        (),
    )


def test_empty_file_and_empty_block_still_get_the_markers() -> None:
    merged = merge_block("", [])
    assert merged.text == "# BEGIN mailctl managed block\n# END mailctl managed block\n"
    assert merge_block(merged.text, []).text == merged.text


def test_admin_lines_without_final_newline_are_kept_and_the_block_appended() -> None:
    admin = "# my own entries\n\tweird  spacing \r\nother.example.org /k /c"
    merged = merge_block(admin, ["a.nl /k /c"])
    assert merged.text == (
        "# my own entries\n"
        "\tweird  spacing \r\n"
        "other.example.org /k /c\n"
        "\n"
        "# BEGIN mailctl managed block\n"
        "a.nl /k /c\n"
        "# END mailctl managed block\n"
    )
    assert merged.text.startswith(admin)
    assert merged.duplicates == ()


def test_file_ending_in_a_blank_line_gets_no_second_one() -> None:
    assert merge_block("# keep\n\n", ["x y"]).text == f"# keep\n\n{BEGIN}\nx y\n{END}\n"
    assert merge_block("# keep\n", ["x y"]).text == f"# keep\n\n{BEGIN}\nx y\n{END}\n"


def test_existing_block_is_replaced_and_everything_around_it_kept() -> None:
    old = (
        "# Compile with:\n"
        "# sudo postmap -F hash:/etc/postfix/vmail_ssl.map\r\n"
        "\n"
        "  # indented comment\n"
        "# BEGIN mailctl managed block\n"
        "old.example.nl /old/key /old/cert\n"
        "\n"
        "# END mailctl managed block\n"
        "\n"
        "# --- admin tail ---\n"
        "other.example.org /k /c"
    )
    merged = merge_block(old, ["example.nl /k /c", "smtp.example.nl /k /c"])
    assert merged.text == (
        "# Compile with:\n"
        "# sudo postmap -F hash:/etc/postfix/vmail_ssl.map\r\n"
        "\n"
        "  # indented comment\n"
        "# BEGIN mailctl managed block\n"
        "example.nl /k /c\n"
        "smtp.example.nl /k /c\n"
        "# END mailctl managed block\n"
        "\n"
        "# --- admin tail ---\n"
        "other.example.org /k /c\n"
    )
    assert merged.duplicates == ()


def test_block_can_be_emptied() -> None:
    old = f"a\n{BEGIN}\nx y\n{END}\nb\n"
    assert merge_block(old, []).text == f"a\n{BEGIN}\n{END}\nb\n"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n",
        "# comment only",
        "admin.example.org /k /c\n",
        "admin.example.org /k /c\n\n\n",
        f"a\n{BEGIN}\nstale\n{END}\nb",
        f"{BEGIN}\n{END}",
        f"  {BEGIN}  \r\n{END}\r\n",
    ],
)
@pytest.mark.parametrize("block", [[], BLOCK])
def test_merging_twice_changes_nothing(text: str, block: list[str]) -> None:
    once = merge_block(text, block).text
    assert once.endswith(f"{END}\n") or once.endswith("\n")
    assert merge_block(once, block).text == once
    assert merge_block(merge_block(once, ["other"]).text, block).text == once


# ------------------------------------------------------------------ duplicates: tables


def test_table_duplicates_outside_the_block_are_reported() -> None:
    text = (
        "# mail._domainkey.example.nl commented out, not a duplicate\n"
        "mail._domainkey.example.nl example.nl:mail:/old/mail.private\n"
        "other._domainkey.example.nl example.nl:other:/k\n"
        f"{BEGIN}\n"
        f"{KEY}\n"
        f"{END}\n"
        "MAIL._domainkey.EXAMPLE2.nl\texample2.nl:mail:/old2\n"
    )
    merged = merge_block(text, BLOCK)
    assert merged.duplicates == (
        "mail._domainkey.example.nl example.nl:mail:/old/mail.private",
        "MAIL._domainkey.EXAMPLE2.nl\texample2.nl:mail:/old2",
    )
    assert merged.text == (
        "# mail._domainkey.example.nl commented out, not a duplicate\n"
        "mail._domainkey.example.nl example.nl:mail:/old/mail.private\n"
        "other._domainkey.example.nl example.nl:other:/k\n"
        f"{BEGIN}\n{KEY}\n{KEY2}\n{END}\n"
        "MAIL._domainkey.EXAMPLE2.nl\texample2.nl:mail:/old2\n"
    )


def test_table_duplicates_are_removed_when_adopted() -> None:
    text = (
        "# Compile with: postmap -F\n"
        "smtp.example.nl /old/privkey.pem\n"
        "    /old/fullchain.pem\n"  # Postfix continuation line of that entry
        "keep.example.org /k /c\n"
        "/^example\\.nl$/i 554 5.7.1 Spoofed HELO (you are not me)\n"
        "    # an indented comment is not a continuation\n"
    )
    block = [
        "smtp.example.nl /k /c",
        "/^example\\.nl$/i 554 5.7.1 Spoofed HELO (you are not me)",
    ]
    assert merge_block(text, block).duplicates == (
        "smtp.example.nl /old/privkey.pem",
        "/^example\\.nl$/i 554 5.7.1 Spoofed HELO (you are not me)",
    )
    adopted = merge_block(text, block, adopt=True)
    assert adopted.duplicates == ()
    assert adopted.text == (
        "# Compile with: postmap -F\n"
        "keep.example.org /k /c\n"
        "    # an indented comment is not a continuation\n"
        "\n"
        f"{BEGIN}\n"
        "smtp.example.nl /k /c\n"
        "/^example\\.nl$/i 554 5.7.1 Spoofed HELO (you are not me)\n"
        f"{END}\n"
    )
    assert merge_block(adopted.text, block) == Merged(adopted.text, ())


def test_signing_table_duplicates() -> None:
    text = "*@example.nl old._domainkey.example.nl\n*@example3.nl mail._domainkey.example3.nl\n"
    block = ["*@example.nl mail._domainkey.example.nl"]
    assert merge_block(text, block).duplicates == ("*@example.nl old._domainkey.example.nl",)
    assert merge_block(text, block, adopt=True).text.startswith(
        "*@example3.nl mail._domainkey.example3.nl\n\n"
    )


# ------------------------------------------------------------------ duplicates: dovecot


def test_dovecot_duplicate_sections_are_reported() -> None:
    text = (
        "# admin's own\n"
        "local_name imap.example.nl {\n"
        "  ssl_cert = </old/fullchain.pem\n"
        "  ssl_key = </old/privkey.pem\n"
        "}\n"
        "local_name imap.other.org {\n"
        "  ssl_cert = </o/fullchain.pem\n"
        "}\n"
    )
    merged = merge_block(text, SNI_23, kind="dovecot")
    assert merged.duplicates == ("local_name imap.example.nl {",)
    assert merged.text == text + "\n" + "\n".join([BEGIN, *SNI_23, END]) + "\n"


def test_dovecot_duplicate_sections_are_removed_whole_when_adopted() -> None:
    text = (
        "# admin's own\n"
        "local_name imap.example.nl {\n"
        "  # old certificate\n"
        "  ssl_cert = </old/fullchain.pem\n"
        "  plugin {\n"
        "    x = y\n"
        "  }\n"
        "} # end\n"
        "local_name imap.other.org {\n"
        "  ssl_cert = </o/fullchain.pem\n"
        "}\n"
        f"{BEGIN}\n"
        f"{END}\n"
        "protocol imap {\n"
        '  local_name "imap.example2.nl" {\n'
        "    ssl_cert = </old2/fullchain.pem\n"
        "  }\n"
        "}\n"
    )
    merged = merge_block(text, SNI_23, kind="dovecot")
    assert merged.duplicates == (
        "local_name imap.example.nl {",
        '  local_name "imap.example2.nl" {',
    )
    adopted = merge_block(text, SNI_23, adopt=True, kind="dovecot")
    assert adopted.duplicates == ()
    assert adopted.text == (
        "# admin's own\n"
        "local_name imap.other.org {\n"
        "  ssl_cert = </o/fullchain.pem\n"
        "}\n"
        f"{BEGIN}\n" + "".join(f"{line}\n" for line in SNI_23) + f"{END}\n"
        "protocol imap {\n"
        "}\n"
    )
    assert merge_block(adopted.text, SNI_23, kind="dovecot") == Merged(adopted.text, ())


def test_dovecot_section_with_names_the_block_lacks_is_kept_and_reported() -> None:
    # Dovecot 2.3 lets one section serve several names; adopting it would drop
    # imap.other.org, so it stays (and stays reported) for the admin to split.
    text = 'local_name "imap.example.nl imap.other.org" {\n  ssl_cert = </x\n}\n'
    merged = merge_block(text, SNI_23, adopt=True, kind="dovecot")
    assert merged.duplicates == ('local_name "imap.example.nl imap.other.org" {',)
    assert merged.text.startswith(text)


def test_unclosed_duplicate_dovecot_section_is_an_error() -> None:
    text = "ssl = yes\nlocal_name imap.example.nl {\n  ssl_cert = </x\n"
    with pytest.raises(MailctlError, match=r"line 2 has no closing '\}'"):
        merge_block(text, SNI_23, kind="dovecot")


# ------------------------------------------------------------------ malformed


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (f"a\n{BEGIN}\nx\n", f"'{BEGIN}' on line 2 has no '{END}'"),
        (f"{END}\nx\n{BEGIN}\n", f"'{END}' on line 1 comes before '{BEGIN}' on line 3"),
        (f"{BEGIN}\nx\n{BEGIN}\n{END}\n", f"two '{BEGIN}' markers \\(lines 1 and 3\\)"),
        (f"{BEGIN}\n{END}\n{BEGIN}\n{END}\n", f"two '{BEGIN}' markers"),
        (f"{BEGIN}\n{END}\n{END}\n", f"two '{END}' markers \\(lines 2 and 3\\)"),
        (f"x\n{END}\n", f"'{END}' on line 2 has no '{BEGIN}'"),
    ],
)
def test_malformed_markers_are_refused_never_guessed(text: str, problem: str) -> None:
    with pytest.raises(MailctlError, match=problem):
        merge_block(text, BLOCK)


def test_marker_text_inside_other_lines_is_not_a_marker() -> None:
    text = f"# see '{BEGIN}' below\n"
    assert merge_block(text, []).text == f"{text}\n{BEGIN}\n{END}\n"


@pytest.mark.parametrize("bad", ["two\nlines", "cr\r", BEGIN, f"  {END}"])
def test_block_lines_that_would_corrupt_the_file_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        merge_block("", [bad])


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="kind"):
        merge_block("", [], kind="ini")


# ------------------------------------------------------------------ diff


def test_unified_diff() -> None:
    assert unified_diff("a\nb\n", "a\nb\n", "/etc/x") == ""
    assert unified_diff("a\nb\n", "a\nc\n", "/etc/postfix/vmail_ssl.map") == (
        "--- /etc/postfix/vmail_ssl.map\n"
        "+++ /etc/postfix/vmail_ssl.map\n"
        "@@ -1,2 +1,2 @@\n"
        " a\n"
        "-b\n"
        "+c\n"
    )


def test_unified_diff_marks_a_missing_final_newline() -> None:
    assert unified_diff("a", "a\n", "f") == (
        "--- f\n+++ f\n@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+a\n"
    )
    assert unified_diff("", "x\n", "f") == "--- f\n+++ f\n@@ -0,0 +1 @@\n+x\n"


def test_guide_helo_lines_with_i_flag_count_as_duplicates() -> None:
    from mailctl.serverfiles.blocks import merge_block

    admin = "/^example\\.nl$/i 554 5.7.1 Spoofed HELO (you are not me)\n"
    ours = ["/^example\\.nl$/ 554 5.7.1 Spoofed HELO (you are not me)"]
    merged = merge_block(admin, ours)
    assert merged.duplicates == (admin.rstrip("\n"),)
    adopted = merge_block(admin, ours, adopt=True)
    assert "/i" not in adopted.text and adopted.duplicates == ()
