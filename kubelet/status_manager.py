"""Writing pod status to the API server, after upstream's status manager: only when it changed, from a
copy (never the informer's object), guarded by the pod's UID so a status never lands on a new pod of
the same name, and retried on a conflict with the pod read afresh."""
from __future__ import annotations

import logging

from minik8s.api.errors import Conflict, NotFound
from minik8s.api.pb import core_pb2

from kubelet.status import status_equal

log = logging.getLogger("kubelet.status")


def _rv(obj) -> int:
    try:
        return int(obj.metadata.resourceVersion or 0)
    except ValueError:
        return 0


class StatusWriter:
    def __init__(self, client):
        self.client = client
        self.writes = 0

    @staticmethod
    def base(pod, st) -> core_pb2.PodStatus:
        """The status the next one is computed from: ours when the informer has not caught up yet."""
        if st.last_status is not None and _rv(pod) < st.last_rv:
            return st.last_status
        return pod.status

    async def write(self, pod, st, status: core_pb2.PodStatus) -> None:
        if status_equal(status, self.base(pod, st)):
            st.last_status = status
            return
        out = core_pb2.Pod()
        out.metadata.name, out.metadata.namespace = pod.metadata.name, pod.metadata.namespace
        out.metadata.uid = pod.metadata.uid
        out.metadata.resourceVersion = pod.metadata.resourceVersion
        out.status.CopyFrom(status)
        for _ in range(3):
            try:
                written = await self.client.update_status(out)
            except Conflict:
                try:
                    fresh = await self.client.get("Pod", pod.metadata.name, pod.metadata.namespace)
                except NotFound:
                    return
                if fresh.metadata.uid != pod.metadata.uid:
                    return
                out.metadata.resourceVersion = fresh.metadata.resourceVersion
                continue
            except NotFound:
                return
            self.writes += 1
            st.last_status = status
            st.last_rv = _rv(written)
            return
        log.warning("status of pod %s/%s: conflicts on every try", pod.metadata.namespace, pod.metadata.name)
