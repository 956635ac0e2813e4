"""``python -m app``: the same as ``gan-serve``."""

from app.cli import serve

serve()
