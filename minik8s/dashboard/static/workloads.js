// Workloads: each Deployment with its ReplicaSets, the new one (highest revision) and the old ones that
// still hold pods, each replica a square (ready, created but not ready, or still missing), and a
// timeline of new against old ready replicas that the page records as the rollout goes; then each
// Service with its ready endpoints.
import { h, svg, byName, points, steps } from "./dom.js";

const TIMELINE_SAMPLES = 300, CW = 220, CH = 36;
const key = (o) => `${o.ns}/${o.name}`;

function replicaSets(state, d) {
  const owned = Object.values(state.objects.ReplicaSet || {}).filter((rs) => rs.owner && rs.owner.uid === d.uid);
  owned.sort((a, b) => (+b.revision || 0) - (+a.revision || 0) || byName(a, b));
  return owned;
}

// Called on every change: a sample of new vs old ready replicas per Deployment, when it moved.
export function observeWorkloads(state, now) {
  for (const d of Object.values(state.objects.Deployment || {})) {
    const [newest, ...old] = replicaSets(state, d);
    const sample = [now, newest ? newest.ready : 0, old.reduce((s, rs) => s + rs.ready, 0)];
    const series = state.seen.rollouts[key(d)] || (state.seen.rollouts[key(d)] = []);
    const last = series[series.length - 1];
    if (!last || last[1] !== sample[1] || last[2] !== sample[2]) series.push(sample);
    if (series.length > TIMELINE_SAMPLES) series.splice(0, series.length - TIMELINE_SAMPLES);
  }
}

function squares(rs) {
  const n = Math.max(rs.replicas, rs.current);
  return svg("svg", { width: Math.max(n, 1) * 12, height: 12 },
    Array.from({ length: n }, (_, i) => svg("rect", {
      x: i * 12 + 1, y: 1, width: 10, height: 10,
      class: i < rs.ready ? "phase-Running" : i < rs.current ? "phase-Pending" : "",
      fill: i < rs.current ? null : "none", stroke: "#9a9a9a" })));
}

function timeline(series) {
  if (!series || series.length < 2) return null;
  const now = Date.now() / 1000, t0 = series[0][0];
  const max = Math.max(1, ...series.map((s) => Math.max(s[1], s[2])));
  const line = (i) => steps([...series.map((s) => [s[0], s[i]]), [now, series[series.length - 1][i]]]);
  return svg("svg", { class: "chart", width: CW, height: CH },
    svg("polyline", { class: "old", points: points(line(2), t0, now, max, CW, CH - 2) }),
    svg("polyline", { class: "replicas", points: points(line(1), t0, now, max, CW, CH - 2) }));
}

function services(state) {
  const endpoints = state.objects.Endpoints || {};
  return Object.values(state.objects.Service || {}).sort(byName).map((svc) => {
    const ep = endpoints[key(svc)] || { ready: 0, notReady: 0 };
    return h("div", { class: "service", "data-service": key(svc) }, h("b", {}, key(svc)),
      h("span", { class: "muted" }, ` ${svc.type} ${svc.clusterIP || ""}${svc.ports ? ":" + svc.ports : ""} · `),
      h("span", { class: ep.ready ? "ready" : "none" }, `${ep.ready} ready`),
      ep.notReady ? h("span", { class: "muted" }, `, ${ep.notReady} not ready`) : null);
  });
}

export function renderWorkloads(root, state) {
  const deployments = Object.values(state.objects.Deployment || {}).sort(byName);
  const rows = deployments.map((d) => {
    const [newest, ...old] = replicaSets(state, d);
    const shown = [newest, ...old.filter((rs) => rs.replicas > 0 || rs.current > 0)].filter(Boolean);
    return h("div", { class: "deployment", "data-deployment": key(d) },
      h("div", {}, h("b", {}, key(d)), h("span", { class: "muted" },
        ` rev ${d.revision || "?"} · ${d.ready}/${d.replicas} ready, ${d.updated} up to date${d.progressing ? " · " + d.progressing : ""}`)),
      shown.map((rs) => h("div", { class: "replicaset", "data-replicaset": key(rs), "data-role": rs === newest ? "new" : "old" },
        h("span", { class: "label", title: rs.name }, `${rs.name} (rev ${rs.revision})`),
        h("span", { class: "muted" }, `${rs.ready}/${rs.replicas}`), squares(rs))),
      timeline(state.seen.rollouts[key(d)]));
  });
  const svcs = services(state);
  root.replaceChildren(...(rows.length ? rows : [h("p", { class: "muted" }, "no Deployments")]),
    ...(svcs.length ? [h("h3", {}, "Services ", h("small", {}, "ready endpoints")), ...svcs] : []));
}
