"""The HorizontalPodAutoscaler controller, after upstream's pkg/controller/podautoscaler/horizontal.go:
every sync period (15 s) each HPA reads its target's scale, asks each metric for a replica count
(Resource and ContainerResource metrics from the kubelets' PodMetrics; no custom or external
metrics API is served here), takes the highest, normalizes it (stabilization, rate policies,
min/max), writes the new count to the target and the HPA's status, with upstream's conditions
(AbleToScale, ScalingActive, ScalingLimited), reasons, messages and events.

A metric that fails may still let the HPA scale up, never down. Recommendations and scale events
live in this process (`normalize.Recommender`), as upstream keeps them in memory."""
from __future__ import annotations

import asyncio
import logging

from minik8s.api import selectors
from minik8s.api.clock import rfc3339
from minik8s.api.errors import ApiError, Conflict, NotFound
from minik8s.api.pb import autoscaling_pb2
from minik8s.api.quantity import DECIMAL_SI, Quantity, parse_quantity
from minik8s.client.events import NORMAL, WARNING
from minik8s.client.informer import copy, key_of

from minik8s.controllers.base import Controller, ControllerContext
from minik8s.controllers.podautoscaler.metrics import resource_metrics
from minik8s.controllers.podautoscaler.normalize import (DOWNSCALE_STABILIZATION_WINDOW, Policy, Recommender,
                                                         ScalingRules, convert_with_rules)
from minik8s.controllers.podautoscaler.replica_calculator import (CPU_INITIALIZATION_PERIOD, DEFAULT_TOLERANCE,
                                                                  INITIAL_READINESS_DELAY, MetricError,
                                                                  Tolerances, raw_resource_replicas,
                                                                  resource_replicas)
from minik8s.controllers.podautoscaler.scale import ScaleError, get_scale, set_scale

log = logging.getLogger("minik8s.controllers.podautoscaler")

COMPONENT = "horizontal-pod-autoscaler"
SYNC_PERIOD = 15.0                         # upstream --horizontal-pod-autoscaler-sync-period
DEFAULT_SCALE_UP = ScalingRules(0, "Max", (Policy("Pods", 4, 15), Policy("Percent", 100, 15)))
DEFAULT_SCALE_DOWN_POLICIES = (Policy("Percent", 100, 15),)

# per metric type: (the condition/event reason when it fails, how its error is introduced)
_FAILURES = {
    "Resource": ("FailedGetResourceMetric", "failed to get {name} resource metric value"),
    "ContainerResource": ("FailedGetContainerResourceMetric", "failed to get {name} container metric value"),
    "Pods": ("FailedGetPodsMetric", "failed to get pods metric value"),
    "Object": ("FailedGetObjectMetric", "failed to get object metric value"),
    "External": ("FailedGetExternalMetric", "failed to get external metric value"),
}
_METRIC_FIELDS = {"Resource": "resource", "ContainerResource": "containerResource"}
_NO_API = {"Pods": "custom", "Object": "custom", "External": "external"}


class MetricFailure(Exception):
    """A metric gave no count: `reason` and `detail` for its event and condition, the message for
    the FailedComputeMetricsReplicas summary."""

    def __init__(self, reason: str, detail: str, message: str, statuses: list | None = None):
        super().__init__(message)
        self.reason, self.detail, self.statuses = reason, detail, statuses or []


def set_condition(status, type_: str, value: str, reason: str, message: str, now: float) -> None:
    """upstream setConditionInList: lastTransitionTime moves only when the status flips."""
    cond = next((c for c in status.conditions if c.type == type_), None)
    if cond is None:
        cond = status.conditions.add(type=type_)
    if cond.status != value:
        cond.lastTransitionTime = rfc3339(now)
    cond.status, cond.reason, cond.message = value, reason, message


def _milli_text(milli: int) -> str:
    return str(Quantity(milli, -3, DECIMAL_SI))


def _rules(rules, default: ScalingRules, window: float) -> ScalingRules:
    """A behavior's scaling rules with what defaulting leaves open filled in (a scale-down window
    left unset means the controller's downscale stabilization window)."""
    if rules is None:
        return ScalingRules(window, default.select_policy, default.policies)
    return ScalingRules(
        float(rules.stabilizationWindowSeconds) if rules.HasField("stabilizationWindowSeconds") else window,
        rules.selectPolicy if rules.HasField("selectPolicy") else "Max",
        tuple(Policy(p.type, p.value, p.periodSeconds) for p in rules.policies) or default.policies)


class HorizontalController(Controller):
    name = "horizontal-pod-autoscaler"
    default_workers = 5                    # upstream --concurrent-horizontal-pod-autoscaler-syncs

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.recorder = ctx.recorder(COMPONENT)
        self.sync_period = float(ctx.setting("horizontalPodAutoscalerSyncPeriod", SYNC_PERIOD))
        self.tolerance = float(ctx.setting("horizontalPodAutoscalerTolerance", DEFAULT_TOLERANCE))
        self.downscale_window = float(ctx.setting("horizontalPodAutoscalerDownscaleStabilizationWindow",
                                                  DOWNSCALE_STABILIZATION_WINDOW))
        self.periods = (float(ctx.setting("horizontalPodAutoscalerCPUInitializationPeriod",
                                          CPU_INITIALIZATION_PERIOD)),
                        float(ctx.setting("horizontalPodAutoscalerInitialReadinessDelay", INITIAL_READINESS_DELAY)))
        self.recommender = Recommender(self.downscale_window)
        self.hpas = ctx.informers.informer("HorizontalPodAutoscaler")
        self.pods = ctx.informers.informer("Pod")
        self.pod_metrics = ctx.informers.informer("PodMetrics")
        self.hpas.add_event_handler(self._hpa_added, self._hpa_updated, self._hpa_deleted)

    # ------------------------------------------------------------------ handlers (enqueue only)
    def _hpa_added(self, hpa) -> None:
        self.enqueue(key_of(hpa))

    def _hpa_updated(self, old, cur) -> None:
        # our own status writes come back here: only a new spec (or object) is worth an early sync,
        # the sync period covers everything else
        if old.metadata.uid != cur.metadata.uid or old.metadata.generation != cur.metadata.generation:
            self.enqueue(key_of(cur))

    def _hpa_deleted(self, hpa) -> None:
        self.recommender.forget(key_of(hpa))

    # ------------------------------------------------------------------ sync
    async def sync(self, key: str) -> None:
        hpa = self.hpas.get(key)
        if hpa is None:
            self.recommender.forget(key)
            return
        try:
            await self.reconcile(key, hpa)
        except asyncio.CancelledError:
            raise
        except Exception as e:            # the next period tries again, as upstream's fixed-interval queue
            log.info("horizontal-pod-autoscaler %s: %s", key, e)
        finally:
            self.enqueue_after(key, self.sync_period)

    async def reconcile(self, key: str, shared) -> None:
        hpa = copy(shared)
        original = copy(shared.status)
        status, spec, now = hpa.status, hpa.spec, self.clock.now()
        try:
            scale = await get_scale(self.client, hpa.metadata.namespace, spec.scaleTargetRef)
        except (ScaleError, ApiError) as e:
            message = getattr(e, "message", None) or str(e)
            self.recorder.event(hpa, WARNING, "FailedGetScale", message)
            set_condition(status, "AbleToScale", "False", "FailedGetScale",
                          f"the HPA controller was unable to get the target's current scale: {message}", now)
            await self._write_status(hpa, original)
            return
        set_condition(status, "AbleToScale", "True", "SucceededGetScale",
                      "the HPA controller was able to get the target's current scale", now)
        current = scale.spec_replicas
        self.recommender.record_initial(key, current, now)
        min_replicas = spec.minReplicas if spec.HasField("minReplicas") else 1
        metric_statuses: list = []
        reason = ""
        if current == 0 and min_replicas != 0:
            set_condition(status, "ScalingActive", "False", "ScalingDisabled",
                          "scaling is disabled since the replica count of the target is zero", now)
            desired, rescale = 0, False
        elif current > spec.maxReplicas:
            desired, reason, rescale = spec.maxReplicas, "Current number of replicas above Spec.MaxReplicas", True
        elif current < min_replicas:
            desired, reason, rescale = min_replicas, "Current number of replicas below Spec.MinReplicas", True
        else:
            try:
                proposal, metric, metric_statuses = self.replicas_for_metrics(hpa, scale, now)
            except MetricFailure as e:
                self._set_status(hpa, current, status.desiredReplicas, e.statuses, False)
                await self._write_status(hpa, original)
                self.recorder.event(hpa, WARNING, "FailedComputeMetricsReplicas", str(e))
                return
            desired = proposal
            if desired > current:
                reason = f"{metric} above target"
            elif desired < current:
                reason = "All metrics below target"
            desired = self.normalize(key, hpa, current, desired, min_replicas, now)
            rescale = desired != current
        if rescale:
            try:
                await set_scale(self.client, scale, desired)
            except ApiError as e:
                self.recorder.eventf(hpa, WARNING, "FailedRescale", "New size: %d; reason: %s; error: %s",
                                     desired, reason, e.message)
                set_condition(status, "AbleToScale", "False", "FailedUpdateScale",
                              f"the HPA controller was unable to update the target scale: {e.message}", now)
                self._set_status(hpa, current, status.desiredReplicas, metric_statuses, False)
                await self._write_status(hpa, original)
                return
            set_condition(status, "AbleToScale", "True", "SucceededRescale",
                          f"the HPA controller was able to update the target scale to {desired}", now)
            self.recorder.eventf(hpa, NORMAL, "SuccessfulRescale", "New size: %d; reason: %s", desired, reason)
            if spec.HasField("behavior"):
                self.recommender.record_scale(key, *self._behavior(hpa), current, desired, now)
            log.info("rescaled %s from %d to %d: %s", key, current, desired, reason)
        else:
            desired = current
        self._set_status(hpa, current, desired, metric_statuses, rescale)
        await self._write_status(hpa, original)

    # ------------------------------------------------------------------ metrics
    def replicas_for_metrics(self, hpa, scale, now: float) -> tuple[int, str, list]:
        """upstream computeReplicasForMetrics: the highest proposal over the metrics and the status of
        each (index-aligned with spec.metrics). Raises MetricFailure (statuses in args[1]) when no
        metric gives a count, or when some fail and the rest would scale down."""
        status = hpa.status
        selector = self._selector(hpa, scale.selector, now)
        specs = list(hpa.spec.metrics)
        statuses = [autoscaling_pb2.MetricStatus() for _ in specs]
        replicas, metric, invalid, first = 0, "", 0, None
        for i, spec in enumerate(specs):
            try:
                proposal, name = self._replicas_for_metric(hpa, spec, scale, selector, statuses[i], now)
            except MetricFailure as e:
                invalid += 1
                first = first or e
                continue
            if replicas == 0 or proposal > replicas:
                replicas, metric = proposal, name
        if invalid and (invalid >= len(specs) or replicas < scale.spec_replicas):
            set_condition(status, "ScalingActive", "False", first.reason,
                          f"the HPA was unable to compute the replica count: {first.detail}", now)
            raise MetricFailure(first.reason, first.detail,
                                f"invalid metrics ({invalid} invalid out of {len(specs)}), first error is: {first}",
                                statuses)
        set_condition(status, "ScalingActive", "True", "ValidMetricFound",
                      f"the HPA was able to successfully calculate a replica count from {metric}", now)
        return replicas, metric, statuses

    def _selector(self, hpa, text: str, now: float):
        if not text:
            self.recorder.event(hpa, WARNING, "SelectorRequired", "selector is required")
            set_condition(hpa.status, "ScalingActive", "False", "InvalidSelector",
                          "the HPA target's scale is missing a selector", now)
            raise MetricFailure("InvalidSelector", "selector is required", "selector is required")
        try:
            return selectors.parse_label_selector(text)
        except selectors.SelectorError as e:
            message = f"couldn't convert selector into a corresponding internal selector object: {e}"
            self.recorder.event(hpa, WARNING, "InvalidSelector", message)
            set_condition(hpa.status, "ScalingActive", "False", "InvalidSelector", message, now)
            raise MetricFailure("InvalidSelector", message, message) from None

    def _replicas_for_metric(self, hpa, spec, scale, selector, out, now: float) -> tuple[int, str]:
        reason, intro = _FAILURES.get(spec.type, ("InvalidMetricSourceType", "invalid metric source type"))
        try:
            if spec.type == "Resource":
                src, container = spec.resource, ""
            elif spec.type == "ContainerResource":
                src, container = spec.containerResource, spec.containerResource.container
            elif spec.type in _NO_API:
                api = _NO_API[spec.type]
                raise MetricError(f"unable to fetch metrics from {api} metrics API: "
                                  f"no {api} metrics API ({api}.metrics.k8s.io) registered")
            else:
                raise MetricError(f"unknown metric source type {spec.type!r}")
            return self._resource_replicas(hpa, spec.type, src, container, scale, selector, out, now)
        except MetricError as e:
            detail = str(e)
            self.recorder.event(hpa, WARNING, reason, detail)
            name = spec.resource.name if spec.type == "Resource" else spec.containerResource.name
            raise MetricFailure(reason, detail, f"{intro.format(name=name)}: {detail}") from None

    def _resource_replicas(self, hpa, kind: str, src, container: str, scale, selector, out,
                           now: float) -> tuple[int, str]:
        """upstream computeStatusForResourceMetricGeneric: Utilization or AverageValue of a resource."""
        target, current = src.target, scale.spec_replicas
        if not target.averageValue and not target.HasField("averageUtilization"):
            raise MetricError("invalid resource metric source: neither an average utilization target "
                              "nor an average value (usage) target was set")
        utilization = not target.averageValue
        try:
            pods = [p for p in self.pods.list_namespace(hpa.metadata.namespace)
                    if selector.matches(p.metadata.labels)]
            metrics = resource_metrics(pods, self.pod_metrics.get_by, src.name, container)
            if utilization:
                p = resource_replicas(current, target.averageUtilization, src.name, pods, metrics, now,
                                      self._tolerances(hpa), container, self.periods)
            else:
                p = raw_resource_replicas(current, parse_quantity(target.averageValue).milli_value(), src.name,
                                          pods, metrics, now, self._tolerances(hpa), self.periods)
        except MetricError as e:
            raise MetricError(f"failed to get {src.name} {'utilization' if utilization else 'usage'}: {e}") \
                from None
        out.type = kind
        source = getattr(out, _METRIC_FIELDS[kind])
        source.name = src.name
        if container:
            source.container = container
        source.current.averageValue = _milli_text(p.average_value)
        if not utilization:
            return p.replicas, f"{src.name} resource"
        source.current.averageUtilization = p.utilization
        what = "container resource" if container else "resource"
        return p.replicas, f"{src.name} {what} utilization (percentage of request)"

    def _tolerances(self, hpa) -> Tolerances:
        """The controller's tolerance, or a behavior's own (upstream's configurable tolerance)."""
        out = []
        for name in ("scaleDown", "scaleUp"):
            rules = getattr(hpa.spec.behavior, name) if hpa.spec.HasField("behavior") else None
            if rules is not None and hpa.spec.behavior.HasField(name) and rules.HasField("tolerance"):
                out.append(float(parse_quantity(rules.tolerance).milli_value()) / 1000)
            else:
                out.append(self.tolerance)
        return Tolerances(*out)

    # ------------------------------------------------------------------ normalization
    def _behavior(self, hpa) -> tuple[ScalingRules, ScalingRules]:
        b = hpa.spec.behavior
        up = _rules(b.scaleUp if b.HasField("scaleUp") else None, DEFAULT_SCALE_UP, 0.0)
        down = _rules(b.scaleDown if b.HasField("scaleDown") else None,
                      ScalingRules(self.downscale_window, "Max", DEFAULT_SCALE_DOWN_POLICIES), self.downscale_window)
        return up, down

    def normalize(self, key: str, hpa, current: int, desired: int, min_replicas: int, now: float) -> int:
        status, max_replicas = hpa.status, hpa.spec.maxReplicas
        if hpa.spec.HasField("behavior"):
            up, down = self._behavior(hpa)
            stabilized, reason, message = self.recommender.stabilize_with_behavior(key, current, desired,
                                                                                   up, down, now)
            set_condition(status, "AbleToScale", "True", reason, message, now)
            limited, reason, message = self.recommender.limit_with_behavior(key, current, stabilized, min_replicas,
                                                                            max_replicas, up, down, now)
        else:
            stabilized, reason, message = self.recommender.stabilize(key, desired, now)
            set_condition(status, "AbleToScale", "True", reason, message, now)
            limited, reason, message = convert_with_rules(current, stabilized, min_replicas, max_replicas)
        set_condition(status, "ScalingLimited", "True" if limited != stabilized else "False", reason, message, now)
        return limited

    # ------------------------------------------------------------------ status
    def _set_status(self, hpa, current: int, desired: int, metric_statuses: list, rescale: bool) -> None:
        st = hpa.status
        st.currentReplicas, st.desiredReplicas = current, desired
        del st.currentMetrics[:]
        st.currentMetrics.extend(metric_statuses)
        st.observedGeneration = hpa.metadata.generation
        if rescale:
            st.lastScaleTime = rfc3339(self.clock.now())

    async def _write_status(self, hpa, original) -> None:
        """Write the status unless it is unchanged; on a conflict once more onto a fresh read."""
        if hpa.status == original:
            return
        obj = hpa
        for attempt in range(2):
            try:
                await self.client.update_status(obj)
                return
            except NotFound:
                return
            except Conflict:
                if attempt:
                    raise
                fresh = await self.client.get("HorizontalPodAutoscaler", hpa.metadata.name, hpa.metadata.namespace)
                if fresh.metadata.uid != hpa.metadata.uid:
                    return
                fresh.status.CopyFrom(hpa.status)
                obj = fresh

