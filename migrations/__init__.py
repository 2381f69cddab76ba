"""Alembic migrations of the records database (see activities/db.py, `migrate`).

A package so the installed distribution carries the scripts and `migrate` finds them.
"""
