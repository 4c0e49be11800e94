// The elliptics status page: polls /status/ring, /status/nodes and
// /status/cluster and redraws the tables. Plain DOM, no framework; every
// value goes in through textContent. Elements carry stable ids, classes and
// data attributes (tr[data-node], section[data-group], [data-backend],
// tr[data-job]) for tests and scripts.
"use strict";

const INTERVAL_MS = 2000;
const PALETTE = ["#3b7dd8", "#2f9e6e", "#d9822b", "#8e5bd6", "#c94f6d", "#2aa3b8", "#7a8c2e", "#b35c3c",
  "#5465c9", "#3d8c8c", "#a8527f", "#6b7a8f"];

const last = { ring: null, nodes: null, cluster: null };

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "style") e.setAttribute("style", v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function bytes(n) {
  if (n === undefined || n === null) return "-";
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n.toFixed(0) : n.toFixed(1)) + " " + units[i];
}

function micros(us) {
  if (!us) return "-";
  if (us < 1000) return "< " + us + " µs";
  if (us < 1e6) return "< " + (us / 1000).toFixed(us < 1e4 ? 1 : 0) + " ms";
  return "< " + (us / 1e6).toFixed(1) + " s";
}

function duration(s) {
  if (!s) return "-";
  if (s < 60) return s.toFixed(0) + " s";
  if (s < 3600) return (s / 60).toFixed(0) + " min";
  if (s < 86400) return (s / 3600).toFixed(1) + " h";
  return (s / 86400).toFixed(1) + " d";
}

function num(n, digits) {
  if (n === undefined || n === null) return "-";
  return Number(n).toLocaleString("en-US", { maximumFractionDigits: digits || 0 });
}

// colorOf gives every node address a stable color, the same in every group.
const colors = new Map();
function colorOf(addr) {
  if (!colors.has(addr)) colors.set(addr, PALETTE[colors.size % PALETTE.length]);
  return colors.get(addr);
}

async function getJSON(path) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), 10000);
  try {
    const r = await fetch(path, { cache: "no-store", signal: ctl.signal, headers: { Accept: "application/json" } });
    if (!r.ok) throw new Error(path + ": HTTP " + r.status);
    return await r.json();
  } finally {
    clearTimeout(timer);
  }
}

// state merges what the node sees of a peer with the gather's outcome.
function nodeState(n, stat) {
  if (n.state === "unreachable") return { state: "unreachable", why: "dropped from the route table" };
  if (stat && !stat.reachable && n.state !== "self") return { state: "unreachable", why: stat.error || "no answer" };
  return { state: n.state, why: "" };
}

function renderNodes() {
  const nodes = last.nodes ? last.nodes.nodes : [];
  const stats = new Map(((last.cluster && last.cluster.nodes) || []).map((s) => [s.address, s]));
  const body = document.querySelector("#nodes tbody");
  const rows = [];
  let down = 0;
  for (const n of nodes) {
    const s = stats.get(n.address);
    const st = nodeState(n, s);
    if (st.state === "unreachable") down++;
    const up = s && s.reachable;
    const free = up && s.disk_total_bytes ? bytes(s.disk_free_bytes) + " (" +
      (100 * s.disk_free_bytes / s.disk_total_bytes).toFixed(0) + "%)" : "-";
    const badge = el("span", { class: "badge", title: st.why || null }, st.state);
    const cells = [
      el("td", { class: "addr", "data-field": "address" }, el("span", { class: "swatch", style: "background:" + colorOf(n.address) }), n.address),
      el("td", { class: "state", "data-field": "state" }, badge),
      el("td", { class: "num", "data-field": "backends" }, n.backends || "-"),
      el("td", { "data-field": "groups" }, n.groups && n.groups.length ? n.groups.join(", ") : "-"),
    ];
    if (up) {
      cells.push(
        el("td", { class: "num", "data-field": "rps" }, num(s.requests_per_s, 1)),
        el("td", { class: "num", "data-field": "p50" }, micros(s.p50_us)),
        el("td", { class: "num", "data-field": "p99" }, micros(s.p99_us)),
        el("td", { class: "num", "data-field": "eps" }, num(s.errors_per_s, 1)),
        el("td", { class: "num", "data-field": "objects" }, num(s.objects)),
        el("td", { class: "num", "data-field": "bytes" }, bytes(s.bytes)),
        el("td", { class: "num", "data-field": "disk-free" }, free),
        el("td", { class: "num", "data-field": "load" }, s.load === undefined ? "-" : s.load.toFixed(2)),
        el("td", { class: "num", "data-field": "rss" }, bytes(s.rss_bytes)),
        el("td", { class: "num", "data-field": "latency" }, n.latency_us ? micros(n.latency_us).replace("< ", "") : "-"));
      cells[0].title = "ellipticsd " + (s.version || "?") + ", up " + duration(s.uptime_s) + ", " +
        num(s.requests) + " requests, " + num(s.errors) + " errors since start";
    } else {
      const why = st.state === "unreachable" ? "unreachable: " + st.why +
        (n.state === "unreachable" ? " (last seen " + new Date(n.last_seen).toLocaleTimeString() + ")" : "")
        : (last.cluster ? "no statistics" : "loading…");
      cells.push(el("td", { colspan: 10, class: "unreachable-reason", "data-field": "reason" }, why));
    }
    rows.push(el("tr", { "data-node": n.address, "data-state": st.state, class: "state-" + st.state }, ...cells));
  }
  body.replaceChildren(...rows);
  document.getElementById("nodes-count").textContent =
    "(" + nodes.length + (down ? ", " + down + " unreachable" : "") + ")";
}

function renderRing() {
  const ring = last.ring;
  const box = document.getElementById("ring");
  if (!ring) return;
  document.getElementById("table-version").textContent = ring.version;
  const groups = [];
  for (const g of ring.groups) {
    const bar = el("div", { class: "ring-bar", role: "img", "aria-label": "group " + g.group + " ring shares" });
    const rows = [];
    let total = 0;
    for (const b of g.backends) {
      const name = b.address + "/" + b.backend;
      const pct = b.share_percent;
      total += pct;
      const label = pct.toFixed(2) + "%";
      bar.append(el("span", {
        class: "share" + (b.read_only ? " read-only" : ""), "data-backend": name, "data-share": pct.toFixed(4),
        style: "width:" + pct.toFixed(4) + "%;background:" + colorOf(b.address), title: name + ": " + label,
      }, pct >= 8 ? label : ""));
      rows.push(el("tr", { "data-backend": name },
        el("td", { class: "addr" }, el("span", { class: "swatch", style: "background:" + colorOf(b.address) }), b.address),
        el("td", { class: "num" }, b.backend),
        el("td", { class: "num" }, b.points),
        el("td", { class: "num share", "data-field": "share" }, label),
        el("td", {}, b.read_only ? "read-only" : "")));
    }
    const table = el("table", { class: "backends" },
      el("thead", {}, el("tr", {}, el("th", {}, "node"), el("th", { class: "num" }, "backend"),
        el("th", { class: "num" }, "points"), el("th", { class: "num" }, "share"), el("th", {}, ""))),
      el("tbody", {}, ...rows));
    groups.push(el("section", { class: "group", "data-group": g.group, "data-total": total.toFixed(2) },
      el("h3", {}, "Group " + g.group + " · " + g.nodes + (g.nodes === 1 ? " node" : " nodes") + " · " +
        g.backends.length + (g.backends.length === 1 ? " backend" : " backends") + " · " + g.points + " points"),
      bar, table));
  }
  // Groups of nodes dropped from the route table that no backend serves
  // any more: the data of such a group is out of reach.
  const lost = new Map();
  for (const n of (last.nodes && last.nodes.nodes) || []) {
    for (const g of n.groups || []) {
      if (ring.groups.some((rg) => rg.group === g)) continue;
      if (!lost.has(g)) lost.set(g, []);
      lost.get(g).push(n.address);
    }
  }
  for (const [g, addrs] of [...lost.entries()].sort((a, b) => a[0] - b[0])) {
    groups.push(el("section", { class: "group missing", "data-group": g, "data-missing": true },
      el("h3", {}, "Group " + g + " · no backend in the route table"),
      el("p", { class: "error" }, "Every node of group " + g + " is unreachable (" + addrs.join(", ") +
        "): its copies cannot be read or written.")));
  }
  if (groups.length === 0) groups.push(el("p", { class: "empty" }, "The route table is empty."));
  box.replaceChildren(...groups);
  document.getElementById("groups-count").textContent = "(" + ring.groups.length +
    (ring.groups.length === 1 ? " group)" : " groups)");
}

function renderRecovery() {
  const box = document.getElementById("recovery");
  const rows = [];
  // Jobs at work first (running, paused), then the finished ones; newest
  // first within each, by node.
  const jobs = [];
  for (const n of (last.cluster && last.cluster.nodes) || []) {
    for (const j of n.recovery || []) jobs.push([n, j]);
  }
  const finished = (j) => (j.state === "done" || j.state === "failed" || j.state === "stopped" ? 1 : 0);
  jobs.sort((a, b) => finished(a[1]) - finished(b[1]));
  for (const [n, j] of jobs) {
    const known = j.percent !== undefined;
    const cls = "fill" + (!known ? " unknown" : j.state === "done" ? " done" : j.state === "failed" ? " failed" : "");
    const bar = el("div", { class: "progress", title: known ? j.percent.toFixed(1) + "%" : "total unknown" },
      el("div", { class: cls, style: known ? "width:" + j.percent.toFixed(2) + "%" : null }));
    const eta = j.state === "running" && j.eta ? duration(j.eta) : "-";
    rows.push(el("tr", { "data-job": n.address + "/" + j.id, "data-state": j.state },
      el("td", { class: "addr" }, n.address),
      el("td", { class: "num" }, j.id),
      el("td", {}, j.kind),
      el("td", { class: "num" }, j.backend),
      el("td", { class: "num" }, j.group || "-"),
      el("td", {}, j.state),
      el("td", {}, bar),
      el("td", { class: "num", "data-field": "percent" }, known ? j.percent.toFixed(1) + "%" : "-"),
      el("td", { class: "num" }, num(j.scanned) + (j.total ? " / " + num(j.total) : "")),
      el("td", { class: "num" }, num(j.moved)),
      el("td", { class: "num" }, bytes(j.bytes)),
      el("td", { class: "num" }, num(j.errors)),
      el("td", { class: "num" }, j.rate ? num(j.rate, 0) + "/s" : "-"),
      el("td", { class: "num" }, eta),
      el("td", {}, j.error || "")));
  }
  document.getElementById("jobs-count").textContent = rows.length ? "(" + rows.length + ")" : "";
  if (rows.length === 0) {
    box.replaceChildren(el("p", { class: "empty" }, "No recovery jobs."));
    return;
  }
  const head = ["node", "job", "kind", "backend", "group", "state", "progress", "%", "scanned", "moved", "bytes",
    "errors", "rate", "eta", "error"];
  box.replaceChildren(el("div", { class: "scroll" }, el("table", { id: "jobs" },
    el("thead", {}, el("tr", {}, ...head.map((h) => el("th", {}, h)))),
    el("tbody", {}, ...rows))));
}

async function refresh() {
  const state = document.getElementById("refresh-state");
  const errors = [];
  // The ring and the nodes are local and quick: drawn as soon as they come;
  // the cluster gather talks to every node and comes last.
  const quick = Promise.all([getJSON("/status/ring"), getJSON("/status/nodes")]).then(([ring, nodes]) => {
    last.ring = ring;
    last.nodes = nodes;
    document.getElementById("self").textContent = nodes.self;
    renderRing();
    renderNodes();
  }).catch((e) => errors.push(e));
  const slow = getJSON("/status/cluster").then((c) => { last.cluster = c; }).catch((e) => errors.push(e));
  await Promise.all([quick, slow]);
  renderNodes();
  renderRecovery();
  const box = document.getElementById("error");
  if (errors.length) {
    box.hidden = false;
    box.textContent = "Refresh failed: " + errors.map((e) => e.message).join("; ") +
      (last.nodes ? " (showing the last data)" : "");
    state.dataset.state = "error";
    state.textContent = "refresh failed at " + new Date().toLocaleTimeString();
  } else {
    box.hidden = true;
    state.dataset.state = "ok";
    state.textContent = "updated " + new Date().toLocaleTimeString();
  }
  document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || 0) + 1);
  setTimeout(refresh, INTERVAL_MS);
}

document.getElementById("interval").textContent = String(INTERVAL_MS / 1000);
refresh();
