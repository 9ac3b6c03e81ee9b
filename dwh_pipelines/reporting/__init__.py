"""Analyst-facing reports: static plotly pages built from dwh_db (see ``build.py``)."""
