"""A WebSocket client for tests/websocket/echo.rs: Python's `websockets`
(an implementation independent of tungstenite) against the echo route.

Usage: client.py ws://HOST:PORT/ws
Prints one line per check; exits non-zero on the first failure.
"""

import asyncio
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

TIMEOUT = 10


async def echo(url):
    async with connect(url, subprotocols=["echo"], max_size=None) as ws:
        assert ws.subprotocol == "echo", ws.subprotocol
        await ws.send("hello")
        assert await ws.recv() == "hello"
        await ws.send(b"\x00\xff")
        assert await ws.recv() == b"\x00\xff"
        # An iterable is sent as one message in fragments.
        parts = ["a" * 20000, "b" * 20000, "c" * 20000]
        await ws.send(parts)
        assert await ws.recv() == "".join(parts)
        pong = await ws.ping(b"hb")
        await asyncio.wait_for(pong, TIMEOUT)
    assert ws.close_code == 1000, ws.close_code
    print("echo ok")


async def closed_with(url, message):
    async with connect(url, max_size=None) as ws:
        await ws.send(message)
        try:
            await ws.recv()
        except ConnectionClosed as closed:
            print("closed", closed.rcvd.code if closed.rcvd else None)
            return
        raise AssertionError("the server did not close")


async def main(url):
    await asyncio.wait_for(echo(url), TIMEOUT)
    await asyncio.wait_for(closed_with(url, "x" * 100_000), TIMEOUT)
    await asyncio.wait_for(closed_with(url, "close 4000"), TIMEOUT)


asyncio.run(main(sys.argv[1]))
