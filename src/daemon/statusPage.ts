/**
 * The daemon's status page, served beside /metrics: `GET /` is one HTML page
 * (no build step, no external assets: inline CSS, SVG and script) that draws
 * `GET /status.json` every 2 s: each checked uplink with its state, latency
 * and loss and a plot of the last minutes from the history, each load balancer
 * with its targets' shares and packets, and the daemon's counters.
 */
import type { Daemon, DaemonSnapshot } from "./daemon.js";
import type { UplinkHealthView } from "./uplinkHealth.js";
import type { HistoryPoint, UplinkHistory } from "./history.js";
import type { BalancerView } from "../engine/index.js";

/** One uplink in /status.json: its health, when its state began as Unix time, and its history. */
export type StatusUplink = UplinkHealthView & { sinceAt: string; history: HistoryPoint[] };

/** The answer of GET /status.json. */
export interface StatusJson {
  apiVersion: 1;
  at: string;
  uplinks: StatusUplink[];
  balancers: BalancerView[];
  /** set when the balancers could not be read (the uplinks are still shown) */
  balancersError: string | null;
  daemon: DaemonSnapshot;
}

/** Everything the page shows, now. */
export async function statusJson(daemon: Pick<Daemon, "snapshot" | "uplinkHealth" | "balancers">, history: UplinkHistory | null): Promise<StatusJson> {
  const snap = daemon.snapshot();
  const nowWall = Date.now();
  const nowMono = performance.now();
  const uplinks = daemon.uplinkHealth().map((h) => ({
    ...h,
    // health keeps monotonic times (performance.now() of this process)
    sinceAt: new Date(nowWall - (nowMono - h.since)).toISOString(),
    history: history?.points(h.name) ?? [],
  }));
  let balancers: BalancerView[] = [];
  let balancersError: string | null = null;
  try {
    balancers = await daemon.balancers();
  } catch (e) {
    balancersError = (e as Error).message;
  }
  return { apiVersion: 1, at: new Date(nowWall).toISOString(), uplinks, balancers, balancersError, daemon: snap };
}

/** The routes the metrics server adds: `/` and `/status.json`. */
export function statusRoutes(daemon: Pick<Daemon, "snapshot" | "uplinkHealth" | "balancers">, history: UplinkHistory | null): Record<string, () => Promise<{ contentType: string; body: string }>> {
  return {
    "/": () => Promise.resolve({ contentType: "text/html; charset=utf-8", body: STATUS_PAGE }),
    "/status.json": async () => ({ contentType: "application/json", body: JSON.stringify(await statusJson(daemon, history)) }),
  };
}

/** The page. Its script builds every element from the JSON with textContent: names never become markup. */
export const STATUS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>symroute status</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 20px; color: #1d232a; background: #f6f7f9; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  h2 { font-size: 16px; margin: 22px 0 8px; }
  .muted { color: #667; }
  .card { background: #fff; border: 1px solid #dde1e6; border-radius: 6px; padding: 10px 14px; margin-bottom: 10px; }
  .uplink { display: flex; gap: 18px; align-items: center; }
  .facts { min-width: 300px; }
  .name { font-weight: 600; font-size: 15px; }
  .state { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; font-weight: 600; margin-left: 6px; }
  .state.up { background: #1f9d55; }
  .state.down { background: #d64545; }
  table { border-collapse: collapse; }
  td, th { padding: 2px 10px 2px 0; text-align: left; }
  th { font-weight: 600; color: #445; }
  .bar { display: inline-block; height: 10px; background: #3b7dd8; vertical-align: middle; }
  #error { color: #d64545; font-weight: 600; }
  svg { background: #fbfcfd; border: 1px solid #e3e6ea; }
  .legend span { margin-right: 12px; }
</style>
</head>
<body>
<h1>symroute</h1>
<div class="muted" id="meta">loading…</div>
<div id="error"></div>
<h2>Uplinks</h2>
<div class="muted legend"><span style="color:#3b7dd8">━ latency (EWMA, ms)</span><span style="color:#e08a1e">━ loss (0-100 %)</span><span style="color:#d64545">▮ down</span></div>
<div id="uplinks"></div>
<h2>Load balancers</h2>
<div id="balancers"></div>
<h2>Daemon</h2>
<div id="daemon" class="card"></div>
<script>
"use strict";
var SVGNS = "http://www.w3.org/2000/svg";
var W = 560, H = 110, PAD = 4;
function el(tag, attrs, children) {
  var e = document.createElement(tag);
  for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
  (children || []).forEach(function (c) { e.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
  return e;
}
function svg(tag, attrs) {
  var e = document.createElementNS(SVGNS, tag);
  for (var k in attrs) e.setAttribute(k, String(attrs[k]));
  return e;
}
function ms(v) { return v === null || v === undefined ? "–" : (v < 10 ? v.toFixed(2) : v.toFixed(1)) + " ms"; }
function pct(v) { return (v * 100).toFixed(v > 0 && v < 0.1 ? 1 : 0) + " %"; }
function ago(iso, now) {
  var s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 120) return s + " s";
  if (s < 7200) return Math.round(s / 60) + " min";
  return Math.round(s / 3600) + " h";
}
function plot(u) {
  var pts = u.history;
  var s = svg("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H, "data-uplink": u.name, "class": "plot" });
  if (pts.length === 0) return s;
  var t1 = pts[pts.length - 1].t, t0 = Math.min(pts[0].t, t1 - 60000);
  var max = 1;
  pts.forEach(function (p) { if (p.ewmaMs !== null && p.ewmaMs > max) max = p.ewmaMs; });
  max *= 1.2;
  var x = function (t) { return PAD + (W - 2 * PAD) * (t - t0) / Math.max(1, t1 - t0); };
  var y = function (v, top) { return H - PAD - (H - 2 * PAD) * Math.min(1, v / top); };
  // down periods as red bands
  var start = null;
  pts.forEach(function (p, i) {
    if (p.state === "down" && start === null) start = p.t;
    var last = i === pts.length - 1;
    if (start !== null && (p.state !== "down" || last)) {
      var end = p.state === "down" ? p.t + 1000 : p.t;
      s.appendChild(svg("rect", { x: x(start), y: 0, width: Math.max(2, x(end) - x(start)), height: H, fill: "#d64545", "fill-opacity": 0.15, "class": "down" }));
      start = null;
    }
  });
  var lat = [], loss = [];
  pts.forEach(function (p) {
    if (p.ewmaMs !== null) lat.push(x(p.t).toFixed(1) + "," + y(p.ewmaMs, max).toFixed(1));
    loss.push(x(p.t).toFixed(1) + "," + y(p.loss, 1).toFixed(1));
  });
  s.appendChild(svg("polyline", { points: loss.join(" "), fill: "none", stroke: "#e08a1e", "stroke-width": 1.5, "class": "loss" }));
  s.appendChild(svg("polyline", { points: lat.join(" "), fill: "none", stroke: "#3b7dd8", "stroke-width": 2, "class": "latency" }));
  var label = svg("text", { x: W - PAD - 2, y: 12, "text-anchor": "end", "font-size": 10, fill: "#667" });
  label.textContent = "max " + max.toFixed(1) + " ms, last " + Math.round((t1 - t0) / 1000) + " s";
  s.appendChild(label);
  return s;
}
function render(d) {
  var now = Date.parse(d.at);
  document.getElementById("meta").textContent = "file " + d.daemon.file + (d.daemon.netns ? ", netns " + d.daemon.netns : "") + " · updated " + new Date(now).toLocaleTimeString();
  document.getElementById("error").textContent = d.balancersError ? "balancers: " + d.balancersError : "";
  var ups = document.getElementById("uplinks");
  ups.replaceChildren();
  if (d.uplinks.length === 0) ups.appendChild(el("div", { "class": "card muted" }, ["no uplink has a check"]));
  d.uplinks.forEach(function (u) {
    var facts = el("div", { "class": "facts" }, [
      el("div", {}, [el("span", { "class": "name" }, [u.name]), el("span", { "class": "state " + u.state, "data-state": u.state }, [u.state])]),
      el("table", {}, [
        el("tr", {}, [el("th", {}, ["since"]), el("td", {}, [new Date(u.sinceAt).toLocaleTimeString() + " (" + ago(u.sinceAt, now) + ")"])]),
        el("tr", {}, [el("th", {}, ["latency"]), el("td", {}, [ms(u.ewmaMs) + " ewma, " + ms(u.lastMs) + " last"])]),
        el("tr", {}, [el("th", {}, ["loss"]), el("td", {}, [pct(u.loss)])]),
        el("tr", {}, [el("th", {}, ["transitions"]), el("td", {}, [String(u.transitions)])]),
        el("tr", {}, [el("th", {}, ["targets"]), el("td", {}, [u.targets.map(function (t) { return t.address + " " + ms(t.ewmaMs) + " " + pct(t.loss); }).join("; ")])])
      ])
    ]);
    ups.appendChild(el("div", { "class": "card uplink", "data-uplink": u.name, "data-state": u.state }, [facts, plot(u)]));
  });
  var lbs = document.getElementById("balancers");
  lbs.replaceChildren();
  if (d.balancers.length === 0) lbs.appendChild(el("div", { "class": "card muted" }, ["no load balancer"]));
  d.balancers.forEach(function (b) {
    var memory = !!b.flowMemory;
    var fast = b.targets.some(function (t) { return t.fastPackets !== undefined; });
    var rows = [el("tr", {}, [el("th", {}, ["target"]), el("th", {}, ["state"]), el("th", {}, ["check"]), el("th", {}, ["share"]), el("th", {}, [""]), el("th", {}, ["packets"])].concat(fast ? [el("th", {}, ["fast path"])] : []).concat(memory ? [el("th", {}, ["remembered"])] : []))];
    b.targets.forEach(function (t) {
      var check = t.health ? ms(t.health.ewmaMs) + " " + pct(t.health.loss) : "–";
      rows.push(el("tr", { "data-target": t.name, "data-state": t.state || "up" }, [
        el("td", {}, [t.name + (t.source === "registered" ? " (registered)" : "")]),
        el("td", {}, [t.state || "up"]),
        el("td", {}, [check]),
        el("td", {}, [pct(t.share)]),
        el("td", {}, [el("span", { "class": "bar", style: "width:" + Math.round(t.share * 200) + "px" })]),
        el("td", {}, [String(t.packets)])
      ].concat(fast ? [el("td", {}, [String(t.fastPackets || 0)])] : []).concat(memory ? [el("td", {}, [String(t.remembered || 0)])] : [])));
    });
    lbs.appendChild(el("div", { "class": "card", "data-balancer": b.name }, [
      el("div", {}, [el("span", { "class": "name" }, [b.name]), el("span", { "class": "muted" }, ["  " + b.vips.join(", ") + " · " + b.assignment + " · " + b.size + " entries" + (b.flowMemory ? " · flow memory " + b.flowMemory.timeout + "s" : " · stateless")])]),
      el("table", {}, rows)
    ]));
  });
  var s = d.daemon;
  var last = s.lastReconcile;
  var fo = s.failovers.slice(-5).reverse().map(function (f) { return f.uplink + " " + f.to + " " + ago(f.at, now) + " ago (" + f.reason + ")"; });
  document.getElementById("daemon").replaceChildren(el("table", {}, [
    el("tr", {}, [el("th", {}, ["started"]), el("td", {}, [s.startedAt + " (" + ago(s.startedAt, now) + " ago)"])]),
    el("tr", {}, [el("th", {}, ["reconciles"]), el("td", {}, [s.reconciles.ok + " ok, " + s.reconciles.failed + " failed"])]),
    el("tr", {}, [el("th", {}, ["last reconcile"]), el("td", {}, [last ? ago(last.at, now) + " ago, " + last.reason + (last.error ? ": " + last.error : "") : "–"])]),
    el("tr", {}, [el("th", {}, ["uplinks down"]), el("td", {}, [s.uplinksDown.length ? s.uplinksDown.join(", ") : "none"])]),
    el("tr", {}, [el("th", {}, ["conflicts"]), el("td", {}, [s.conflicts.length ? s.conflicts.join("; ") : "none"])]),
    el("tr", {}, [el("th", {}, ["failovers"]), el("td", {}, [fo.length ? fo.join("; ") : "none"])])
  ]));
}
function refresh() {
  fetch("status.json", { cache: "no-store" })
    .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
    .then(render)
    .catch(function (e) { document.getElementById("error").textContent = "no answer from the daemon: " + e.message; });
}
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
`;
