"""The GAN Studio client: a typed Python client, sync and async, and the ``gan-client`` command line. It imports
nothing of the server (httpx and Pillow; numpy only for ``generate_array``, the ``numpy`` extra). Its own
distribution, in the repository's ``client/``: ``pip install ./client`` (or ``'./client[numpy]'``).

    from gan_client import AsyncGanClient, GanClient
    with GanClient("http://localhost:8000", api_key="...") as client:     # api_key: else $GAN_API_KEY
        samples = client.generate(model="cgan-mnist", label=7, n=16, seed=1)
        samples[0].image.save("seven.png")                                 # PIL images, each with its seed
        png = client.sample_png("dcgan-mnist", seed=3, n=16)               # GET /models/{name}/sample.png
        read = client.encode("infogan-mnist", "digit.png")                 # .digit, .category, .codes, .seen
        cards = client.models()                                            # ModelCards: .z_dim, .metrics, ...
    async with AsyncGanClient("http://localhost:8000") as client:          # the same methods, awaited
        samples = await client.generate(model="cgan-mnist", label=7, n=16, seed=1)

The URL also comes from GAN_URL (default http://localhost:8000), the API key from GAN_API_KEY. Errors are
``GanClientError`` subclasses with ``status``, ``detail`` (the server's error items) and ``field`` (``n``,
``terms.0.seeds``). The modules: ``client`` (the requests, retries and both clients), ``results`` (Sample,
ModelCard, Encoding), ``errors`` and ``cli`` (``gan-client``, also ``python -m gan_client``).
"""

from gan_client.client import AsyncGanClient, GanClient
from gan_client.errors import (
    GanClientError,
    InvalidRequest,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    ServiceUnreachable,
    Unauthorized,
)
from gan_client.results import Encoding, ModelCard, Sample

__all__ = ["AsyncGanClient", "Encoding", "GanClient", "GanClientError", "InvalidRequest", "ModelCard", "NotFound",
           "RateLimited", "Sample", "ServiceUnavailable", "ServiceUnreachable", "Unauthorized"]
