// Nodes as bins: each node a box of two columns, cpu and memory, filled from the bottom by its pods'
// requests against the node's allocatable, one segment per pod coloured by phase (terminating pods
// faded). A NotReady, cordoned or tainted node is marked. Pods not yet bound wait in a tray below.
// A bin is rebuilt only when what it draws changed, so a thousand nodes stay cheap to update.
import { h, svg, byName } from "./dom.js";

const W = 140, H = 90, GAP = 4, MIN_SEGMENT = 2;
const bins = new Map();     // node name -> { sig, el }

const podKey = (p) => `${p.ns}/${p.name}`;
const FINISHED = new Set(["Succeeded", "Failed"]);

function cpu(m) { return m >= 1000 ? `${+(m / 1000).toFixed(1)}` : `${m}m`; }
function mem(b) { return b >= 2 ** 30 ? `${+(b / 2 ** 30).toFixed(1)}Gi` : `${Math.round(b / 2 ** 20)}Mi`; }

function column(pods, x, width, resource, total) {
  let y = H;
  return pods.map((p) => {
    const height = Math.max(MIN_SEGMENT, total ? (p[resource] / total) * H : 0);
    y -= height;
    return svg("rect", { x, y: Math.max(y, 0).toFixed(1), width, height: height.toFixed(1) });
  });
}

function segments(pods, node, selected, select) {
  // one <g> per pod holding its cpu and its memory segment, so either can be clicked
  const half = (W - GAP) / 2;
  const cpuRects = column(pods, 0, half, "cpu", node.cpu);
  const memRects = column(pods, half + GAP, half, "memory", node.memory);
  return pods.map((p, i) => {
    const key = podKey(p);
    const cls = ["pod", `phase-${p.phase}`, p.deleting && "deleting", key === selected && "selected"].filter(Boolean);
    return svg("g", { class: cls.join(" "), "data-pod": key, "data-phase": p.phase, onclick: () => select(key) },
      svg("title", {}, `${key} · ${p.phase}${p.reason ? " (" + p.reason + ")" : ""}${p.deleting ? " · terminating" : ""}\n` +
                       `requests: cpu ${cpu(p.cpu)}, memory ${mem(p.memory)}`),
      cpuRects[i], memRects[i]);
  });
}

function marks(node) {
  const out = [];
  if (node.ready !== "True") out.push(h("span", { class: "mark ready", title: `Ready: ${node.ready}` }, "NotReady"));
  if (node.unschedulable) out.push(h("span", { class: "mark cordoned" }, "cordoned"));
  const taints = node.taints.filter((t) => !t.startsWith("node.kubernetes.io/unschedulable"));
  if (taints.length) out.push(h("span", { class: "mark taint", title: taints.join("\n") }, `tainted ×${taints.length}`));
  return out;
}

function bin(node, pods, selected, select) {
  const used = (r) => pods.reduce((s, p) => s + p[r], 0);
  const cls = ["node", node.ready !== "True" && "notready", node.unschedulable && "cordoned",
               node.taints.length > 0 && "tainted"].filter(Boolean);
  return h("div", { class: cls.join(" "), "data-node": node.name, "data-ready": node.ready },
    h("div", { class: "name" }, node.name),
    h("div", { class: "marks" }, marks(node)),
    svg("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}` },
      svg("rect", { class: "bin-frame", x: 0, y: 0, width: (W - GAP) / 2, height: H }),
      svg("rect", { class: "bin-frame", x: (W + GAP) / 2, y: 0, width: (W - GAP) / 2, height: H }),
      segments(pods, node, selected, select)),
    h("div", { class: "muted" }, `cpu ${cpu(used("cpu"))}/${cpu(node.cpu)} · mem ${mem(used("memory"))}/${mem(node.memory)}`,
      node.gpu ? ` · gpu ${used("gpu")}/${node.gpu}` : ""));
}

export function renderNodes(root, state, select) {
  const nodes = Object.values(state.objects.Node || {}).sort(byName);
  const byNode = new Map(), unbound = [];
  for (const p of Object.values(state.objects.Pod || {})) {
    if (FINISHED.has(p.phase)) continue;
    if (!p.node) { unbound.push(p); continue; }
    if (!byNode.has(p.node)) byNode.set(p.node, []);
    byNode.get(p.node).push(p);
  }
  const children = [];
  const names = new Set();
  for (const node of nodes) {
    const pods = (byNode.get(node.name) || []).sort((a, b) => b.cpu - a.cpu || b.memory - a.memory || byName(a, b));
    const selected = pods.some((p) => podKey(p) === state.selected) ? state.selected : null;
    const sig = JSON.stringify([node, selected, pods.map((p) => [p.ns, p.name, p.phase, p.reason, p.deleting, p.cpu, p.memory, p.gpu])]);
    let cached = bins.get(node.name);
    if (!cached || cached.sig !== sig) bins.set(node.name, cached = { sig, el: bin(node, pods, selected, select) });
    children.push(cached.el);
    names.add(node.name);
  }
  for (const name of bins.keys()) if (!names.has(name)) bins.delete(name);
  if (unbound.length) {
    children.push(h("div", { class: "unscheduled", "data-node": "" }, h("span", { class: "muted" }, "not yet bound: "),
      unbound.sort(byName).map((p) => h("span", { class: `chip phase-${p.phase}`, "data-pod": podKey(p),
        onclick: () => select(podKey(p)) }, p.name))));
  }
  if (!nodes.length) children.push(h("p", { class: "muted" }, "no nodes"));
  root.replaceChildren(...children);
}
