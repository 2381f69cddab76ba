"""`python -m bench.chaos`: the chaos run (bench/chaos/run.py)."""

from bench.chaos.run import main

main()
