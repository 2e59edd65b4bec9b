"""The click layer: parse, call one service, print."""
