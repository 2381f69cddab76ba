"""What auditors need: replay of histories against this release, timelines, deadline summaries,
tamper-evident bundles and the access log. Covers every process by reading histories and
records, with no per-process code."""
