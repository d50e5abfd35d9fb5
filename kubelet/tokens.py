"""The kubelet's ServiceAccount token manager (upstream pkg/kubelet/token): the token each projected
`serviceAccountToken` source asks for, requested from the API server bound to the pod, and kept until
it is due for refresh -- past 80% of its lifetime or older than 24 hours, as upstream -- so a running
pod's `token` file is replaced well before the token expires. Tokens no longer valid are dropped on
the way."""
from __future__ import annotations

from minik8s.api.clock import Clock, parse_time

MAX_AGE = 24 * 3600
REFRESH_FRACTION = 0.8


class TokenManager:
    def __init__(self, clock: Clock | None = None):
        self.clock = clock or Clock()
        # (pod uid, account, audience, seconds) -> (token, issued at, expires at)
        self._tokens: dict[tuple[str, str, str, int], tuple[str, float, float]] = {}

    async def token(self, client, pod, projection) -> str:
        """The token for `projection` (a ServiceAccountTokenProjection) of `pod`; ApiError when the
        server refuses one."""
        now = self.clock.now()
        self._tokens = {k: v for k, v in self._tokens.items() if v[2] > now}
        account = pod.spec.serviceAccountName or "default"
        seconds = projection.expirationSeconds if projection.HasField("expirationSeconds") else 3600
        key = (pod.metadata.uid, account, projection.audience, seconds)
        held = self._tokens.get(key)
        if held is not None and not self._due(held, now):
            return held[0]
        answer = await client.create_token(pod.metadata.namespace, account, seconds,
                                           [projection.audience] if projection.audience else [],
                                           ("Pod", pod.metadata.name, pod.metadata.uid))
        expires = parse_time(answer.status.expirationTimestamp) or now + seconds
        self._tokens[key] = (answer.status.token, now, expires)
        return answer.status.token

    @staticmethod
    def _due(held: tuple[str, float, float], now: float) -> bool:
        _, issued, expires = held
        return now >= issued + REFRESH_FRACTION * (expires - issued) or now - issued > MAX_AGE
