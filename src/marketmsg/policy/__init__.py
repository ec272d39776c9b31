"""Rules every message must follow, whatever channel it came by: pure functions, no database, no I/O."""
