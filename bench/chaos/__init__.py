"""The chaos run (issue 5): mixed Community Trigger cases on a dev server with file persistence
and PostgreSQL records while the harness kills the worker, stops the SMTP server and PostgreSQL
and restarts Temporal at seeded moments; then the invariants are checked and printed.

    .venv/bin/python -m bench.chaos [--cases 200] [--seed 7] [--kills 10]
                                    [--accept-inherent-repeats]

Modules: `postgres` (a PostgreSQL instance of the run's own), `system` (the parts and the
faults), `scripts` (what each case does and where it must end), `invariants` (the checks),
`run` (the plan, the drive and the report). Everything listens on 127.0.0.1 only, and every
process started is stopped on exit, on failure too.
"""
