"""GitLab automation for python-ci: project bootstrap, CI lint and new-service scaffolding.

Run as ``python -m scripts.gitlab_tool --help`` (or ``scripts/gitlab-tool``).
"""
