"""DNS records (pure), live lookups, and the checks that compare them."""
