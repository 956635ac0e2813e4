"""``python -m gan_client``: the same as ``gan-client``."""

from gan_client.cli import cli

cli()
