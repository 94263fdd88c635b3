"""The identifier rules, pure and without I/O: one module per type, and the one registry of types."""
