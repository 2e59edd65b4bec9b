"""The files behind the DNS records that point at the server: the MTA-STS policy
(RFC 8461) and the Thunderbird and Outlook client configurations (guide §15.9).

Pure, like mailctl.dns.records: a `DnsContext` goes in, text comes out. The
`_mta-sts` TXT record carries `mta_sts_id()` of the policy, a hash of its text,
so the id changes exactly when the policy does.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from mailctl.dns.names import bare

if TYPE_CHECKING:
    from mailctl.dns.records import DnsContext

MTA_STS_ID_LENGTH = 20  # RFC 8461 §3.1: 1-32 alphanumerics
# Thunderbird and Outlook discovery URLs (guide §15.9; Outlook's POX autodiscover).
AUTOCONFIG_URL = "https://autoconfig.{domain}/mail/config-v1.1.xml"
AUTODISCOVER_URL = "https://autodiscover.{domain}/autodiscover/autodiscover.xml"
MTA_STS_URL = "https://mta-sts.{domain}/.well-known/mta-sts.txt"
AUTODISCOVER_NS = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
AUTODISCOVER_OUTLOOK_NS = (
    "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
)


def escape(text: str) -> str:
    """&, < and > as XML entities, as xml.sax.saxutils.escape does: importing that
    module loads urllib.request, 30 ms of `domain add`."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mta_sts_policy(ctx: DnsContext) -> str:
    """The RFC 8461 policy served at https://mta-sts.DOMAIN/.well-known/mta-sts.txt.

    Lines end in CRLF: §3.2 calls the fields "CRLF-separated" and its grammar
    (`sts-policy-term = LF / CRLF`) also allows LF, so CRLF satisfies both
    readings and every parser.
    """
    lines = [
        "version: STSv1",
        f"mode: {ctx.mta_sts_mode}",
        f"mx: {bare(ctx.hostname)}",
        f"max_age: {ctx.mta_sts_max_age}",
    ]
    return "".join(line + "\r\n" for line in lines)


def mta_sts_id(policy: str) -> str:
    """The `id` of the `_mta-sts` TXT record: 20 hex digits of the policy's SHA-256."""
    return hashlib.sha256(policy.encode("utf-8")).hexdigest()[:MTA_STS_ID_LENGTH]


def autoconfig_xml(domain: str, ctx: DnsContext) -> str:
    """Thunderbird's config-v1.1.xml (guide §15.9): IMAPS 993, submission 587 STARTTLS
    (the guide's entry, first, so Thunderbird prefers it) and 465 SSL when SMTPS is on."""
    d = escape(bare(domain))
    outgoing = [("587", "STARTTLS")] + ([("465", "SSL")] if ctx.smtps else [])
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<clientConfig version="1.1">',
        f'  <emailProvider id="{d}">',
        f"    <domain>{d}</domain>",
        f"    <displayName>{d} Mail</displayName>",
        f"    <displayShortName>{d}</displayShortName>",
        '    <incomingServer type="imap">',
        f"      <hostname>imap.{d}</hostname>",
        "      <port>993</port>",
        "      <socketType>SSL</socketType>",
        "      <authentication>password-cleartext</authentication>",
        "      <username>%EMAILADDRESS%</username>",
        "    </incomingServer>",
    ]
    for port, socket_type in outgoing:
        lines += [
            '    <outgoingServer type="smtp">',
            f"      <hostname>smtp.{d}</hostname>",
            f"      <port>{port}</port>",
            f"      <socketType>{socket_type}</socketType>",
            "      <authentication>password-cleartext</authentication>",
            "      <username>%EMAILADDRESS%</username>",
            "    </outgoingServer>",
        ]
    lines += ["  </emailProvider>", "</clientConfig>"]
    return "\n".join(lines) + "\n"


def autodiscover_xml(domain: str, ctx: DnsContext) -> str:
    """Outlook's POX autodiscover response (outlook/responseschema/2006a): IMAP over TLS
    on 993, and SMTP on 465 with implicit TLS when SMTPS is on, else 587 with STARTTLS
    (`Encryption` TLS). Outlook takes the first SMTP entry, so there is one. No
    LoginName: a static file cannot know the user, and Outlook then logs in with the
    full address, which is the guide's login name."""
    d = escape(bare(domain))
    smtp_port, smtp_encryption = ("465", "SSL") if ctx.smtps else ("587", "TLS")
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<Autodiscover xmlns="{AUTODISCOVER_NS}">',
        f'  <Response xmlns="{AUTODISCOVER_OUTLOOK_NS}">',
        "    <Account>",
        "      <AccountType>email</AccountType>",
        "      <Action>settings</Action>",
    ]
    for kind, server, port, encryption in (
        ("IMAP", f"imap.{d}", "993", "SSL"),
        ("SMTP", f"smtp.{d}", smtp_port, smtp_encryption),
    ):
        lines += [
            "      <Protocol>",
            f"        <Type>{kind}</Type>",
            f"        <Server>{server}</Server>",
            f"        <Port>{port}</Port>",
            "        <DomainRequired>off</DomainRequired>",
            "        <SPA>off</SPA>",
            "        <SSL>on</SSL>",
            f"        <Encryption>{encryption}</Encryption>",
            "        <AuthRequired>on</AuthRequired>",
        ]
        if kind == "SMTP":
            lines += ["        <UsePOPAuth>off</UsePOPAuth>", "        <SMTPLast>off</SMTPLast>"]
        lines.append("      </Protocol>")
    lines += ["    </Account>", "  </Response>", "</Autodiscover>"]
    return "\n".join(lines) + "\n"
