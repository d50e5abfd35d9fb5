# One image for every minik8s component (see docker-compose.yml). Pulls python:3.11-slim normally.
FROM python:3.11-slim
WORKDIR /src
COPY pyproject.toml README.md ./
COPY minik8s ./minik8s
COPY apiserver ./apiserver
COPY kubelet ./kubelet
COPY proto ./proto
RUN pip install --no-cache-dir '.[kubelet]'
ENV MINIK8S_HOME=/var/lib/minik8s
