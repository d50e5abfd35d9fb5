"""A read-only image registry on loopback serving one local image, so that a Docker engine pulls
something without reaching the network: the image is exported with `docker save`, its layers gzipped,
and served under the Docker Registry HTTP API v2 (GET/HEAD of /v2/, of NAME's manifest by tag or
digest, of its blobs). The engine treats a registry on 127.0.0.0/8 as insecure: plain HTTP is allowed."""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"


def _blob(data: bytes) -> tuple[str, bytes]:
    return "sha256:" + hashlib.sha256(data).hexdigest(), data


def image_blobs(client, image: str) -> tuple[bytes, dict[str, bytes]]:
    """(manifest, digest -> blob) for `image`, a local image of the engine `client` talks to."""
    saved = tarfile.open(fileobj=io.BytesIO(b"".join(client.images.get(image).save())))
    [entry] = json.load(saved.extractfile("manifest.json"))
    config = _blob(saved.extractfile(entry["Config"]).read())
    layers = [_blob(gzip.compress(saved.extractfile(name).read(), mtime=0)) for name in entry["Layers"]]
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": len(config[1]),
                   "digest": config[0]},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": len(data),
                    "digest": digest} for digest, data in layers]}).encode()
    return manifest, dict([config, *layers, _blob(manifest)])


class Registry:
    """`with Registry(client, "minik8s/busybox:latest", "busybox") as r:` then r.image("v1") is
    "127.0.0.1:PORT/busybox:v1", pullable under any tag."""

    def __init__(self, client, image: str, name: str):
        self.name = name
        manifest, blobs = image_blobs(client, image)
        prefix = f"/v2/{name}/"

        class Handler(BaseHTTPRequestHandler):
            def do_HEAD(self):
                self._answer(body=False)

            def do_GET(self):
                self._answer(body=True)

            def _answer(self, body: bool):
                status, ctype = 200, "application/octet-stream"
                digest = self.path[len(prefix) + len("blobs/"):]
                if self.path == "/v2/":
                    data, ctype = b"{}", "application/json"
                elif self.path.startswith(prefix + "manifests/"):
                    data, ctype = manifest, MANIFEST_TYPE
                elif self.path.startswith(prefix + "blobs/") and digest in blobs:
                    data = blobs[digest]
                else:
                    status, data, ctype = 404, b'{"errors":[{"code":"NAME_UNKNOWN"}]}', "application/json"
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Docker-Content-Digest", _blob(data)[0])
                self.send_header("Docker-Distribution-API-Version", "registry/2.0")
                self.end_headers()
                if body:
                    self.wfile.write(data)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]

    def image(self, tag: str) -> str:
        return f"127.0.0.1:{self.port}/{self.name}:{tag}"

    def __enter__(self) -> "Registry":
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
