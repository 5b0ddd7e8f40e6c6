// energymon dashboard: plain JavaScript, no build step; every number comes from the HTTP API.
"use strict";

const LIVE_WINDOW_MS = 15 * 60 * 1000;
const $ = (id) => document.getElementById(id);
const state = {
  device: null, tz: "UTC", span: "week", anchor: null, points: [], source: null, lastTick: Date.now(), poller: null,
};
const POLL_MS = 5000; // where the host cannot stream (API Gateway + Lambda buffer responses), live power is polled
const plotConfig = { responsive: true, displaylogo: false, displayModeBar: false };

async function api(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error ? body.error.message : response.statusText);
  return body;
}

// "YYYY-MM-DD HH:MM:SS" in the device's zone (what plotly draws, whatever the browser's zone).
function localTime(ms) {
  return new Intl.DateTimeFormat("sv-SE", {
    timeZone: state.tz, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
  }).format(new Date(ms));
}

// Calendar arithmetic on "YYYY-MM-DD" strings, independent of the browser's zone.
function toDate(s) { const [y, m, d] = s.split("-").map(Number); return new Date(Date.UTC(y, m - 1, d)); }
function fromDate(d) { return d.toISOString().slice(0, 10); }
function addDays(s, n) { const d = toDate(s); d.setUTCDate(d.getUTCDate() + n); return fromDate(d); }
function addMonths(s, n) { const d = toDate(s); d.setUTCDate(1); d.setUTCMonth(d.getUTCMonth() + n); return fromDate(d); }

function spanRange(span, anchor) {
  const d = toDate(anchor);
  if (span === "day") return { from: anchor, to: addDays(anchor, 1), period: "hour" };
  if (span === "week") {
    const monday = addDays(anchor, -((d.getUTCDay() + 6) % 7));
    return { from: monday, to: addDays(monday, 7), period: "day" };
  }
  if (span === "month") {
    const first = anchor.slice(0, 8) + "01";
    return { from: first, to: addMonths(first, 1), period: "day" };
  }
  const jan1 = anchor.slice(0, 5) + "01-01";
  return { from: jan1, to: addMonths(jan1, 12), period: "day" };
}

function step(span, anchor, direction) {
  if (span === "day") return addDays(anchor, direction);
  if (span === "week") return addDays(anchor, 7 * direction);
  if (span === "month") return addMonths(anchor, direction);
  return addMonths(anchor, 12 * direction);
}

function fmt(value, digits) { return value === null || value === undefined ? "–" : Number(value).toFixed(digits); }

// ------------------------------------------------------------------------------------------ live power
function withGaps(points) {
  // A null between two readings far apart: plotly then draws a break instead of a line across the gap.
  const out = [];
  const steps = [];
  for (let i = 1; i < points.length; i++) steps.push(points[i][0] - points[i - 1][0]);
  steps.sort((a, b) => a - b);
  const typical = steps.length ? steps[Math.floor(steps.length / 2)] : 1000;
  const limit = Math.max(3 * typical, 30000);
  for (let i = 0; i < points.length; i++) {
    if (i > 0 && points[i][0] - points[i - 1][0] > limit) out.push([points[i - 1][0] + 1, null]);
    out.push(points[i]);
  }
  return out;
}

function drawLive() {
  const now = Date.now();
  state.points = state.points.filter((p) => p[0] >= now - LIVE_WINDOW_MS);
  const pts = withGaps(state.points);
  const trace = {
    x: pts.map((p) => localTime(p[0])), y: pts.map((p) => p[1]), type: "scatter", mode: "lines",
    line: { color: "#2563eb", width: 2 }, connectgaps: false, name: "W", hovertemplate: "%{y:.0f} W<extra></extra>",
  };
  const layout = {
    margin: { l: 48, r: 12, t: 8, b: 36 }, yaxis: { title: { text: "W" }, rangemode: "tozero" },
    xaxis: { type: "date", range: [localTime(now - LIVE_WINDOW_MS), localTime(now)] },
    showlegend: false, uirevision: state.device,
  };
  Plotly.react("live-chart", [trace], layout, plotConfig);
}

function addPoints(points) {
  const last = state.points.length ? state.points[state.points.length - 1][0] : -Infinity;
  for (const p of points) if (p[0] > last) state.points.push(p);
  const latest = state.points[state.points.length - 1];
  if (latest) $("power-now").textContent = fmt(latest[1], 0);
}

async function pollLive() {
  const device = state.device;
  const since = state.points.length ? state.points[state.points.length - 1][0] + 1 : Date.now() - LIVE_WINDOW_MS;
  const series = await api(`/api/devices/${encodeURIComponent(device)}/power?resolution=raw` +
                           `&from=${new Date(since).toISOString()}&to=${new Date(Date.now() + 1000).toISOString()}`);
  if (device !== state.device) return;
  const points = series.points.filter((p) => p.power_w !== null).map((p) => [p.t, p.power_w]);
  addPoints(points);
  if (points.length) $("last-seen").textContent = "last seen " + localTime(points[points.length - 1][0]);
  state.lastTick = Date.now();
  setConnection("live", "polling");
}

function startPolling() {
  // EventSource closes for good on a non-200 answer (here /api/live's 501): fall back to polling, not an error.
  if (state.poller) clearInterval(state.poller);
  state.poller = setInterval(() => pollLive().catch(report), POLL_MS);
  pollLive().catch(report);
}

function connectLive() {
  if (state.source) state.source.close();
  if (state.poller) { startPolling(); return; }
  const source = new EventSource("/api/live?device=" + encodeURIComponent(state.device));
  state.source = source;
  source.addEventListener("power", (e) => {
    const data = JSON.parse(e.data);
    if (data.device_id !== state.device) return;
    addPoints(data.points);
    $("last-seen").textContent = "last seen " + localTime(data.last_seen_ms);
  });
  source.addEventListener("tick", () => {
    state.lastTick = Date.now();
    setConnection("live", "live");
  });
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) startPolling();
    else setConnection("error", "reconnecting…");
  };
}

function setConnection(kind, text) {
  const badge = $("connection");
  badge.dataset.state = kind;
  badge.textContent = text;
}

// --------------------------------------------------------------------------------------------- today
async function loadToday() {
  const device = state.device;
  const today = await api(`/api/devices/${encodeURIComponent(device)}/today`);
  if (device !== state.device) return;
  $("today-kwh").textContent = fmt(today.import_kwh, 3);
  $("today-kwh").dataset.kwh = today.import_kwh;
  $("today-peak").textContent = fmt(today.peak_power_w, 0);
  $("today-day").textContent = today.day;
  const cost = $("today-cost");
  cost.hidden = today.cost === null;
  if (today.cost !== null) cost.textContent = fmt(today.cost, 2) + " " + (today.currency || "") + " · ";
}

// -------------------------------------------------------------------------------------------- alerts
async function loadAlerts() {
  const device = state.device;
  const body = await api(`/api/alerts?device=${encodeURIComponent(device)}&limit=5`);
  if (device !== state.device) return;
  const panel = $("alerts-panel");
  panel.dataset.active = String(body.active.length);
  $("alerts-summary").textContent = !body.configured ? "no alert rules configured"
    : body.active.length ? `${body.active.length} firing on ${device}` : `none firing on ${device}`;
  const items = body.active.map((a) => {
    const li = document.createElement("li");
    li.className = "alert" + (a.critical ? " critical" : "");
    li.dataset.rule = a.rule;
    const value = a.value === null ? "" : ` · ${fmt(a.value, a.unit === "W" || a.unit === "s" ? 0 : 3)} ${a.unit}`;
    const limit = a.threshold === null ? "" : ` (limit ${fmt(a.threshold, a.unit === "W" || a.unit === "s" ? 0 : 3)} ${a.unit})`;
    const since = a.started_at ? ` · since ${a.started_at.slice(0, 16).replace("T", " ")}` : "";
    li.textContent = `${a.rule} — ${a.kind.replaceAll("_", " ")}${a.flapping ? " (flapping)" : ""}${value}${limit}${since}`;
    return li;
  });
  $("alerts-list").replaceChildren(...items);
}

// ------------------------------------------------------------------------------------------- history
async function loadHistory() {
  const device = state.device;
  const range = spanRange(state.span, state.anchor);
  const query = new URLSearchParams({ from: range.from, to: range.to, period: range.period });
  const body = await api(`/api/devices/${encodeURIComponent(device)}/energy?${query}`);
  if (device !== state.device) return;
  const periods = body.periods;
  const x = periods.map((p) => (range.period === "hour" ? p.start.slice(11, 16) : p.start));
  const trace = {
    x, y: periods.map((p) => p.import_kwh), type: "bar", marker: { color: "#16a34a" }, name: "kWh",
    hovertemplate: "%{x}: %{y:.3f} kWh<extra></extra>",
  };
  const gapTrace = {
    // Periods without data get no bar, only a faint marker on the axis so the hole is visible.
    x: periods.filter((p) => p.gap).map((p) => (range.period === "hour" ? p.start.slice(11, 16) : p.start)),
    y: periods.filter((p) => p.gap).map(() => 0), type: "scatter", mode: "markers", name: "no data",
    marker: { symbol: "line-ew-open", color: "#9ca3af", size: 8 }, hovertemplate: "%{x}: no data<extra></extra>",
  };
  const layout = {
    margin: { l: 48, r: 12, t: 8, b: 48 }, yaxis: { title: { text: "kWh" }, rangemode: "tozero" },
    xaxis: { type: "category", automargin: true }, showlegend: false, bargap: 0.15,
  };
  Plotly.react("history-chart", [trace, gapTrace], layout, plotConfig);
  $("history-total").textContent = fmt(body.total_import_kwh, 3);
  $("history-total").dataset.kwh = body.total_import_kwh;
  $("history-gaps").textContent = body.gaps;
  $("history-label").textContent = `${state.span} of ${range.from} (${range.period}s, ${body.timezone})`;
  $("history-chart").dataset.from = range.from;
  $("history-chart").dataset.period = range.period;
}

function renderPicker() {
  for (const b of document.querySelectorAll("[data-span]")) b.setAttribute("aria-pressed", String(b.dataset.span === state.span));
  $("anchor").value = state.anchor;
}

// ---------------------------------------------------------------------------------------------- glue
async function selectDevice(device, devices) {
  state.device = device;
  const info = devices.find((d) => d.device_id === device);
  state.tz = info ? info.timezone : "UTC";
  state.anchor = localTime(Date.now()).slice(0, 10);
  $("device-zone").textContent = state.tz;
  $("last-seen").textContent = info && info.last_seen_ms ? "last seen " + localTime(info.last_seen_ms) : "never seen";
  renderPicker();
  const series = await api(`/api/devices/${encodeURIComponent(device)}/power?resolution=raw`);
  if (device !== state.device) return;
  state.points = series.points.filter((p) => p.power_w !== null).map((p) => [p.t, p.power_w]);
  $("power-now").textContent = "–";
  addPoints([]);
  drawLive();
  connectLive();
  await Promise.all([loadToday(), loadHistory(), loadAlerts()]);
  document.body.dataset.ready = device;
}

async function main() {
  let devices = await api("/api/devices");
  while (!devices.length) {
    setConnection("connecting", "waiting for a device…");
    await new Promise((r) => setTimeout(r, 1000));
    devices = await api("/api/devices");
  }
  const select = $("device");
  select.replaceChildren(...devices.map((d) => new Option(`${d.device_id} (${d.status})`, d.device_id)));
  const wanted = new URLSearchParams(location.search).get("device");
  const first = devices.some((d) => d.device_id === wanted) ? wanted : devices[0].device_id;
  select.value = first;
  select.addEventListener("change", () => selectDevice(select.value, devices).catch(report));
  for (const b of document.querySelectorAll("[data-span]")) {
    b.addEventListener("click", () => { state.span = b.dataset.span; renderPicker(); loadHistory().catch(report); });
  }
  $("prev").addEventListener("click", () => { state.anchor = step(state.span, state.anchor, -1); renderPicker(); loadHistory().catch(report); });
  $("next").addEventListener("click", () => { state.anchor = step(state.span, state.anchor, 1); renderPicker(); loadHistory().catch(report); });
  $("anchor").addEventListener("change", () => { if ($("anchor").value) { state.anchor = $("anchor").value; loadHistory().catch(report); } });
  await selectDevice(first, devices);
  setInterval(drawLive, 1000);
  setInterval(() => { if (Date.now() - state.lastTick > 5000) setConnection("error", "no live data"); }, 1000);
  setInterval(() => loadToday().catch(report), 5000);
  setInterval(() => loadAlerts().catch(report), 5000);
}

function report(error) {
  setConnection("error", String(error.message || error));
}

main().catch(report);
