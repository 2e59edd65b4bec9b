"""DNS records (pure), live lookups, and the checks that compare them.

- records: the model (`Record` with its `RecordKind`, `DnsContext`) and
  `records_for()`, every record a hosted domain needs
- names: DNS name helpers (absolute, relative to a zone, containment)
- clientconfig: the MTA-STS policy and the autoconfig/autodiscover XML
- render: table, zone-file lines, complete zone, JSON objects
- lookup: the resolver and cached live lookups
- check: `dns check`, one judgement per record kind
- spf: the RFC 7208 evaluator behind the SPF judgement
"""
