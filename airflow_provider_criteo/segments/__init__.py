"""Segments read from SQL: the source, reading into member sets, and operations on sorted keys."""
