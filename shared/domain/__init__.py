"""Pure, typed domain logic shared by several processes (no I/O)."""
