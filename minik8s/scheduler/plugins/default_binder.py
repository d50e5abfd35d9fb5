"""DefaultBinder: bind through the API's Binding operation (sets spec.nodeName and PodScheduled once;
the pod's UID guards against binding a pod re-created under the same name).

The decision record travels with the Binding when the client can send Binding annotations (upstream
copies a Binding's annotations onto the pod in the same write); otherwise it is handed to the
background annotation writer after the bind, off the path that binds."""
from __future__ import annotations

import inspect

NAME = "DefaultBinder"


class DefaultBinder:
    name = NAME

    def __init__(self, args: dict, handle):
        self.handle = handle
        self._with_annotations = "annotations" in inspect.signature(handle.client.bind).parameters

    async def bind(self, pod, node_name: str, annotations: dict[str, str]):
        client = self.handle.client
        if annotations and self._with_annotations:
            await client.bind(pod.namespace, pod.name, node_name, pod.uid, annotations=annotations)
            return None
        await client.bind(pod.namespace, pod.name, node_name, pod.uid)
        if annotations and self.handle.annotate is not None:
            self.handle.annotate(pod, annotations)
        return None
