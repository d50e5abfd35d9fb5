// Building HTML and SVG elements: h(tag, attributes, ...children) and svg(...) the same in the SVG
// namespace. An attribute whose value is null or false is left out; `on*` functions become listeners.
const SVG_NS = "http://www.w3.org/2000/svg";

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export const h = (tag, attrs, ...children) => build(document.createElement(tag), attrs, children);
export const svg = (tag, attrs, ...children) => build(document.createElementNS(SVG_NS, tag), attrs, children);

// A polyline's points for samples [[t, v], ...] in a box of width w and height ht, v from 0 to max.
export function points(samples, t0, t1, max, w, ht) {
  const span = Math.max(t1 - t0, 1);
  return samples.map(([t, v]) => `${((t - t0) / span * w).toFixed(1)},${(ht - v / max * ht).toFixed(1)}`).join(" ");
}

// A step line (the value holds until the next sample), as replicas move.
export function steps(samples) {
  const out = [];
  samples.forEach(([t, v], i) => { if (i) out.push([t, samples[i - 1][1]]); out.push([t, v]); });
  return out;
}

export const byName = (a, b) => (a.ns + "/" + a.name).localeCompare(b.ns + "/" + b.name);
