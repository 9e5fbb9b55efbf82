"""HTTP routes: probes and version at the root, the domain API under /v{MAJOR_VERSION}."""
