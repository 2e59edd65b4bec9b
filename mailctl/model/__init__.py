"""Pure values and rules: names, password scheme names, DKIM states."""
