import hashlib
import http.server
import struct
import threading
from functools import partial

import pytest

from tests.helpers import write_split
from training.data import DataError, download_mnist, load_dataset, read_idx

pytestmark = pytest.mark.unit


def test_bundled_dataset_loads():
    images, labels = load_dataset("mnist-10k", "train")
    assert images.shape == (9000, 1, 28, 28) and labels.shape == (9000,)
    assert set(labels.tolist()) == set(range(10))
    test_images, _ = load_dataset("mnist-10k", "test")
    assert len(test_images) == 1000


def test_data_dir_and_corrupt_files(tmp_path):
    write_split(tmp_path, "train", 16)
    images, labels = load_dataset("mnist", "train", tmp_path)
    assert images.shape == (16, 1, 28, 28)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz"):
        load_dataset("mnist", "train", tmp_path)
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz: file not found"):
        load_dataset("mnist", "test", tmp_path)


def test_idx_size_is_checked(tmp_path):
    path = tmp_path / "x-idx1-ubyte"
    path.write_bytes(struct.pack(">II", 2049, 10) + b"\0" * 9)
    with pytest.raises(DataError, match="header promises 18"):
        read_idx(path)


@pytest.fixture
def mirror(tmp_path):
    """An HTTP server on localhost serving a fake MNIST; yields (url, checksums, request log)."""
    served = tmp_path / "served"
    served.mkdir()
    write_split(served, "train", 32, seed=1)
    write_split(served, "t10k", 8, seed=2)
    checksums = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in served.iterdir()}
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            requests.append(self.path)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(served)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/", checksums, requests
    server.shutdown()


def test_download_checks_and_caches(tmp_path, mirror):
    url, checksums, requests = mirror
    cache = tmp_path / "cache"
    download_mnist(cache, url, checksums)
    images, labels = load_dataset("mnist", "train", cache)
    assert images.shape == (32, 1, 28, 28)
    first = len(requests)
    assert first == 4
    download_mnist(cache, url, checksums)  # cached: nothing fetched again
    assert len(requests) == first


def test_download_rejects_a_wrong_checksum(tmp_path, mirror):
    url, checksums, _ = mirror
    bad = dict(checksums, **{"train-labels-idx1-ubyte.gz": "0" * 32})
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz: md5"):
        download_mnist(tmp_path / "cache", url, bad)
    assert not (tmp_path / "cache" / "train-labels-idx1-ubyte.gz").exists()


def test_download_from_a_missing_server_fails_clearly(tmp_path, mirror):
    url, checksums, _ = mirror
    with pytest.raises(DataError, match="download failed"):
        download_mnist(tmp_path / "cache", url + "nothing-here/", checksums)


def test_mnist_dataset_downloads_from_the_configured_mirror(tmp_path, mirror, monkeypatch):
    url, checksums, _ = mirror
    monkeypatch.setenv("MNIST_MIRROR", url)
    monkeypatch.setenv("GAN_DATA_CACHE", str(tmp_path / "c"))
    monkeypatch.setattr("training.data.MNIST_MD5", checksums)
    images, _ = load_dataset("mnist", "test")
    assert images.shape == (8, 1, 28, 28)
