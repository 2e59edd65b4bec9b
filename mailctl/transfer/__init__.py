"""The export/import file formats (JSON, JSON Lines, CSV)."""

# Here, not in fileformat: `mailctl --help` lists `export --format` choices and must
# not load the parsers to do so.
FORMATS = ("json", "jsonl", "csv")
