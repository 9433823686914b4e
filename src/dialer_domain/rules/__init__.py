"""Rules as plain functions: no I/O, time passed in. Each has a unit test beside its name."""
