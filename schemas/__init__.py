"""Pydantic models of every workflow input, update, result and record: the single source of input
truth from which the CLI, `cspflow schema`, `cspflow example` and the data converter derive."""
