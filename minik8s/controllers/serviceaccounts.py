"""The serviceaccount controller, after upstream's ServiceAccountsController: every active namespace
has a ServiceAccount named `default`. A namespace's key is queued when the namespace appears and when
its `default` account is deleted; the sync creates the account when the cache lacks it (AlreadyExists
means another writer was first, which is as good)."""
from __future__ import annotations

from minik8s.api.errors import AlreadyExists, NotFound
from minik8s.api.kinds.serviceaccount import DEFAULT_NAME
from minik8s.api.pb import core_pb2

from minik8s.controllers.base import Controller, ControllerContext


class ServiceAccountsController(Controller):
    name = "serviceaccount"

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.namespaces = ctx.informers.informer("Namespace")
        self.accounts = ctx.informers.informer("ServiceAccount")
        self.namespaces.add_event_handler(self._namespace, lambda old, cur: self._namespace(cur), None)
        self.accounts.add_event_handler(None, None, self._account_deleted)

    def _namespace(self, ns) -> None:
        self.enqueue(ns.metadata.name)

    def _account_deleted(self, sa) -> None:
        if sa.metadata.name == DEFAULT_NAME:
            self.enqueue(sa.metadata.namespace)

    async def sync(self, namespace: str) -> None:
        ns = self.namespaces.get(namespace)
        if ns is None or ns.status.phase == "Terminating" or ns.metadata.deletionTimestamp:
            return
        if self.accounts.get(f"{namespace}/{DEFAULT_NAME}") is not None:
            return
        sa = core_pb2.ServiceAccount(apiVersion="v1", kind="ServiceAccount")
        sa.metadata.name, sa.metadata.namespace = DEFAULT_NAME, namespace
        try:
            await self.client.create(sa)
        except (AlreadyExists, NotFound):
            pass                # made by someone else, or the namespace is gone
