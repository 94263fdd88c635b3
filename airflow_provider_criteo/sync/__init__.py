"""Keeping an audience in step: sync modes, the plan (diff, removal guard), the sync protocol, snapshots."""
