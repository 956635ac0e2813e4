"""The GAN Studio client: a typed Python client, sync and async, and the ``gan-client`` command line. It imports
nothing of the server (httpx, Pillow and numpy only).

    from gan_client import GanClient
    samples = GanClient("http://localhost:8000").generate(model="cgan-mnist", label=7, n=16)
"""

from gan_client.client import (
    AsyncGanClient,
    Encoding,
    GanClient,
    GanClientError,
    InvalidRequest,
    ModelCard,
    NotFound,
    RateLimited,
    Sample,
    ServiceUnavailable,
    ServiceUnreachable,
    Unauthorized,
)

__all__ = ["AsyncGanClient", "Encoding", "GanClient", "GanClientError", "InvalidRequest", "ModelCard", "NotFound",
           "RateLimited", "Sample", "ServiceUnavailable", "ServiceUnreachable", "Unauthorized"]
