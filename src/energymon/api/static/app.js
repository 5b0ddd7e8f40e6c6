// energymon dashboard: plain JavaScript, no build step; every number comes from the HTTP API.
"use strict";

const LIVE_WINDOW_MS = 15 * 60 * 1000;
const ONLINE_MS = 120 * 1000; // a device whose latest reading is older is not counted in the site's power now
const SITE = "*"; // the select's value for the site view (every device added up)
const COLORS = ["#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2"];
const $ = (id) => document.getElementById(id);
const state = {
  device: null, tz: "UTC", span: "week", anchor: null, series: {}, devices: [], prices: {}, currency: null,
  source: null, lastTick: Date.now(), poller: null,
};
const isSite = () => state.device === SITE;
const shown = () => (isSite() ? state.devices.map((d) => d.device_id) : [state.device]);
const enc = encodeURIComponent;
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

function seenText(ms) {
  const at = localTime(ms);
  return "seen " + (at.slice(0, 10) === localTime(Date.now()).slice(0, 10) ? at.slice(11) : at);
}

function fmt(value, digits) { return value === null || value === undefined ? "–" : Number(value).toFixed(digits); }
function money(value, currency) { return value === null || value === undefined ? "–" : `${fmt(value, 2)} ${currency || ""}`.trim(); }
function pct(value) { return value === null || value === undefined ? "" : ` (${value > 0 ? "+" : ""}${fmt(value, 0)}%)`; }

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
  const traces = shown().map((device, i) => {
    const kept = (state.series[device] || []).filter((p) => p[0] >= now - LIVE_WINDOW_MS);
    state.series[device] = kept;
    const pts = withGaps(kept);
    return {
      x: pts.map((p) => localTime(p[0])), y: pts.map((p) => p[1]), type: "scatter", mode: "lines",
      line: { color: COLORS[i % COLORS.length], width: 2 }, connectgaps: false, name: device,
      hovertemplate: `${device}: %{y:.0f} W<extra></extra>`,
    };
  });
  const layout = {
    margin: { l: 48, r: 12, t: 8, b: 36 }, yaxis: { title: { text: "W" }, rangemode: "tozero" },
    xaxis: { type: "date", range: [localTime(now - LIVE_WINDOW_MS), localTime(now)] },
    showlegend: isSite(), legend: { orientation: "h", y: 1.12 }, uirevision: state.device,
  };
  Plotly.react("live-chart", traces, layout, plotConfig);
}

// Power now and its cost per hour at the price in force (each device at its own tariff's price).
function renderPowerNow() {
  let watts = null;
  let cost = null;
  for (const device of shown()) {
    const pts = state.series[device] || [];
    const latest = pts[pts.length - 1];
    if (!latest || (isSite() && Date.now() - latest[0] > ONLINE_MS)) continue;
    watts = (watts || 0) + latest[1];
    const price = state.prices[device];
    if (price !== null && price !== undefined) cost = (cost || 0) + latest[1] / 1000 * price;
  }
  $("power-now").textContent = fmt(watts, 0);
  $("power-now").dataset.w = watts === null ? "" : watts;
  $("cost-hour").textContent = cost === null ? "no tariff" : `${fmt(cost, 3)} ${state.currency || ""}/h`;
  $("cost-hour").dataset.cost = cost === null ? "" : cost;
}

function addPoints(device, points) {
  const series = state.series[device] || (state.series[device] = []);
  const last = series.length ? series[series.length - 1][0] : -Infinity;
  for (const p of points) if (p[0] > last) series.push(p);
  renderPowerNow();
}

async function pollDevice(view, device) {
  const pts = state.series[device] || [];
  const since = pts.length ? pts[pts.length - 1][0] + 1 : Date.now() - LIVE_WINDOW_MS;
  const series = await api(`/api/devices/${enc(device)}/power?resolution=raw` +
                           `&from=${new Date(since).toISOString()}&to=${new Date(Date.now() + 1000).toISOString()}`);
  if (view !== state.device) return;
  const points = series.points.filter((p) => p.power_w !== null).map((p) => [p.t, p.power_w]);
  addPoints(device, points);
  if (points.length) $("last-seen").textContent = seenText(points[points.length - 1][0]);
}

async function pollLive() {
  const view = state.device;
  await Promise.all(shown().map((device) => pollDevice(view, device)));
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
  const source = new EventSource(isSite() ? "/api/live" : "/api/live?device=" + enc(state.device));
  state.source = source;
  source.addEventListener("power", (e) => {
    const data = JSON.parse(e.data);
    if (!shown().includes(data.device_id)) return;
    addPoints(data.device_id, data.points);
    $("last-seen").textContent = seenText(data.last_seen_ms);
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
  if (isSite()) return; // the site's today comes with its overview
  const today = await api(`/api/devices/${enc(device)}/today`);
  if (device !== state.device) return;
  $("today-kwh").textContent = fmt(today.import_kwh, 3);
  $("today-kwh").dataset.kwh = today.import_kwh;
  $("today-peak").textContent = fmt(today.peak_power_w, 0);
  $("today-day").textContent = today.day;
  const cost = $("today-cost");
  cost.hidden = today.cost === null;
  if (today.cost !== null) cost.textContent = fmt(today.cost, 2) + " " + (today.currency || "") + " · ";
  $("today-peak-wrap").hidden = false;
}

// ------------------------------------------------------------------------------------------ overview
function compareLine(id, label, kwh, cost, change, currency) {
  $(id).textContent = `${label} ${fmt(kwh, 3)} kWh · ${money(cost, currency)}${pct(change)}`;
  $(id).dataset.kwh = kwh;
}

function deviceRow(d) {
  const tr = document.createElement("tr");
  tr.dataset.device = d.device_id;
  if (d.device_id === state.device) tr.className = "selected";
  const cells = [
    [`${d.device_id}`, ""], [fmt(d.live.power_w, 0), "num"], [money(d.live.cost_per_hour, d.currency), "num opt"],
    [fmt(d.today.import_kwh, 3), "num"], [money(d.today.cost, d.currency), "num"], [fmt(d.always_on.power_w, 0), "num opt"],
  ];
  for (const [text, cls] of cells) {
    const td = document.createElement("td");
    td.textContent = text;
    td.className = cls;
    tr.append(td);
  }
  const status = document.createElement("small");
  status.className = "status " + d.status;
  status.textContent = " " + d.status;
  tr.firstChild.append(status);
  tr.addEventListener("click", () => { $("device").value = d.device_id; $("device").dispatchEvent(new Event("change")); });
  return tr;
}

async function loadOverview() {
  const view = state.device;
  const site = await api("/api/site/overview");
  if (view !== state.device) return;
  for (const d of site.devices) state.prices[d.device_id] = d.live.price_per_kwh;
  $("devices-table").tBodies[0].replaceChildren(...site.devices.map(deviceRow));
  const foot = (f, text) => { document.querySelector(`#site-row [data-f='${f}']`).textContent = text; };
  foot("power", fmt(site.power_w, 0));
  foot("cost-hour", money(site.cost_per_hour, site.currency));
  foot("today-kwh", fmt(site.today_kwh, 3));
  foot("today-cost", money(site.today_cost, site.currency));
  foot("always-on", fmt(site.always_on_w, 0));
  $("site-row").className = isSite() ? "selected" : "";
  $("site-summary").textContent = `${site.devices.length} on the site (${site.timezone})`;
  const d = isSite() ? null : site.devices.find((x) => x.device_id === view);
  const currency = isSite() ? site.currency : d && d.currency;
  state.currency = currency;
  const priceText = () => {
    if (isSite() || !d) return "";
    const price = d.live.price_per_kwh;
    const until = d.live.price_until_ms ? ` until ${localTime(d.live.price_until_ms).slice(11, 16)}` : "";
    return price === null ? "" : `at ${price} ${currency}/kWh${until}`;
  };
  $("price-now").textContent = priceText();
  if (isSite()) {
    $("today-kwh").textContent = fmt(site.today_kwh, 3);
    $("today-kwh").dataset.kwh = site.today_kwh;
    $("today-cost").hidden = site.today_cost === null;
    $("today-cost").textContent = money(site.today_cost, currency);
    $("today-day").textContent = "each device's own day";
    $("today-peak-wrap").hidden = true;
    compareLine("vs-yesterday", "yesterday", site.yesterday_kwh, site.yesterday_cost, site.vs_yesterday_pct, currency);
    compareLine("vs-last-week", "last week", site.last_week_kwh, site.last_week_cost, site.vs_last_week_pct, currency);
  } else if (d) {
    const weekday = new Date(d.last_week.start_ms + 12 * 3600 * 1000).toLocaleDateString("en", { weekday: "short", timeZone: state.tz });
    compareLine("vs-yesterday", "yesterday", d.yesterday.import_kwh, d.yesterday.cost, d.vs_yesterday_pct, currency);
    compareLine("vs-last-week", `last ${weekday}`, d.last_week.import_kwh, d.last_week.cost, d.vs_last_week_pct, currency);
  }
  const alwaysW = isSite() ? site.always_on_w : d && d.always_on.power_w;
  const alwaysCost = isSite() ? site.always_on_cost_per_year : d && d.always_on.cost_per_year;
  $("always-on").textContent = fmt(alwaysW, 0);
  $("always-on").dataset.w = alwaysW === null || alwaysW === undefined ? "" : alwaysW;
  $("always-on-year").textContent = alwaysW === null || alwaysW === undefined
    ? "not enough night data yet" + (isSite() ? ` (${site.devices.filter((x) => x.always_on.power_w === null).map((x) => x.device_id).join(", ")})` : "")
    : `${money(alwaysCost, currency)} a year (${fmt(alwaysW * 8.76, 0)} kWh)`;
  const peak = isSite() ? site.peak_demand : d && d.peak_demand;
  if (peak) {
    $("peak-kw").textContent = fmt(peak.kw, peak.kw !== null && peak.kw < 1 ? 3 : 2);
    $("peak-kw").dataset.kw = peak.kw === null ? "" : peak.kw;
    $("peak-month").textContent = peak.month;
    $("peak-when").textContent = peak.start ? `${peak.start.slice(5, 16).replace("T", " ")}–${peak.end.slice(11, 16)}` : "no data this month";
  }
  renderPowerNow();
}

// -------------------------------------------------------------------------------------------- alerts
async function loadAlerts() {
  const device = state.device;
  const body = await api(isSite() ? "/api/alerts?limit=5" : `/api/alerts?device=${enc(device)}&limit=5`);
  if (device !== state.device) return;
  const panel = $("alerts-panel");
  panel.dataset.active = String(body.active.length);
  const where = isSite() ? "the site" : device;
  $("alerts-summary").textContent = !body.configured ? "no alert rules configured"
    : body.active.length ? `${body.active.length} firing on ${where}` : `none firing on ${where}`;
  const items = body.active.map((a) => {
    const li = document.createElement("li");
    li.className = "alert" + (a.critical ? " critical" : "");
    li.dataset.rule = a.rule;
    const value = a.value === null ? "" : ` · ${fmt(a.value, a.unit === "W" || a.unit === "s" ? 0 : 3)} ${a.unit}`;
    const limit = a.threshold === null ? "" : ` (limit ${fmt(a.threshold, a.unit === "W" || a.unit === "s" ? 0 : 3)} ${a.unit})`;
    const since = a.started_at ? ` · since ${a.started_at.slice(0, 16).replace("T", " ")}` : "";
    li.textContent = `${isSite() ? a.device_id + ": " : ""}${a.rule} — ${a.kind.replaceAll("_", " ")}${a.flapping ? " (flapping)" : ""}${value}${limit}${since}`;
    return li;
  });
  $("alerts-list").replaceChildren(...items);
}

// ------------------------------------------------------------------------------------------- history
async function loadHistory() {
  const device = state.device;
  const range = spanRange(state.span, state.anchor);
  const query = new URLSearchParams({ from: range.from, to: range.to, period: range.period });
  const base = isSite() ? "/api/site/energy" : `/api/devices/${enc(device)}/energy`;
  const body = await api(`${base}?${query}`);
  if (device !== state.device) return;
  $("csv-link").href = `${base}.csv?${query}`;
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
    margin: { l: 48, r: 12, t: 8, b: 48 }, yaxis: { title: { text: "kWh" }, rangemode: "tozero", exponentformat: "none" },
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
  state.devices = devices;
  document.body.dataset.view = isSite() ? "site" : "device";
  const info = isSite() ? devices[0] : devices.find((d) => d.device_id === device);
  state.tz = info ? info.timezone : "UTC";
  state.anchor = localTime(Date.now()).slice(0, 10);
  $("device-zone").textContent = state.tz;
  const seen = isSite() ? Math.max(...devices.map((d) => d.last_seen_ms || 0)) : info && info.last_seen_ms;
  $("last-seen").textContent = seen ? seenText(seen) : "never seen";
  if (isSite()) { $("today-peak").textContent = "–"; }
  renderPicker();
  state.series = {};
  const all = await Promise.all(shown().map((d) => api(`/api/devices/${enc(d)}/power?resolution=raw`)));
  if (device !== state.device) return;
  shown().forEach((d, i) => { state.series[d] = all[i].points.filter((p) => p.power_w !== null).map((p) => [p.t, p.power_w]); });
  renderPowerNow();
  drawLive();
  connectLive();
  await Promise.all([loadToday(), loadOverview(), loadHistory(), loadAlerts()]);
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
  select.replaceChildren(new Option(`Site: all ${devices.length} devices`, SITE),
                         ...devices.map((d) => new Option(`${d.device_id} (${d.status})`, d.device_id)));
  const wanted = new URLSearchParams(location.search).get("device");
  const first = wanted === SITE || devices.some((d) => d.device_id === wanted) ? wanted : devices[0].device_id;
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
  setInterval(() => loadOverview().catch(report), 10000);
  setInterval(() => loadAlerts().catch(report), 5000);
}

function report(error) {
  setConnection("error", String(error.message || error));
}

main().catch(report);
