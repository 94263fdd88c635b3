"""OpenLineage: what an export or an erasure read and which Criteo audiences it wrote (optional extra)."""
