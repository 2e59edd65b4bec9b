"""The OS boundary: atomic files, safe folders, processes (argv only), maildirs, the lock."""
