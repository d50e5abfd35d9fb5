// Jobs: per Job its counts and its attempts, one square per pod it ran (running, succeeded, failed with
// the exit code, evicted), index by index for an Indexed Job. A pod once seen stays listed as an
// attempt after it is deleted: the page remembers it in state.seen.attempts.
import { h, byName } from "./dom.js";

const key = (o) => `${o.ns}/${o.name}`;

export function observeJobs(state) {
  for (const p of Object.values(state.objects.Pod || {})) {
    if (!p.owner || p.owner.kind !== "Job") continue;
    const attempts = state.seen.attempts[p.owner.uid] || (state.seen.attempts[p.owner.uid] = {});
    attempts[p.uid] = p;
  }
}

function attempt(p) {
  const evicted = p.reason === "Evicted" || p.reason === "DeadlineExceeded";
  const text = p.phase === "Failed" ? (p.exitCode !== null && p.exitCode !== undefined ? p.exitCode : "✗")
             : p.phase === "Succeeded" ? "✓" : "";
  return h("span", { class: `attempt phase-${p.phase}${evicted ? " evicted" : ""}`, "data-pod": key(p),
    title: `${p.name} · ${p.phase}${p.reason ? " (" + p.reason + ")" : ""}${p.exitCode ? " · exit code " + p.exitCode : ""}` }, text);
}

export function renderJobs(root, state) {
  const jobs = Object.values(state.objects.Job || {}).sort(byName);
  root.replaceChildren(...jobs.map((j) => {
    const pods = Object.values(state.seen.attempts[j.uid] || {}).sort((a, b) => a.created.localeCompare(b.created) || byName(a, b));
    let body;
    if (j.indexed) {
      const byIndex = new Map();
      for (const p of pods) { if (!byIndex.has(p.index)) byIndex.set(p.index, []); byIndex.get(p.index).push(p); }
      body = [...byIndex.keys()].sort((a, b) => +a - +b).map((i) => h("div", { class: "index" }, h("b", {}, `#${i}`), byIndex.get(i).map(attempt)));
    } else {
      body = h("div", {}, pods.map(attempt));
    }
    return h("div", { class: "job", "data-job": key(j) },
      h("div", {}, h("b", {}, key(j)), h("span", { class: "muted" },
        ` ${j.status} · ${j.succeeded}/${j.completions ?? "-"} succeeded, ${j.failed} failed, ${j.active} active`)), body);
  }));
  if (!jobs.length) root.replaceChildren(h("p", { class: "muted" }, "no Jobs"));
}
