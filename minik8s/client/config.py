"""Where a client finds the cluster: `$MINIK8S_HOME/config.yaml` (server address, bearer token, and the
CA certificate when the server serves TLS). `minictl up` writes it, readable by its owner alone."""
from __future__ import annotations

import os
from dataclasses import dataclass


def home_dir(home: str | None = None) -> str:
    return home or os.environ.get("MINIK8S_HOME") or os.path.expanduser("~/.minik8s")


@dataclass
class ClientConfig:
    server: str
    token: str
    ca_file: str | None = None
    tls_server_name: str | None = None
    insecure_skip_tls_verify: bool = False

    @classmethod
    def load(cls, home: str | None = None, path: str | None = None) -> "ClientConfig":
        path = path or os.path.join(home_dir(home), "config.yaml")
        import yaml     # lazy: minictl start-up time
        try:
            with open(path) as f:
                data = yaml.safe_load(f) or {}
        except FileNotFoundError:
            raise FileNotFoundError(f"no cluster config at {path}: run `minictl up` first") from None
        token = data.get("token", "")
        if not token and data.get("tokenFile"):
            with open(data["tokenFile"]) as f:
                token = f.read().strip()
        return cls(server=data["server"], token=token, ca_file=data.get("certificateAuthority"),
                   tls_server_name=data.get("tlsServerName"),
                   insecure_skip_tls_verify=bool(data.get("insecureSkipTLSVerify")))

    @classmethod
    def for_component(cls, home: str | None = None, token_file: str | None = None,
                      server: str | None = None) -> "ClientConfig":
        """A control-plane component's config: the home's server and CA, with the bearer token read
        from the component's own `--token-file` and the server overridden by `--server` when given."""
        cfg = cls.load(home)
        if token_file:
            with open(token_file) as f:
                cfg.token = f.read().strip()
        if server:
            cfg.server = server
        return cfg

    def save(self, home: str | None = None, path: str | None = None) -> str:
        path = path or os.path.join(home_dir(home), "config.yaml")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        data = {"server": self.server, "token": self.token}
        if self.ca_file:
            data["certificateAuthority"] = self.ca_file
        if self.tls_server_name:
            data["tlsServerName"] = self.tls_server_name
        if self.insecure_skip_tls_verify:
            data["insecureSkipTLSVerify"] = True
        import yaml
        fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            yaml.safe_dump(data, f)
        os.replace(path + ".tmp", path)
        return path
