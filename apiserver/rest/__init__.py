"""The Kubernetes REST API, served beside gRPC by the same process over the same registry, so kubectl
and the official client libraries work against minik8s. `app.py` routes; the other modules each own
one part of the API: discovery, OpenAPI, object CRUD, watch, patches, exec and logs."""
