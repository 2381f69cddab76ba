"""Benchmarks of cspflow against bare Temporal (issue 5, "Benchmarks"); none of them is a test.

Each module runs with one command, `.venv/bin/python -m bench.<name>`, starts everything it needs
itself on loopback (a Temporal dev server, an SMTP server, a records database, worker processes),
prints its figures and writes them to bench/results/<name>.json. bench/README.md lists them.
"""
