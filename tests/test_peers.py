"""The independent peer clients (written from DESIGN.md alone) against both server kinds.

They only talk to the server through its socket, so every test here is a conformance test.
"""

from __future__ import annotations

import base64
import os
import uuid

import pytest

from fileproto.pytest_plugin import RunningServer
from tests.peers import json_only_client, text_only_client

pytestmark = [
    pytest.mark.smoke,
    pytest.mark.conformance,
    pytest.mark.parametrize("fileproto_server", ["thread", "process"], indirect=True),
]

TIMEOUT = 20.0


def unique(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:12]}.bin"


@pytest.mark.parametrize("size", [0, 1, 2, 3, 100_000, 1 << 20])
def test_json_peer_round_trip(fileproto_server: RunningServer, size: int) -> None:
    host, port = fileproto_server.host, fileproto_server.port
    name = unique("jpeer")
    content = os.urandom(size)
    response = json_only_client.upload_file(host, port, name, content, TIMEOUT)
    assert response["status"] == "OK"
    assert response["data_namafile"] == name
    names = json_only_client.list_files(host, port, TIMEOUT)
    assert name in names
    assert names == sorted(names)
    assert json_only_client.get_file(host, port, name, TIMEOUT) == content
    deleted = json_only_client.delete_file(host, port, name, TIMEOUT)
    assert deleted["data_namafile"] == name
    assert name not in json_only_client.list_files(host, port, TIMEOUT)


def test_json_peer_errors(fileproto_server: RunningServer) -> None:
    host, port = fileproto_server.host, fileproto_server.port
    name = unique("jmissing")
    with pytest.raises(json_only_client.PeerError, match="not found") as info:
        json_only_client.get_file(host, port, name, TIMEOUT)
    assert name in info.value.message
    with pytest.raises(json_only_client.PeerError, match="not found"):
        json_only_client.delete_file(host, port, name, TIMEOUT)
    with pytest.raises(json_only_client.PeerError, match="name"):
        json_only_client.upload_file(host, port, "..", b"x", TIMEOUT)
    response = json_only_client.request(host, port, {"command": "FROB", "params": []}, TIMEOUT)
    assert response["status"] == "ERROR"
    assert "unknown command" in response["data"].lower()


def test_json_peer_request_many_on_one_connection(fileproto_server: RunningServer) -> None:
    host, port = fileproto_server.host, fileproto_server.port
    name = unique("jmany")
    content = os.urandom(50_000)
    b64 = base64.b64encode(content).decode()
    responses = json_only_client.request_many(
        host,
        port,
        [
            {"command": "LIST", "params": []},
            {"params": [name, b64], "command": "put"},
            {"command": "download", "params": [name]},
            {"command": "GET", "params": [unique("jnope")]},
            {"command": "list", "params": []},
            {"command": "Delete", "params": [name]},
            {"command": "LIST", "params": []},
        ],
        TIMEOUT,
    )
    statuses = [r["status"] for r in responses]
    assert statuses == ["OK", "OK", "OK", "ERROR", "OK", "OK", "OK"], responses
    assert name not in responses[0]["data"]
    assert responses[1]["data_namafile"] == name
    assert base64.b64decode(responses[2]["data_file"]) == content
    assert "not found" in responses[3]["data"]
    assert name in responses[4]["data"]
    assert responses[5]["data_namafile"] == name
    assert name not in responses[6]["data"]


# An empty payload after a CRLF separator is ambiguous by design: space only for size 0.
TEXT_CASES = [
    pytest.param(separator, size, id=f"{label}-{size}")
    for size in (0, 1, 2, 3, 100_001, 1 << 20)
    for separator, label in ((" ", "space"), ("\r\n", "crlf"))
    if size or separator == " "
]


@pytest.mark.parametrize(("separator", "size"), TEXT_CASES)
@pytest.mark.parametrize("lowercase", [False, True], ids=["upper", "lower"])
def test_text_peer_round_trip(
    fileproto_server: RunningServer, separator: str, lowercase: bool, size: int
) -> None:
    host, port = fileproto_server.host, fileproto_server.port
    name = unique("tpeer")
    content = os.urandom(size)
    response = text_only_client.upload_file(
        host, port, name, content, TIMEOUT, separator=separator, lowercase=lowercase
    )
    assert response["data_namafile"] == name
    names = text_only_client.list_files(host, port, TIMEOUT, lowercase=lowercase)
    assert name in names
    assert names == sorted(names)
    assert text_only_client.get_file(host, port, name, TIMEOUT, lowercase=lowercase) == content
    deleted = text_only_client.delete_file(host, port, name, TIMEOUT, lowercase=lowercase)
    assert deleted["data_namafile"] == name
    assert name not in text_only_client.list_files(host, port, TIMEOUT)


@pytest.mark.parametrize("lowercase", [False, True], ids=["upper", "lower"])
def test_text_peer_errors(fileproto_server: RunningServer, lowercase: bool) -> None:
    host, port = fileproto_server.host, fileproto_server.port
    name = unique("tmissing")
    with pytest.raises(text_only_client.PeerError, match="not found") as info:
        text_only_client.get_file(host, port, name, TIMEOUT, lowercase=lowercase)
    assert name in info.value.message
    with pytest.raises(text_only_client.PeerError, match="not found"):
        text_only_client.delete_file(host, port, name, TIMEOUT, lowercase=lowercase)
    with pytest.raises(text_only_client.PeerError, match="name"):
        text_only_client.upload_file(host, port, "..", b"x", TIMEOUT, lowercase=lowercase)
    for bad in (b"FROB x\r\n\r\n", b"upload " + name.encode() + b" QUJD!\r\n\r\n", b"get\r\n\r\n"):
        response = text_only_client.raw_request(host, port, bad, TIMEOUT)
        assert response["status"] == "ERROR", (bad, response)
        assert isinstance(response["data"], str) and response["data"]
    assert name not in text_only_client.list_files(host, port, TIMEOUT)


def test_peers_see_each_others_files(fileproto_server: RunningServer) -> None:
    host, port = fileproto_server.host, fileproto_server.port
    name = unique("cross")
    content = os.urandom(30_000)
    text_only_client.upload_file(host, port, name, content, TIMEOUT, separator="\r\n")
    assert json_only_client.get_file(host, port, name, TIMEOUT) == content
    with fileproto_server.client(timeout=TIMEOUT) as client:
        assert name in client.list()
    json_only_client.upload_file(host, port, name, content[::-1], TIMEOUT)
    assert text_only_client.get_file(host, port, name, TIMEOUT, lowercase=True) == content[::-1]
    json_only_client.delete_file(host, port, name, TIMEOUT)
