"""PlantSync's benchmarks: the `manage.py bench_*` commands and their helpers.

A Django app with no models, next to the product packages but not installed with them (see
pyproject.toml); what each benchmark measures, how to run it and the figures are in
docs/performance.md.
"""
