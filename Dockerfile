# One image for every minik8s component (see docker-compose.yml). BASE is any Python 3.11+ image:
# python:3.11-slim by default (pulled); without a network, minik8s/python-deps:3.11 that
# scripts/build-compose-base makes, which already holds the dependencies (then DEPS=present).
ARG BASE=python:3.11-slim
FROM ${BASE}
# pypi: install the dependencies with pip; present: the base has them all (and maybe no pip)
ARG DEPS=pypi
WORKDIR /src
COPY pyproject.toml README.md ./
COPY minik8s ./minik8s
COPY apiserver ./apiserver
COPY kubelet ./kubelet
COPY proto ./proto
RUN if [ "$DEPS" = pypi ]; then pip install --no-cache-dir '.[kubelet]'; \
    elif [ "$DEPS" != present ]; then echo "DEPS=$DEPS: expected pypi or present" >&2; exit 1; fi \
 && printf '#!/bin/sh\nexec python3 -m minik8s.cli.main "$@"\n' > /usr/local/bin/minictl \
 && chmod +x /usr/local/bin/minictl
# the source tree wins over an installed copy, so both ways run the same code
ENV PYTHONPATH=/src MINIK8S_HOME=/var/lib/minik8s
