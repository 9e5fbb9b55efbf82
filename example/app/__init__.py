"""Reference FastAPI service: text analytics behind X-Token auth."""
