"""The guarded protocol overrides uvicorn internals: check_internals says loudly, by name, when they move."""

from __future__ import annotations

import pytest
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.protocol import OVERRIDDEN, GuardedHttpToolsProtocol, GuardedProtocol, check_internals

pytestmark = pytest.mark.unit


def test_the_pinned_uvicorn_has_what_the_guard_overrides():
    check_internals()  # raises otherwise
    for name in OVERRIDDEN:  # and the guard really overrides each of them
        assert name in vars(GuardedProtocol), name
    assert GuardedHttpToolsProtocol.__mro__[1:3] == (GuardedProtocol, HttpToolsProtocol)


def test_a_protocol_that_moved_is_named_in_the_error():
    class Renamed(HttpToolsProtocol):  # as a new uvicorn might: a method gone, another taking other arguments
        on_response_complete = None

        def data_received(self, chunk, more):  # noqa: ARG002
            pass

    with pytest.raises(RuntimeError) as error:
        check_internals(Renamed)
    text = str(error.value)
    assert "on_response_complete is gone" in text and "data_received now takes" in text and "pin" in text


def test_the_server_checks_before_it_serves(monkeypatch):
    import app.server

    def moved(*_):
        raise RuntimeError("uvicorn changed")

    monkeypatch.setattr(app.server, "check_internals", moved)
    from tests.helpers import shipped_settings

    with pytest.raises(RuntimeError, match="uvicorn changed"):
        app.server.uvicorn_config("127.0.0.1", 0, shipped_settings())
