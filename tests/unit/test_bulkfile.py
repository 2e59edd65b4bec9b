"""The import/export file format (pure) and bulk hash checks and hashing."""

from __future__ import annotations

import pytest

from mailctl.errors import InvalidInput
from mailctl.model.sizes import exact_size, parse_size
from mailctl.passwords import parallel as bulkhash
from mailctl.passwords.hashing import hash_password, verify_password
from mailctl.transfer import fileformat as bulkfile
from mailctl.transfer.fileformat import AliasRecord, DkimRecord, Document, DomainRecord, UserRecord

SHA = (
    "{SHA512-CRYPT}$6$DWFBiWqTv8LJDAE0$QydmB/t9oeyGHmNMj/mkXmOrVt2layxEAV8Ldn"
    "8LhP26ADMG8qlOKwRiRq/kDtO9uqV2Zwb3aXQPVeMYPjuxj1"
)
KEY = DkimRecord("mail", "rsa", 2048, "active", "2026-01-02T03:04:05", "2026-01-02T03:04:05")
DOC = Document(
    domains=[DomainRecord("example.nl", (KEY,)), DomainRecord("example.org")],
    users=[UserRecord("joe@example.nl", SHA)],
    aliases=[AliasRecord("info@example.nl", ("joe@example.nl", "ann@example.org"))],
)

GOLDEN_JSON = (
    '{\n  "version": 1,\n  "domains": [\n'
    '    {"name": "example.nl", "dkim": [{"selector": "mail", "algorithm": "rsa", "bits": 2048,'
    ' "state": "active", "created_at": "2026-01-02T03:04:05", "activated_at":'
    ' "2026-01-02T03:04:05", "retired_at": null}]},\n'
    '    {"name": "example.org", "dkim": []}\n  ],\n  "users": [\n'
    f'    {{"email": "joe@example.nl", "password": "{SHA}"}}\n  ],\n  "aliases": [\n'
    '    {"source": "info@example.nl", "destinations": ["joe@example.nl", "ann@example.org"]}\n'
    "  ]\n}\n"
)
GOLDEN_CSV = (
    "kind,domain,email,password,source,destinations,selector,algorithm,bits,state,created_at,"
    "activated_at,retired_at,private_key\n"
    "domain,example.nl,,,,,,,,,,,,\n"
    "dkim,example.nl,,,,,mail,rsa,2048,active,2026-01-02T03:04:05,2026-01-02T03:04:05,,\n"
    "domain,example.org,,,,,,,,,,,,\n"
    f"user,,joe@example.nl,{SHA},,,,,,,,,,\n"
    'alias,,,,info@example.nl,"joe@example.nl,ann@example.org",,,,,,,,\n'
)


# Account policy: every field given, on records like the ones above.
POLICY_DOC = Document(
    domains=[
        DomainRecord("example.nl", (KEY,), suspended=True, suspend_reason="moved, for now",
                     receive=False, default_quota="1G", max_quota="1536M", max_users="10",
                     max_aliases="none"),
        DomainRecord("example.org"),
    ],
    users=[
        UserRecord("joe@example.nl", SHA, suspended=False, imap=False, pop3=True, smtp=False,
                   receive=True, quota="unlimited", send_as=("@example.org", "ann@example.nl")),
        UserRecord("ann@example.nl", SHA, quota="default"),
    ],
    aliases=DOC.aliases,
)
POLICY_JSON = (
    '{\n  "version": 1,\n  "domains": [\n'
    '    {"name": "example.nl", "suspended": true, "suspend_reason": "moved, for now",'
    ' "receive": false, "default_quota": "1G", "max_quota": "1536M", "max_users": 10,'
    ' "max_aliases": "none", "dkim": [{"selector": "mail", "algorithm": "rsa", "bits": 2048,'
    ' "state": "active", "created_at": "2026-01-02T03:04:05", "activated_at":'
    ' "2026-01-02T03:04:05", "retired_at": null}]},\n'
    '    {"name": "example.org", "dkim": []}\n  ],\n  "users": [\n'
    f'    {{"email": "joe@example.nl", "password": "{SHA}", "suspended": false, "imap": false,'
    ' "pop3": true, "smtp": false, "receive": true, "quota": "unlimited", "send_as":'
    ' ["@example.org", "ann@example.nl"]},\n'
    f'    {{"email": "ann@example.nl", "password": "{SHA}", "quota": "default"}}\n  ],\n'
    '  "aliases": [\n'
    '    {"source": "info@example.nl", "destinations": ["joe@example.nl", "ann@example.org"]}\n'
    "  ]\n}\n"
)
POLICY_CSV = (
    "kind,domain,email,password,source,destinations,selector,algorithm,bits,state,created_at,"
    "activated_at,retired_at,private_key,suspended,suspend_reason,imap,pop3,smtp,receive,quota,"
    "send_as,default_quota,max_quota,max_users,max_aliases\n"
    'domain,example.nl,,,,,,,,,,,,,true,"moved, for now",,,,false,,,1G,1536M,10,none\n'
    "dkim,example.nl,,,,,mail,rsa,2048,active,2026-01-02T03:04:05,2026-01-02T03:04:05,,"
    ",,,,,,,,,,,,\n"
    "domain,example.org,,,,,,,,,,,,,,,,,,,,,,,,\n"
    f'user,,joe@example.nl,{SHA},,,,,,,,,,,false,,false,true,false,true,unlimited,'
    '"@example.org,ann@example.nl",,,,\n'
    f"user,,ann@example.nl,{SHA},,,,,,,,,,,,,,,,,default,,,,,\n"
    'alias,,,,info@example.nl,"joe@example.nl,ann@example.org",,,,,,,,,,,,,,,,,,,,\n'
)


def test_render_golden() -> None:
    assert bulkfile.render(DOC, "json") == GOLDEN_JSON
    assert bulkfile.render(DOC, "csv") == GOLDEN_CSV
    assert bulkfile.render(DOC, "jsonl").splitlines()[2] == (
        '{"kind": "user", "email": "joe@example.nl", "password": "' + SHA + '"}'
    )


def test_render_golden_with_policy() -> None:
    """Policy fields only where a record gives them (the files above are unchanged by
    them), counts as JSON numbers, in CSV only the policy columns in use."""
    assert bulkfile.render(POLICY_DOC, "json") == POLICY_JSON
    assert bulkfile.render(POLICY_DOC, "csv") == POLICY_CSV
    assert bulkfile.render(POLICY_DOC, "jsonl").splitlines()[3] == (
        f'{{"kind": "user", "email": "ann@example.nl", "password": "{SHA}", "quota": "default"}}'
    )
    quota_only = Document(users=[UserRecord("ann@example.nl", SHA, quota="2G")])
    assert bulkfile.render(quota_only, "csv").splitlines() == [
        "kind,domain,email,password,source,destinations,selector,algorithm,bits,state,"
        "created_at,activated_at,retired_at,private_key,quota",
        f"user,,ann@example.nl,{SHA},,,,,,,,,,,2G",
    ]


@pytest.mark.parametrize("fmt", bulkfile.FORMATS)
def test_parse_reads_what_render_writes(fmt: str) -> None:
    with_key = Document(
        domains=[DomainRecord("example.nl", (DkimRecord(**{**KEY.__dict__, "private_key":
                                                            "-----BEGIN\nx\n-----END\n"}),))],
        users=DOC.users,
        aliases=DOC.aliases,
    )
    for doc in (DOC, with_key, POLICY_DOC):
        text = bulkfile.render(doc, fmt)
        assert bulkfile.detect_format(None, text) == fmt
        assert bulkfile.parse(text, fmt) == (doc, [])


def test_locations_json_index_paths() -> None:
    text = (
        '{"version": 1, "domains": [{"name": "a.nl", "dkim": [{"selector": "s"}]}],'
        ' "users": [{"email": "x@a.nl", "password": "h"}, {"email": "y@a.nl"},'
        ' {"email": "z@a.nl", "password": "h", "plaintext": "p"}, 5],'
        ' "aliases": [{"source": "i@a.nl", "destinations": "x@a.nl"}, {"source": "j@a.nl",'
        ' "destinations": [], "extra": 1}]}'
    )
    doc, errors = bulkfile.parse(text, "json")
    assert [str(e) for e in errors] == [
        "domains[0].dkim[0]: 'bits' must be an integer",
        "users[1]: give either 'password' (a Dovecot hash) or 'plaintext', not both or neither",
        "users[2]: give either 'password' (a Dovecot hash) or 'plaintext', not both or neither",
        "users[3]: must be an object",
        "aliases[0]: 'destinations' must be a list of addresses",
        "aliases[1]: unknown field(s) extra",
    ]
    assert doc.users == [UserRecord("x@a.nl", "h")]


def test_locations_csv_line_numbers_count_multiline_cells() -> None:
    text = (
        "kind,domain,selector,algorithm,bits,state,created_at,private_key,email,password\n"
        'domain,a.nl,,,,,,,,\n'
        'dkim,a.nl,mail,rsa,2048,active,2026-01-01T00:00:00,"-----BEGIN\nline\n-----END",,\n'
        "user,,,,,,,,x@a.nl,\n"
        "dkim,b.nl,mail,rsa,2048,active,2026-01-01T00:00:00,,,\n"
        "user,a.nl,,,,,,,y@a.nl,h\n"
    )
    doc, errors = bulkfile.parse(text, "csv")
    assert [str(e) for e in errors] == [
        "line 6: give either 'password' (a Dovecot hash) or 'plaintext', not both or neither",
        "line 7: dkim row for b.nl without a domain row for it",
        "line 8: domain: not a column of user rows (they use email, imap, password, plaintext,"
        " pop3, quota, receive, send_as, smtp, suspend_reason, suspended)",
    ]
    assert doc.domains[0].dkim[0].private_key == "-----BEGIN\nline\n-----END"


def test_bad_headers_and_versions() -> None:
    assert [str(e) for e in bulkfile.parse("email,password\n", "csv")[1]] == [
        "line 1: no 'kind' column; the header names columns from: "
        + ", ".join((*bulkfile.CSV_COLUMNS, *bulkfile.CSV_POLICY_COLUMNS))
    ]
    assert [str(e) for e in bulkfile.parse('{"version": 2}', "json")[1]] == [
        "version: is 2; this mailctl reads version 1"
    ]
    assert [str(e) for e in bulkfile.parse('{"version": 1,\n "users": [}', "json")[1]] == [
        "line 2: invalid JSON: Expecting value (column 12)"
    ]
    # which of two columns or keys of one name would count is a guess: refused
    assert [str(e) for e in bulkfile.parse("kind,email,password,email\n", "csv")[1]] == [
        "line 1: column(s) named twice: email"
    ]
    doubled = '{"version": 1, "users": [{"email": "a@x.nl", "email": "b@x.nl"}]}'
    assert [str(e) for e in bulkfile.parse(doubled, "json")[1]] == [
        "document: invalid JSON: key 'email' appears twice in one object"
    ]
    line = '{"kind": "user", "email": "a@x.nl", "email": "b@x.nl"}'
    assert [str(e) for e in bulkfile.parse(line, "jsonl")[1]] == [
        "line 1: invalid JSON: key 'email' appears twice in one object"
    ]
    deep = '{"version": 1, "users": ' + "[" * 100_000 + "]" * 100_000 + "}"
    assert [str(e) for e in bulkfile.parse(deep, "json")[1]] == [
        "document: invalid JSON: nested too deeply"
    ]


@pytest.mark.parametrize(
    ("size", "text"),
    [(1536 * 2**20, "1536M"), (2**30, "1G"), (3 * 2**40, "3T"), (1025, "1025"), (0, "0"),
     (2**63 - 1, str(2**63 - 1))],
)
def test_sizes_are_exported_whole(size: int, text: str) -> None:
    """An export's size reads back as the very same bytes (format_size's 1.5G would not)."""
    assert exact_size(size) == text
    assert parse_size(text) == size


def test_policy_fields_are_read_by_kind() -> None:
    """Flags are booleans (or true/false/1/0 text, as CSV has them), sizes and counts
    text or whole numbers, send_as a list; what a value says is the import's to check."""
    text = (
        '{"version": 1, "domains": [{"name": "a.nl", "suspended": "yes"},'
        ' {"name": "b.nl", "max_users": 1.5}, {"name": "c.nl", "max_aliases": true},'
        ' {"name": "d.nl", "max_users": 7, "default_quota": 1024, "receive": "FALSE",'
        ' "suspended": null}],'
        ' "users": [{"email": "x@a.nl", "password": "h", "send_as": "y@a.nl"},'
        ' {"email": "y@a.nl", "password": "h", "imap": 1},'
        ' {"email": "z@a.nl", "password": "h", "suspend_reason": 5},'
        ' {"email": "w@a.nl", "password": "h", "quota": ["1G"]},'
        ' {"email": "v@a.nl", "password": "h", "send_as": ["@a.nl", 3]}]}'
    )
    doc, errors = bulkfile.parse(text, "json")
    assert [str(e) for e in errors] == [
        "domains[0]: 'suspended' must be true or false",
        "domains[1]: 'max_users' must be a string or a whole number",
        "domains[2]: 'max_aliases' must be a string or a whole number",
        "users[0]: 'send_as' must be a list of addresses",
        "users[1]: 'imap' must be true or false",
        "users[2]: 'suspend_reason' must be a string",
        "users[3]: 'quota' must be a string or a whole number",
        "users[4]: 'send_as' must be a list of addresses",
    ]
    assert doc.domains == [DomainRecord("d.nl", receive=False, default_quota="1024",
                                        max_users="7")]
    csv_text = (
        "kind,domain,email,password,imap,quota,send_as,max_users\n"
        "domain,a.nl,,,,,,12\n"
        "user,,x@a.nl,h,0,500M,\"@a.nl, y@a.nl\",\n"
        "user,,y@a.nl,h,maybe,,,\n"
        "domain,b.nl,,,,1G,,\n"
    )
    doc, errors = bulkfile.parse(csv_text, "csv")
    assert [str(e) for e in errors] == [
        "line 4: 'imap' must be true or false",
        "line 5: quota: not a column of domain rows (they use default_quota, domain, max_aliases,"
        " max_quota, max_users, receive, suspend_reason, suspended)",
    ]
    assert doc.domains == [DomainRecord("a.nl", max_users="12")]
    assert doc.users == [UserRecord("x@a.nl", "h", imap=False, quota="500M",
                                    send_as=("@a.nl", "y@a.nl"))]
    # A domain row that cannot be read is one error: its dkim rows add none.
    with_key = (
        "kind,domain,suspended,selector,algorithm,bits,state,created_at\n"
        "domain,a.nl,perhaps,,,,,\n"
        "dkim,a.nl,,mail,rsa,2048,active,2026-01-01T00:00:00\n"
    )
    assert [str(e) for e in bulkfile.parse(with_key, "csv")[1]] == [
        "line 2: 'suspended' must be true or false"
    ]


@pytest.mark.parametrize(
    ("stored", "scheme"),
    [
        (SHA, "SHA512-CRYPT"),
        ("{SHA512-CRYPT}$6$rounds=10000$abc$" + "a" * 86, "SHA512-CRYPT"),
        (SHA.removeprefix("{SHA512-CRYPT}"), "SHA512-CRYPT"),  # read with the default
        ("{BLF-CRYPT}$2y$10$" + "a" * 53, "BLF-CRYPT"),
        ("{CRYPT}$2y$05$" + "a" * 53, "CRYPT"),  # Dovecot's CRYPT takes any crypt format
        ("{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$c2FsdHNhbHQ$aGFzaGhhc2g", "ARGON2ID"),
        ("{md5-crypt}$1$abcdefgh$" + "a" * 22, "MD5-CRYPT"),
    ],
)
def test_check_stored_hash_accepts(stored: str, scheme: str) -> None:
    assert bulkhash.check_stored_hash(stored, "SHA512-CRYPT") == scheme


@pytest.mark.parametrize(
    ("stored", "message"),
    [
        ("", "empty password hash"),
        (SHA[:-1], "malformed SHA512-CRYPT hash"),
        ("{SHA512-CRYPT}" + "x" * 300, "at most 255 fit"),
        ("{PLAIN}secret", "unknown password scheme {PLAIN}"),
        ("{BLF-CRYPT}$6$abc$" + "a" * 86, "malformed BLF-CRYPT hash"),
        ("{ARGON2ID}$argon2i$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA", "malformed ARGON2ID"),
        ("{SHA512-CRYPT$6$", "'{' without a valid '{SCHEME}' prefix"),
        ("plaintext-password", "malformed SHA512-CRYPT hash"),
        (SHA + " ", "blanks"),
    ],
)
def test_check_stored_hash_refuses(stored: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message.replace("{", r"\{").replace("$", r"\$")):
        bulkhash.check_stored_hash(stored, "SHA512-CRYPT")


def test_chunks_even_out_over_workers() -> None:
    assert bulkhash.chunk_size(10_000, 8) == 256
    assert bulkhash.chunk_size(1_000, 2) == 125
    assert bulkhash.chunk_size(3, 4) == 1


def test_resolve_in_a_process_pool_keeps_order_and_verified_hashes() -> None:
    params = bulkhash.HashParams("BLF-CRYPT", 4, "SHA512-CRYPT")
    existing = hash_password("password 0", "BLF-CRYPT", bcrypt_cost=4)
    jobs = [bulkhash.HashJob(f"password {i}") for i in range(bulkhash.PARALLEL_MIN + 10)]
    jobs[0] = bulkhash.HashJob("password 0", existing)  # verifies: kept as is
    jobs[1] = bulkhash.HashJob("password 1", existing)  # does not: hashed anew
    seen: list[int] = []
    results = bulkhash.resolve(jobs, params, workers=2, progress=seen.append)
    assert sum(seen) == len(jobs) and len(seen) > 2  # one tick per chunk
    assert results[0] == existing
    assert results[1] != existing
    for i in (1, 5, len(jobs) - 1):
        assert results[i].startswith("{BLF-CRYPT}$2y$04$")
        assert verify_password(f"password {i}", results[i])
