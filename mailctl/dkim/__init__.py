"""DKIM key material and its files."""
