// The scheduler's decision for the selected pod, as it recorded it on the pod: per node whether it
// passed the filters (or why not) and its score from each plugin, the chosen node first.
import { h } from "./dom.js";

let shown = { key: null, table: null };

async function fetchDecision(key) {
  const resp = await fetch(`/api/decision/${key.split("/").map(encodeURIComponent).join("/")}`);
  return resp.ok ? resp.json() : null;
}

function table(rec) {
  const heads = rec.plugins.map((p, i) => (rec.weights[i] === 1 ? p : `${p} (×${rec.weights[i]})`));
  const fit = rec.rows.filter((r) => r.length === 3).length + ((rec.more || {}).feasible || 0);
  return [
    h("p", {}, h("b", {}, rec.node || "<none>"), ` chosen: ${fit} of ${rec.nodes} nodes fit`),
    h("table", { class: "decision" },
      h("tr", {}, h("th", {}, "Node"), h("th", {}, "Score"), heads.map((x) => h("th", {}, x)), h("th", {}, "Filter")),
      rec.rows.map((r) => r.length === 3
        ? h("tr", { class: r[0] === rec.node ? "chosen" : "" }, h("td", {}, r[0]), h("td", { class: "num" }, r[1]),
            r[2].map((s) => h("td", { class: "num" }, s)), h("td", {}, "passed"))
        : h("tr", { class: "filtered" }, h("td", {}, r[0]), h("td", {}), heads.map(() => h("td", {})), h("td", {}, r[1])))),
    ...(rec.more ? [h("p", { class: "muted" }, `… and ${rec.more.feasible + rec.more.filtered} more nodes: ${rec.more.feasible} passed, ` +
                                          `${rec.more.filtered} filtered out${rec.more.reasons ? " (" + rec.more.reasons + ")" : ""}`)] : []),
  ];
}

export function renderScheduler(root, state) {
  const key = state.selected;
  const pod = key && (state.objects.Pod || {})[key];
  if (!pod) { root.replaceChildren(h("p", { class: "muted" }, "select a pod in a node's bin")); shown = { key: null }; return; }
  const head = h("p", {}, h("b", {}, key), ` · ${pod.phase}${pod.node ? " on " + pod.node : ""}`);
  if (!pod.decision) { root.replaceChildren(head, h("p", { class: "muted" }, "no decision recorded (bound by name, or not yet scheduled)")); return; }
  if (shown.key === key && shown.table) { root.replaceChildren(head, ...shown.table); return; }
  shown = { key, table: null };
  fetchDecision(key).then((rec) => {
    if (state.selected !== key) return;
    shown = { key, table: rec ? table(rec) : [h("p", { class: "muted" }, "no decision recorded")] };
    root.replaceChildren(head, ...shown.table);
  });
}
