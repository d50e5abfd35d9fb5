"""A HorizontalPodAutoscaler's row as kubectl prints it: the scale target, each metric's current value
beside its target (two shown, the rest counted), and the replica bounds."""
from __future__ import annotations

from minik8s.api import kinds

from minik8s.api.printing.cells import since
from minik8s.api.printing.columns import columns


def hpa_metrics(o) -> str:
    specs, statuses = o.spec.metrics, o.status.currentMetrics
    if not specs:
        return "<none>"
    out = []
    for i, m in enumerate(specs):
        st = statuses[i] if len(statuses) > i else None
        if m.type == "External":
            t = m.external.target
            if t.averageValue:
                cur = st.external.current.averageValue if st and st.HasField("external") and \
                    st.external.current.averageValue else "<unknown>"
                out.append(f"{cur}/{t.averageValue} (avg)")
            else:
                cur = st.external.current.value if st and st.HasField("external") else "<unknown>"
                out.append(f"{cur or '0'}/{t.value or '0'}")
        elif m.type == "Pods":
            cur = st.pods.current.averageValue if st and st.HasField("pods") else "<unknown>"
            out.append(f"{cur or '0'}/{m.pods.target.averageValue or '0'}")
        elif m.type == "Object":
            t = m.object.target
            if t.averageValue:
                cur = st.object.current.averageValue if st and st.HasField("object") and \
                    st.object.current.averageValue else "<unknown>"
                out.append(f"{cur}/{t.averageValue} (avg)")
            else:
                cur = st.object.current.value if st and st.HasField("object") else "<unknown>"
                out.append(f"{cur or '0'}/{t.value or '0'}")
        elif m.type in ("Resource", "ContainerResource"):
            src = m.resource if m.type == "Resource" else m.containerResource
            field = "resource" if m.type == "Resource" else "containerResource"
            cur_src = getattr(st, field) if st is not None and st.HasField(field) else None
            t = src.target
            if t.averageValue:
                cur = (cur_src.current.averageValue or "0") if cur_src is not None else "<unknown>"
                out.append(f"{src.name}: {cur}/{t.averageValue}")
            else:
                cur = "<unknown>"
                if cur_src is not None and cur_src.current.HasField("averageUtilization"):
                    cur = f"{cur_src.current.averageUtilization}%"
                target = f"{t.averageUtilization}%" if t.HasField("averageUtilization") else "<auto>"
                out.append(f"{src.name}: {cur}/{target}")
        else:
            out.append("<unknown type>")
    if len(out) > 2:
        return ", ".join(out[:2]) + f" + {len(out) - 2} more..."
    return ", ".join(out)


@columns(kinds.HORIZONTAL_POD_AUTOSCALER, "Name", "Reference", "Targets", "MinPods", "MaxPods", "Replicas", "Age")
def _hpa_row(o, now):
    ref = o.spec.scaleTargetRef
    return [o.metadata.name, f"{ref.kind}/{ref.name}", hpa_metrics(o),
            str(o.spec.minReplicas) if o.spec.HasField("minReplicas") else "<unset>",
            str(o.spec.maxReplicas), str(o.status.currentReplicas), since(o.metadata.creationTimestamp, now)]
