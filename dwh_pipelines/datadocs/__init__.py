"""Data docs generated from the live catalog: dictionary, ERD and lineage (see ``build.py``)."""
