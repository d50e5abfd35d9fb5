"""The root CA publisher, after upstream's root-ca-cert-publisher: every active namespace has the
ConfigMap `kube-root-ca.crt` whose `ca.crt` is the CA that verifies the API server's REST serving
certificate, which the ServiceAccount volume of each pod mounts as `ca.crt`. The CA file is the
`root-ca-file` setting (`--root-ca-file`; `minictl up` passes the cluster's), read at each sync so a
new CA reaches every namespace. A namespace's key is queued when it appears and when its ConfigMap
changes or goes; the sync writes the ConfigMap only when it differs."""
from __future__ import annotations

import logging

from minik8s.api.errors import AlreadyExists, NotFound
from minik8s.api.pb import core_pb2

from minik8s.controllers.base import Controller, ControllerContext

log = logging.getLogger("minik8s.controllers.rootcacertpublisher")

CONFIG_MAP = "kube-root-ca.crt"
DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints "
               "such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across "
               "distributions of Kubernetes clusters.")
RETRY_SECONDS = 5.0


class RootCACertPublisher(Controller):
    name = "root-ca-cert-publisher"

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.ca_file = ctx.setting("root-ca-file", "")
        self.namespaces = ctx.informers.informer("Namespace")
        self.config_maps = ctx.informers.informer("ConfigMap")
        self.namespaces.add_event_handler(self._namespace, lambda old, cur: self._namespace(cur), None)
        self.config_maps.add_event_handler(None, lambda old, cur: self._config_map(cur), self._config_map)

    def _namespace(self, ns) -> None:
        self.enqueue(ns.metadata.name)

    def _config_map(self, cm) -> None:
        if cm.metadata.name == CONFIG_MAP:
            self.enqueue(cm.metadata.namespace)

    def _ca(self) -> str | None:
        try:
            with open(self.ca_file) as f:
                return f.read()
        except OSError as e:
            log.warning("cannot read the root CA file %r: %s", self.ca_file, e)
            return None

    async def sync(self, namespace: str) -> None:
        ns = self.namespaces.get(namespace)
        if ns is None or ns.metadata.deletionTimestamp:
            return
        ca = self._ca()
        if ca is None:
            self.enqueue_after(namespace, RETRY_SECONDS)
            return
        cm = self.config_maps.get(f"{namespace}/{CONFIG_MAP}")
        if cm is not None and dict(cm.data) == {"ca.crt": ca}:
            return
        if cm is None:
            cm = core_pb2.ConfigMap(apiVersion="v1", kind="ConfigMap")
            cm.metadata.name, cm.metadata.namespace = CONFIG_MAP, namespace
            cm.metadata.annotations["kubernetes.io/description"] = DESCRIPTION
            cm.data["ca.crt"] = ca
            try:
                await self.client.create(cm)
            except (AlreadyExists, NotFound):
                pass            # another writer was first (the next event syncs it), or the namespace went
            return
        fresh = core_pb2.ConfigMap()
        fresh.CopyFrom(cm)
        fresh.data.clear()
        fresh.data["ca.crt"] = ca
        try:
            await self.client.update(fresh)
        except NotFound:
            self.enqueue(namespace)
