// The page: one EventSource on /events (a snapshot, then batches of changes), the objects it holds per
// kind, and a redraw per animation frame of the views whose kinds changed. Views are pure functions of
// this state; what a view remembers across changes (rollout timelines, a job's past attempts) it keeps
// in state.seen.
import { renderNodes } from "./nodes.js";
import { renderWorkloads, observeWorkloads } from "./workloads.js";
import { renderJobs, observeJobs } from "./jobs.js";
import { renderAutoscaling } from "./autoscaling.js";
import { renderScheduler } from "./scheduler.js";
import { renderEvents } from "./events.js";

const state = { objects: {}, user: "", selected: null, seen: { rollouts: {}, attempts: {} } };

const VIEWS = [
  { el: "nodes", kinds: ["Node", "Pod", "selected"], render: renderNodes },
  { el: "workloads", kinds: ["Deployment", "ReplicaSet", "Service", "Endpoints"], render: renderWorkloads },
  { el: "jobs", kinds: ["Job", "Pod"], render: renderJobs },
  { el: "autoscaling", kinds: ["HorizontalPodAutoscaler"], render: renderAutoscaling },
  { el: "scheduler", kinds: ["selected", "Pod"], render: renderScheduler },
  { el: "events", kinds: ["Event"], render: renderEvents },
];

let dirty = new Set();
let frame = 0;

function redraw() {
  frame = 0;
  const changed = dirty;
  dirty = new Set();
  for (const view of VIEWS) {
    if (view.kinds.some((k) => changed.has(k))) view.render(document.getElementById(view.el), state, select);
  }
}

function touch(kind) {
  dirty.add(kind);
  if (!frame) frame = requestAnimationFrame(redraw);
}

export function select(key) {
  state.selected = state.selected === key ? null : key;
  touch("selected");
}

function observe(now) {
  observeWorkloads(state, now);
  observeJobs(state);
}

function onSnapshot(msg) {
  state.objects = msg.objects;
  state.user = msg.user;
  document.getElementById("user").textContent = `as ${msg.user}`;
  observe(Date.now() / 1000);
  for (const view of VIEWS) view.kinds.forEach(touch);
}

function onChanges(changes) {
  for (const c of changes) {
    const bucket = state.objects[c.kind] || (state.objects[c.kind] = {});
    if (c.object) bucket[c.key] = c.object; else delete bucket[c.key];
    touch(c.kind);
  }
  observe(Date.now() / 1000);
}

function connect() {
  const status = document.getElementById("status");
  const source = new EventSource("/events");
  source.addEventListener("open", () => { status.textContent = "live"; status.className = "status live"; });
  source.addEventListener("error", () => { status.textContent = "reconnecting…"; status.className = "status down"; });
  source.addEventListener("snapshot", (e) => onSnapshot(JSON.parse(e.data)));
  source.addEventListener("changes", (e) => onChanges(JSON.parse(e.data)));
}

connect();
