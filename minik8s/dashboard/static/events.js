// The event stream: the newest events first, warnings marked.
import { h } from "./dom.js";

const SHOWN = 100;

export function renderEvents(root, state) {
  const events = Object.values(state.objects.Event || {}).sort((a, b) => b.time.localeCompare(a.time)).slice(0, SHOWN);
  root.replaceChildren(...events.map((e) => h("div", { class: `event ${e.type}` },
    h("span", { class: "muted" }, e.time.slice(11, 19), " "), h("span", { class: "reason" }, e.reason), " ",
    h("span", { class: "object" }, e.ns ? `${e.ns}/${e.object}` : e.object), " ", e.message,
    e.count > 1 ? h("span", { class: "muted" }, ` ×${e.count}`) : null)));
}
