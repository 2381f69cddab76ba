# The cspflow worker image: the Temporal worker that runs every cspflow workflow and activity.
# Built by docker-compose.yml (service `worker`); configured only through CSPFLOW_* environment
# variables (starter/settings.py). The CSP directory is mounted at run time, not baked in, so a
# CSP can edit it without a rebuild.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Run as an unprivileged user; /var/lib/cspflow is CSPFLOW_DATA_DIR.
RUN useradd --system --create-home --home-dir /home/cspflow cspflow \
    && mkdir -p /var/lib/cspflow \
    && chown cspflow:cspflow /var/lib/cspflow

COPY . .
RUN pip install .
# PYTHONDONTWRITEBYTECODE stops Python caching bytecode at run time, but the workflow sandbox
# imports each workflow's module afresh for every workflow run: without this cache it compiles
# the source every time (~1 ms of CPU a run; bench/README.md, benchmark 1).
RUN python -m compileall -q workflows

USER cspflow
CMD ["python", "worker.py"]
