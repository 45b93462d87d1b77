"""Reads for the dashboard pages. Every function runs a fixed number of queries whatever the
row counts: aggregates in the database, related rows joined or fetched once per page."""
