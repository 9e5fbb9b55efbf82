"""Entry point for ``python -m scripts.gitlab_tool``."""

from scripts.gitlab_tool.cli import main

raise SystemExit(main())
