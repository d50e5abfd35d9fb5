// Autoscaling: per HorizontalPodAutoscaler its metric against its target (the line and the dashed
// line, percent) and its replicas (the step line, against max), over the samples the feed kept.
import { h, svg, byName, points, steps } from "./dom.js";

const CW = 320, CH = 70, MIN_SPAN_S = 10;

function chart(hpa) {
  const samples = hpa.samples || [];
  if (samples.length < 1) return null;
  const now = Date.now() / 1000, t0 = Math.min(samples[0][0], now - MIN_SPAN_S);
  const until = (i) => [...samples.filter((s) => s[i] !== null).map((s) => [s[0], s[i]]),
                        ...(samples[samples.length - 1][i] !== null ? [[now, samples[samples.length - 1][i]]] : [])];
  const pct = Math.max(100, ...samples.map((s) => Math.max(s[1] || 0, s[2] || 0))) * 1.1;
  return svg("svg", { class: "chart", width: CW, height: CH + 12 },
    svg("polyline", { class: "target", points: points(until(2), t0, now, pct, CW, CH) }),
    svg("polyline", { class: "metric", points: points(until(1), t0, now, pct, CW, CH) }),
    svg("polyline", { class: "replicas", points: points(steps(until(3)), t0, now, Math.max(hpa.max, 1), CW, CH) }),
    svg("text", { x: 0, y: CH + 11 }, `${Math.round(now - t0)} s`),
    svg("text", { x: CW - 150, y: CH + 11 }, svg("tspan", { class: "metric-label" }, "metric % "),
      svg("tspan", { class: "metric-label" }, "- - target % "), svg("tspan", { class: "replicas-label" }, "replicas")));
}

export function renderAutoscaling(root, state) {
  const hpas = Object.values(state.objects.HorizontalPodAutoscaler || {}).sort(byName);
  root.replaceChildren(...hpas.map((a) => h("div", { class: "hpa", "data-hpa": `${a.ns}/${a.name}` },
    h("div", {}, h("b", {}, `${a.ns}/${a.name}`), h("span", { class: "muted" },
      ` → ${a.target} · ${a.metrics} · replicas ${a.replicas} (min ${a.min}, max ${a.max})`)),
    chart(a))));
  if (!hpas.length) root.replaceChildren(h("p", { class: "muted" }, "no HorizontalPodAutoscalers"));
}
