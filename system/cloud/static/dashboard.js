// The match-day dashboard: reads the JSON API every 1.5 s (the metrics: only what is new) and sends each
// user action as a job.
// No inline script or handler: buttons carry their alert or event in data attributes and one
// listener per list acts on them; the CSRF token and the club's time zone come from /api/me. Every time is
// shown and read in the club's zone (clubtime.js); the device log is drawn by devicelog.js's rules.
"use strict";
let CSRF = null;
let device = null;
const $ = (id) => document.getElementById(id);
const fmt = (t) => ClubTime.when(t);
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => "&#" + c.charCodeAt(0) + ";");
const COLORS = ["#1d6fd1", "#b00020", "#1b7f3b", "#a05a00", "#6b2fb0", "#007b83"];

async function get(path) {
  const r = await fetch(path, {credentials: "same-origin"});
  if (r.status === 401) { location.href = "/login"; throw new Error("logged out"); }
  return r.json();
}

async function job(doc) {
  const r = await fetch(`/api/devices/${encodeURIComponent(device)}/jobs`, {method: "POST",
    credentials: "same-origin", headers: {"Content-Type": "application/json", "X-CSRF-Token": CSRF},
    body: JSON.stringify(doc)});
  const body = await r.json();
  if (!r.ok) alert(`refused: ${body.error} ${body.detail}`);
  refresh();
}

const ACTIONS = {
  snooze(d) { job({operation: "snoozeAlert", local_alert_id: d.alert, event_title: d.title}); },
  update(d) {
    const minutes = prompt("New duration in minutes", "10");
    if (minutes) job({operation: "updateAlert", local_alert_id: d.alert, duration: Number(minutes) * 60,
                      event_title: d.title});
  },
  addAlert(d) {
    const minutes = prompt("Alert how many minutes before the start?", "60");
    if (minutes) job({operation: "createAlert", event_key: d.event, before: Number(minutes) * 60, event_title: d.title});
  },
};

function button(action, cls, label, data) {
  const attrs = Object.entries(data).map(([k, v]) => ` data-${k}="${esc(v)}"`).join("");
  return `<button class="${cls}" data-action="${action}"${attrs}>${label}</button>`;
}

function drawAlert(a, ev, now) {
  return `<li class="row alert" data-alert="${esc(a.id)}">
    <span class="when">${fmt(a.at)} (${Math.round(a.duration / 60)} min, ${esc(a.origin)})</span>
    ${a.snoozed ? `<span class="tag snoozed">snoozed until ${fmt(a.snoozed_until)}</span>` : ""}
    ${a.lit ? '<span class="tag SUCCEEDED">light on</span>' : ""}
    ${a.outcome ? `<span class="tag">${esc(a.outcome)}</span>` : ""}
    ${a.until > now && !a.snoozed ? button("snooze", "snooze", "Snooze", {alert: a.id, title: ev.title}) : ""}
    ${a.origin === "extra" && a.until > now ? button("update", "minor", "Update", {alert: a.id, title: ev.title}) : ""}
    </li>`;
}

function drawEvents(data) {
  $("events").innerHTML = data.events.map((ev) => `<li data-event="${esc(ev.key)}"><div class="row">
    <strong>${esc(ev.title)}</strong><span class="muted start">${fmt(ev.start)}</span>
    ${ev.cancelled ? '<span class="tag FAILED">cancelled</span>' : ""}
    ${button("addAlert", "minor", "+ alert", {event: ev.key, title: ev.title})}</div>
    <ul>${ev.alerts.map((a) => drawAlert(a, ev, data.now)).join("")}</ul></li>`).join("")
    || '<li class="muted">No upcoming events.</li>';
}

function drawJobs(data) {
  $("jobs").innerHTML = data.jobs.map((j) => `<li class="row job" data-job="${esc(j.id)}">
    <span class="tag status ${esc(j.status)}">${esc(j.status)}</span><span>${esc(j.document.operation)}</span>
    <span class="muted">${esc(j.document.event_title || j.document.title || j.document.version || "")}</span>
    <span class="muted">${fmt(j.updated)}</span>
    ${j.details && j.details.reason ? `<span class="bad">${esc(j.details.reason)}</span>` : ""}</li>`).join("")
    || '<li class="muted">No jobs.</li>';
}

function drawChart(data) {
  const byName = {};
  for (const s of data.samples) (byName[s.name] = byName[s.name] || []).push(s);
  const all = data.samples.map((s) => s.at);
  const t0 = Math.min(...all), t1 = Math.max(...all, t0 + 1);
  const names = Object.keys(byName).filter((n) => byName[n].some((s) => s.value));
  const top = Math.max(1, ...data.samples.map((s) => s.value));
  $("chart").innerHTML = names.map((n, i) => `<polyline fill="none" stroke="${COLORS[i % COLORS.length]}"
    stroke-width="1.5" vector-effect="non-scaling-stroke" points="${byName[n].map((s) =>
    `${(300 * (s.at - t0) / (t1 - t0)).toFixed(1)},${(98 - 96 * s.value / top).toFixed(1)}`).join(" ")}"/>`).join("");
  const legend = $("legend");
  legend.replaceChildren();
  names.forEach((n, i) => {
    const span = document.createElement("span");
    span.textContent = n;
    span.style.color = COLORS[i % COLORS.length];  // set through the DOM: no inline style attribute
    legend.append(span, " · ");
  });
  legend.append(`last heartbeat ${fmt(data.last_heartbeat)}`);
}

function drawStatus(s, alarm) {
  $("sync").textContent = `last sync ${fmt(s.at)}, ${s.behind} change(s) behind`;
  $("alarm").innerHTML = alarm.raised ? `<p class="bad" id="alarm-state">ALARM: no heartbeat since ${fmt(alarm.since)}</p>`
    : '<p class="ok" id="alarm-state">Heartbeat OK</p>';
  $("alarms").innerHTML = alarm.history.map((h) => `<li>${fmt(h.at)} <strong>${esc(h.state)}</strong>
    <span class="muted">${esc(h.detail)}</span></li>`).join("") || '<li class="muted">Never raised.</li>';
}

function logQuery() {
  const q = new URLSearchParams();
  if ($("log-kind").value) q.set("kind", $("log-kind").value);
  if ($("log-since").value) q.set("since", ClubTime.toEpoch($("log-since").value));
  if ($("log-until").value) q.set("until", ClubTime.toEpoch($("log-until").value));
  return q.toString();
}

let LOGS = null;  // the last lines fetched: a level change redraws them without asking again
const OPEN_FOLDS = new Set();  // folds the user opened, by their oldest line's time: kept open across redraws

function logLine(e) {
  const what = e.known ? `<span class="what">${esc(e.text)}</span>` : `<code>${esc(e.text)}</code>`;
  return `<li class="log" data-kind="${esc(e.kind)}" data-level="${e.level}">
    <time class="muted">${ClubTime.clock(e.at)}</time>
    <span class="tag level ${e.level}">${e.level}</span>${what}<span class="muted kind">${esc(e.kind)}</span></li>`;
}

function logFold(entries) {
  const key = String(entries[entries.length - 1].at);
  const kinds = {};
  for (const e of entries) kinds[e.kind] = (kinds[e.kind] || 0) + 1;
  const counts = Object.entries(kinds).map(([k, n]) => `${esc(k)} ×${n}`).join(", ");
  const span = `${ClubTime.clock(entries[entries.length - 1].at)}–${ClubTime.clock(entries[0].at)}`;
  return `<li class="fold"><details data-fold="${esc(key)}"${OPEN_FOLDS.has(key) ? " open" : ""}>
    <summary>${entries.length} periodic push${entries.length === 1 ? "" : "es"}, ${span} <span class="muted">(${counts})</span></summary>
    <ul>${entries.map(logLine).join("")}</ul></details></li>`;
}

function renderLogs() {
  if (!LOGS) return;
  const html = [];
  let day = null;
  for (const item of DeviceLog.arrange(LOGS.lines.slice(0, 300), $("log-level").value)) {
    const first = item.entry || item.fold[0];
    if (ClubTime.day(first.at) !== day) {
      day = ClubTime.day(first.at);
      html.push(`<li class="day">${esc(day)}</li>`);
    }
    html.push(item.entry ? logLine(item.entry) : logFold(item.fold));
  }
  $("logs").innerHTML = html.join("") || '<li class="muted">No lines.</li>';
  const kinds = new Set(LOGS.lines.flatMap((l) => [l.kind, l.kind.split(".")[0] + "."]));
  $("log-kinds").innerHTML = [...kinds].sort().map((k) => `<option value="${esc(k)}">`).join("");
  $("log-dropped").textContent = LOGS.dropped ? `${LOGS.dropped} line(s) dropped on the device while offline` : "";
}

function drawLogs(data) {
  LOGS = data;
  renderLogs();
}

// The chart's samples are kept here and only what is newer than the newest one is fetched: the
// first fetch asks for the last CHART_SPAN seconds, every later one for what came `after` it.
const CHART_SPAN = 24 * 3600;
const history = {device: null, samples: [], newest: null};

function metricsQuery() {
  if (history.device !== device) Object.assign(history, {device, samples: [], newest: null});
  return history.newest == null ? `since=${Date.now() / 1000 - CHART_SPAN}` : `after=${history.newest}`;
}

function keepMetrics(data) {
  if (history.device !== device) return data;
  // Two refreshes may overlap (an action refreshes at once): keep each sample once.
  const fresh = data.samples.filter((s) => history.newest == null || s.at > history.newest);
  for (const s of fresh) history.newest = Math.max(history.newest ?? s.at, s.at);
  const from = (history.newest ?? 0) - CHART_SPAN;
  history.samples = history.samples.concat(fresh).filter((s) => s.at >= from);
  return {samples: history.samples, last_heartbeat: data.last_heartbeat};
}

async function refresh() {
  if (!device) return;
  const base = `/api/devices/${encodeURIComponent(device)}`;
  const [events, jobs, metrics, status, alarm, logs] = await Promise.all([get(base + "/events"), get(base + "/jobs"),
    get(base + "/metrics?" + metricsQuery()), get(base + "/status"), get(base + "/alarm"),
    get(base + "/logs?" + logQuery())]);
  drawEvents(events); drawJobs(jobs); drawChart(keepMetrics(metrics)); drawStatus(status, alarm); drawLogs(logs);
}

async function start() {
  const me = await get("/api/me");
  CSRF = me.csrf;
  $("zone").textContent = `times in ${ClubTime.setZone(me.timezone)}`;
  $("user").textContent = me.user;
  $("logout-csrf").value = me.csrf;
  $("events").addEventListener("click", (e) => {
    const target = e.target.closest("button[data-action]");
    if (target && ACTIONS[target.dataset.action]) ACTIONS[target.dataset.action](target.dataset);
  });
  $("create").addEventListener("submit", (e) => {
    e.preventDefault();
    const start = ClubTime.toEpoch(`${$("new-date").value}T${$("new-time").value.padStart(5, "0")}`);  // club time
    job({operation: "createEvent", title: $("new-title").value, start});
  });
  $("logfilter").addEventListener("submit", (e) => { e.preventDefault(); refresh(); });
  $("log-level").addEventListener("change", renderLogs);
  $("logs").addEventListener("click", (e) => {  // a click on a fold's summary (or Enter on it) opens or closes it
    const fold = e.target.closest("summary") && e.target.closest("details[data-fold]");
    if (fold) fold.open ? OPEN_FOLDS.delete(fold.dataset.fold) : OPEN_FOLDS.add(fold.dataset.fold);
  });
  const list = (await get("/api/devices")).devices;
  $("device").innerHTML = list.map((d) => `<option>${esc(d)}</option>`).join("");
  device = list[0] || null;
  $("device").addEventListener("change", () => { device = $("device").value; refresh(); });
  await refresh();
  setInterval(refresh, 1500);
}

start();
