"""The GAN Studio client: a typed Python client and the ``gan-client`` command line. It imports nothing of the
server (httpx, Pillow and numpy only).

    from gan_client import GanClient
    samples = GanClient("http://localhost:8000").generate(model="cgan-mnist", label=7, n=16)
"""

from gan_client.client import GanClient, GanClientError, Sample

__all__ = ["GanClient", "GanClientError", "Sample"]
