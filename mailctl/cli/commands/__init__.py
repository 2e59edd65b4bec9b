"""One module per mailctl command, named like it."""
