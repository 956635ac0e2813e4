"""``python -m bench``: the serving benchmark (bench/serving.py)."""

from bench.serving import main

main()
