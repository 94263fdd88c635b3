"""What the operators run: export, erasure and offboarding, with the audience rules and records they need."""
