"""The client library shared by every component: sync and asyncio API clients, informers, a work
queue and an event recorder."""
from minik8s.api.errors import (AlreadyExists, ApiError, Conflict, Expired, Forbidden, Invalid, NotFound,
                                Unauthenticated)
from minik8s.client.config import ClientConfig

__all__ = ["Client", "AsyncClient", "ClientConfig", "ApiError", "NotFound", "Conflict", "AlreadyExists",
           "Invalid", "Expired", "Unauthenticated", "Forbidden"]


def __getattr__(name):
    # lazy: `minictl` start-up pays for grpc only when it talks to the server
    if name == "Client":
        from minik8s.client.client import Client
        return Client
    if name == "AsyncClient":
        from minik8s.client.aio import AsyncClient
        return AsyncClient
    raise AttributeError(name)
