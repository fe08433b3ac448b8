"""The dashboard's two pages: login, and the single-page dashboard (plain HTML, CSS and script, no build).

The dashboard reads the JSON API (``/api/devices/...``) every few seconds and sends each user
action as a job (``POST /api/devices/<device>/jobs`` with the session's CSRF token in a header).
It is laid out for a phone first: one column, large touch targets, nothing wider than the screen.
Every value shown is escaped; the page holds no secret but the CSRF token of its own session.
"""

from __future__ import annotations

import json
from html import escape

_STYLE = """
*{box-sizing:border-box}body{font:16px/1.4 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#222}
header{background:#143d6b;color:#fff;padding:.6rem 1rem;display:flex;justify-content:space-between;align-items:center}
main{max-width:44rem;margin:auto;padding:.5rem}section{background:#fff;border-radius:8px;margin:.6rem 0;padding:.7rem}
h2{font-size:1.05rem;margin:.1rem 0 .5rem}button,input,select{font:inherit;padding:.45rem .6rem;min-height:2.4rem}
button{border:0;border-radius:6px;background:#1d6fd1;color:#fff}button.minor{background:#6b7480}
ul{list-style:none;padding:0;margin:0}li{border-top:1px solid #eee;padding:.4rem 0}
.row{display:flex;flex-wrap:wrap;gap:.4rem;align-items:center}.muted{color:#667}.bad{color:#b00020;font-weight:600}
.ok{color:#1b7f3b;font-weight:600}.tag{font-size:.8rem;padding:.1rem .4rem;border-radius:4px;background:#e7ebf0}
.QUEUED,.IN_PROGRESS{background:#fff1c2}.SUCCEEDED{background:#d5f5df}.FAILED,.REJECTED,.TIMED_OUT,.CANCELED{background:#fbd9d9}
form.inline{display:flex;flex-wrap:wrap;gap:.4rem}svg{width:100%;height:8rem;background:#fafbfc}
"""


def login(csrf: str, error: str = "") -> str:
    """The login form (its CSRF token is bound to the visitor's session)."""
    message = '<p class="bad" id="login-error">Wrong user name or password.</p>' if error else ""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>Match-day controller: log in</title>
<style>{_STYLE}</style></head><body><header><strong>Match-day controller</strong></header><main><section>
<h2>Log in</h2>{message}
<form method="post" action="/login" class="inline">
<input type="hidden" name="csrf" value="{escape(csrf)}">
<input name="username" id="username" placeholder="user" autocomplete="username" required>
<input name="password" id="password" type="password" placeholder="password" autocomplete="current-password" required>
<button id="login">Log in</button></form></section></main></body></html>"""


def dashboard(user: str, csrf: str) -> str:
    """The dashboard for ``user``; ``csrf`` goes with every action it sends."""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>Match-day controller</title>
<style>{_STYLE}</style></head><body>
<header><strong>Match-day controller</strong><form method="post" action="/logout" class="row">
<span>{escape(user)}</span><input type="hidden" name="csrf" value="{escape(csrf)}">
<button class="minor" id="logout">Log out</button></form></header>
<main>
<section><div class="row"><label for="device">Device</label><select id="device"></select>
<span id="sync" class="muted"></span></div><div id="alarm"></div></section>
<section><h2>Upcoming events</h2><ul id="events"></ul></section>
<section><h2>New event</h2><form id="create" class="inline">
<input id="new-title" placeholder="title" required><input id="new-start" type="datetime-local" required>
<button>Create</button></form></section>
<section><h2>Jobs</h2><ul id="jobs"></ul></section>
<section><h2>Counters and heartbeat</h2><svg id="chart" viewBox="0 0 300 100" preserveAspectRatio="none"></svg>
<div id="legend" class="muted"></div></section>
<section><h2>Alarm history</h2><ul id="alarms"></ul></section>
<section><h2>Device log</h2><form id="logfilter" class="inline">
<input id="log-kind" placeholder="kind, e.g. job." aria-label="kind">
<input id="log-since" type="datetime-local" aria-label="since"><input id="log-until" type="datetime-local" aria-label="until">
<button>Filter</button></form><p id="log-dropped" class="muted"></p><ul id="logs"></ul></section>
</main>
<script>
const CSRF = {_js(csrf)};
const $ = (id) => document.getElementById(id);
const fmt = (t) => t == null ? "-" : new Date(t * 1000).toLocaleString();
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => "&#" + c.charCodeAt(0) + ";");
let device = null;
async function get(path) {{
  const r = await fetch(path, {{credentials: "same-origin"}});
  if (r.status === 401) {{ location.href = "/login"; throw new Error("logged out"); }}
  return r.json();
}}
async function job(doc) {{
  const r = await fetch(`/api/devices/${{encodeURIComponent(device)}}/jobs`, {{method: "POST",
    credentials: "same-origin", headers: {{"Content-Type": "application/json", "X-CSRF-Token": CSRF}},
    body: JSON.stringify(doc)}});
  const body = await r.json();
  if (!r.ok) alert(`refused: ${{body.error}} ${{body.detail}}`);
  refresh();
}}
function snooze(id, title) {{ job({{operation: "snoozeAlert", local_alert_id: id, event_title: title}}); }}
function update(id, title) {{
  const minutes = prompt("New duration in minutes", "10");
  if (minutes) job({{operation: "updateAlert", local_alert_id: id, duration: Number(minutes) * 60, event_title: title}});
}}
function addAlert(key, title) {{
  const minutes = prompt("Alert how many minutes before the start?", "60");
  if (minutes) job({{operation: "createAlert", event_key: key, before: Number(minutes) * 60, event_title: title}});
}}
$("create").addEventListener("submit", (e) => {{
  e.preventDefault();
  job({{operation: "createEvent", title: $("new-title").value, start: new Date($("new-start").value).getTime() / 1000}});
}});
function drawEvents(data) {{
  $("events").innerHTML = data.events.map((ev) => `<li data-event="${{esc(ev.key)}}"><div class="row">
    <strong>${{esc(ev.title)}}</strong><span class="muted">${{fmt(ev.start)}}</span>
    ${{ev.cancelled ? '<span class="tag FAILED">cancelled</span>' : ""}}
    <button class="minor" onclick='addAlert(${{JSON.stringify(ev.key)}}, ${{JSON.stringify(ev.title)}})'>+ alert</button></div>
    <ul>${{ev.alerts.map((a) => `<li class="row alert" data-alert="${{esc(a.id)}}">
      <span>${{fmt(a.at)}} (${{Math.round(a.duration / 60)}} min, ${{esc(a.origin)}})</span>
      ${{a.snoozed ? `<span class="tag snoozed">snoozed until ${{fmt(a.snoozed_until)}}</span>` : ""}}
      ${{a.lit ? '<span class="tag SUCCEEDED">light on</span>' : ""}}
      ${{a.outcome ? `<span class="tag">${{esc(a.outcome)}}</span>` : ""}}
      ${{a.until > data.now && !a.snoozed ? `<button class="snooze" onclick='snooze(${{JSON.stringify(a.id)}}, ${{JSON.stringify(ev.title)}})'>Snooze</button>` : ""}}
      ${{a.origin === "extra" && a.until > data.now ? `<button class="minor" onclick='update(${{JSON.stringify(a.id)}}, ${{JSON.stringify(ev.title)}})'>Update</button>` : ""}}
    </li>`).join("")}}</ul></li>`).join("") || '<li class="muted">No upcoming events.</li>';
}}
function drawJobs(data) {{
  $("jobs").innerHTML = data.jobs.map((j) => `<li class="row job" data-job="${{esc(j.id)}}">
    <span class="tag status ${{esc(j.status)}}">${{esc(j.status)}}</span><span>${{esc(j.document.operation)}}</span>
    <span class="muted">${{esc(j.document.event_title || j.document.title || j.document.version || "")}}</span>
    <span class="muted">${{fmt(j.updated)}}</span>
    ${{j.details && j.details.reason ? `<span class="bad">${{esc(j.details.reason)}}</span>` : ""}}</li>`).join("")
    || '<li class="muted">No jobs.</li>';
}}
function drawChart(data) {{
  const byName = {{}};
  for (const s of data.samples) (byName[s.name] = byName[s.name] || []).push(s);
  const all = data.samples.map((s) => s.at);
  const t0 = Math.min(...all), t1 = Math.max(...all, t0 + 1);
  const names = Object.keys(byName).filter((n) => byName[n].some((s) => s.value));
  const colors = ["#1d6fd1", "#b00020", "#1b7f3b", "#a05a00", "#6b2fb0", "#007b83"];
  const top = Math.max(1, ...data.samples.map((s) => s.value));
  $("chart").innerHTML = names.map((n, i) => `<polyline fill="none" stroke="${{colors[i % colors.length]}}"
    stroke-width="1.5" vector-effect="non-scaling-stroke" points="${{byName[n].map((s) =>
    `${{(300 * (s.at - t0) / (t1 - t0)).toFixed(1)}},${{(98 - 96 * s.value / top).toFixed(1)}}`).join(" ")}}"/>`).join("");
  $("legend").innerHTML = names.map((n, i) => `<span style="color:${{colors[i % colors.length]}}">${{esc(n)}}</span>`).join(" · ")
    + ` · last heartbeat ${{fmt(data.last_heartbeat)}}`;
}}
function drawStatus(s, alarm) {{
  $("sync").textContent = `last sync ${{fmt(s.at)}}, ${{s.behind}} change(s) behind`;
  $("alarm").innerHTML = alarm.raised ? `<p class="bad" id="alarm-state">ALARM: no heartbeat since ${{fmt(alarm.since)}}</p>`
    : '<p class="ok" id="alarm-state">Heartbeat OK</p>';
  $("alarms").innerHTML = alarm.history.map((h) => `<li>${{fmt(h.at)}} <strong>${{esc(h.state)}}</strong>
    <span class="muted">${{esc(h.detail)}}</span></li>`).join("") || '<li class="muted">Never raised.</li>';
}}
function logQuery() {{
  const q = new URLSearchParams();
  if ($("log-kind").value) q.set("kind", $("log-kind").value);
  if ($("log-since").value) q.set("since", new Date($("log-since").value).getTime() / 1000);
  if ($("log-until").value) q.set("until", new Date($("log-until").value).getTime() / 1000);
  return q.toString();
}}
function drawLogs(data) {{
  $("logs").innerHTML = data.lines.slice(0, 50).map((l) => `<li class="log" data-kind="${{esc(l.kind)}}">
    <span class="muted">${{fmt(l.at)}}</span> <strong>${{esc(l.kind)}}</strong>
    <code style="word-break:break-all">${{esc(l.line)}}</code></li>`).join("") || '<li class="muted">No lines.</li>';
  $("log-dropped").textContent = data.dropped ? `${{data.dropped}} line(s) dropped on the device while offline` : "";
}}
$("logfilter").addEventListener("submit", (e) => {{ e.preventDefault(); refresh(); }});
async function refresh() {{
  if (!device) return;
  const base = `/api/devices/${{encodeURIComponent(device)}}`;
  const [events, jobs, metrics, status, alarm, logs] = await Promise.all([get(base + "/events"), get(base + "/jobs"),
    get(base + "/metrics"), get(base + "/status"), get(base + "/alarm"), get(base + "/logs?" + logQuery())]);
  drawEvents(events); drawJobs(jobs); drawChart(metrics); drawStatus(status, alarm); drawLogs(logs);
}}
async function start() {{
  const list = (await get("/api/devices")).devices;
  $("device").innerHTML = list.map((d) => `<option>${{esc(d)}}</option>`).join("");
  device = list[0] || null;
  $("device").addEventListener("change", () => {{ device = $("device").value; refresh(); }});
  await refresh();
  setInterval(refresh, 1500);
}}
start();
</script></body></html>"""


def _js(value: str) -> str:
    return json.dumps(value).replace("<", "\\u003c")
