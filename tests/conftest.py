"""Test-suite configuration."""

# Fixture projects carry their own tests (run inside pipelines, on purpose failing for some): never collect them here.
collect_ignore = ["fixtures"]
