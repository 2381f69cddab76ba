"""Workflow tests use the shared fixtures of tests/conftest.py (Temporal, worker, SMTP, records)."""
