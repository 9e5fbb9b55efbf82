"""The job logic of the python-ci components, run inside CI jobs by `python_ci <command>`.

Standard library only, on the oldest Python the components accept (3.11): it runs on the job's own interpreter
before any environment exists. `scripts/render.py` writes this package into every template that calls it.
"""
