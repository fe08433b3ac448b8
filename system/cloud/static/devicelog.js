// The device log as lines a person can scan: the time (club time), a level and what happened, a short
// sentence per known kind and the raw fields for any other. The device ships its trace lines (JSON, one
// record each: kind and fields); a line that is not JSON is shown as it came. Periodic pushes are folded
// into one line with their count (a <details> to expand); the level filter keeps a level and the ones above.
"use strict";
const DeviceLog = (() => {
  const LEVELS = ["debug", "info", "warning", "error"];
  // Kinds a device sends on a schedule: folded away by default.
  const PERIODIC = new Set(["metrics.pushed", "sync.pushed"]);
  const short = (id) => (id == null ? "?" : String(id).slice(-6));
  const job = (r) => `Job …${short(r.job)}${r.operation ? ` (${r.operation})` : ""}`;
  const at = (t) => (typeof t === "number" ? ClubTime.when(t) : "?");

  // kind -> [level, sentence]; a level may depend on the record.
  const KINDS = {
    "controller.started": ["info", (r) => `Controller started (relay ${r.relay}, fixtures ${r.fixtures || "none"})`],
    "process.stopped": ["info", (r) => `Controller stopped (${r.reason})`],
    "relay.on": ["info", () => "Light switched on"],
    "relay.off": ["info", () => "Light switched off"],
    "relay.failed": ["error", (r) => `Relay failed to switch ${r.op}: ${r.error}`],
    "alert.fired": ["info", (r) => `Alert fired for ${r.event}`],
    "alert.ended": ["info", (r) => `Alert ended for ${r.event} (${r.reason})`],
    "alert.skipped": ["warning", (r) => `Alert skipped for ${r.event}: ${r.reason}`],
    "alert.snoozed": ["info", (r) => `Alert snoozed until ${at(r.until)} (${r.event})`],
    "alert.added": ["info", (r) => `Alert added at ${at(r.at)} for ${r.event}`],
    "event.created": ["info", (r) => `Event created: ${r.title}, ${at(r.start)}`],
    "fixture.added": ["info", (r) => `New game: ${r.title}, ${at(r.start)}`],
    "fixture.rescheduled": ["info", (r) => `Game moved: ${r.title}, from ${at(r.old)} to ${at(r.new)}`],
    "fixture.cancelled": ["warning", (r) => `Game cancelled: ${r.title}, ${at(r.start)}`],
    "fixture.reinstated": ["info", (r) => `Game back on: ${r.title}, ${at(r.start)}`],
    "fixture.updated": ["info", (r) => `Game details changed: ${r.title} (${[].concat(r.fields || []).join(", ")})`],
    "scrape.failed": ["error", (r) => `Fixtures page not read: ${r.reason} (after ${r.attempts} attempts)`],
    "source.suspicious": ["warning", (r) => `Fixtures page refused: ${r.reason}; the stored games are kept`],
    "sync.pushed": ["debug", (r) => `Synced ${r.changes} change(s) to the cloud`],
    "sync.resynced": ["info", (r) => `Mirror rebuilt in the cloud (${r.reason})`],
    "sync.failed": ["error", (r) => `Sync with the cloud failed: ${r.error}`],
    "metrics.pushed": ["debug", () => "Counters and heartbeat pushed"],
    "metrics.failed": ["error", (r) => `Counters not pushed: ${r.error}`],
    "logs.failed": ["warning", (r) => `Log not shipped: ${r.error} (${r.waiting} line(s) waiting)`],
    "jobs.connected": ["info", () => "Connected for jobs"],
    "jobs.disconnected": ["warning", (r) => `Jobs connection lost: ${r.error}`],
    "job.received": ["info", (r) => `${job(r)} received`],
    "job.succeeded": ["info", (r) => `${job(r)} succeeded`],
    "job.rejected": ["warning", (r) => `${job(r)} rejected: ${r.reason}`],
    "job.failed": ["error", (r) => `${job(r)} failed: ${r.error || r.reason}`],
    "job.reported": ["debug", (r) => `${job(r)} reported ${r.status}`],
    "job.repeated": ["info", (r) => `${job(r)} came again: already ${r.status}, not run again`],
    "job.skipped": [(r) => (r.reason === "reported" ? "debug" : "warning"),
                    (r) => (r.reason === "reported" ? `${job(r)} handed over again: already reported`
                      : `${job(r)} skipped (${r.reason})`)],
    "job.update_refused": ["warning", (r) => `The cloud refused a job report: ${r.code}`],
    "job.unrecorded": ["error", (r) => `${job(r)}: outcome not recorded: ${r.error}`],
    "ota.installed": ["info", (r) => `Update ${r.version} installed beside ${r.running}; restarting into it`],
    "ota.failed": ["error", (r) => `Update refused: ${r.reason}`],
    "ota.restarting": ["info", (r) => `Restarting from ${r.running} into the update`],
    "ota.settled": ["info", (r) => `Running ${r.running}`],
    "heartbeat.missed": ["error", () => "Heartbeat missed"],
    "heartbeat.restored": ["info", () => "Heartbeat back"],
  };

  // A level for a kind we have no sentence for, from the verb it ends with.
  function guessLevel(kind) {
    if (/\.(failed|crashed)$/.test(kind)) return "error";
    if (/\.(refused|rejected|disconnected|lost|missed|skipped|suspicious|dropped)$/.test(kind)) return "warning";
    return "info";
  }

  // The raw fields of a record, "name=value" each, its time, source and kind left out.
  function rawFields(r) {
    return Object.entries(r).filter(([k]) => !["t", "src", "kind"].includes(k))
      .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join(" ");
  }

  // {at, kind, level, text, known} for one line from the logs API.
  function read(line) {
    let record = null;
    try { record = JSON.parse(line.line); } catch (e) { record = null; }
    if (record === null || typeof record !== "object" || Array.isArray(record)) {
      return {at: line.at, kind: line.kind, level: guessLevel(line.kind), text: line.line, known: false};
    }
    const known = KINDS[line.kind];
    if (!known) return {at: line.at, kind: line.kind, level: LEVELS.includes(record.level) ? record.level
      : guessLevel(line.kind), text: rawFields(record), known: false};
    const level = typeof known[0] === "function" ? known[0](record) : known[0];
    return {at: line.at, kind: line.kind, level, text: known[1](record), known: true};
  }

  const atLeast = (level, floor) => LEVELS.indexOf(level) >= LEVELS.indexOf(floor || "debug");

  // The lines shown: [{entry} | {fold: [entries]}], newest first, with runs of periodic pushes folded.
  function arrange(lines, floor) {
    const out = [];
    for (const entry of lines.map(read).filter((e) => atLeast(e.level, floor))) {
      const last = out[out.length - 1];
      if (PERIODIC.has(entry.kind) && last && last.fold) last.fold.push(entry);
      else out.push(PERIODIC.has(entry.kind) ? {fold: [entry]} : {entry});
    }
    return out;
  }

  return {LEVELS, read, arrange};
})();
