// Club time: every time on the dashboard is shown, and every time typed in is read, in the club's zone
// (the cloud's --timezone, from /api/me) on a 24-hour clock, whatever the browser's locale or zone.
// Names of days and months are English, like the rest of the page. A wall-clock time typed in follows the
// project's one DST rule (system/decisions/localtime.py): one that happens twice is its first occurrence,
// one inside the spring-forward gap is read with the offset in force before it (02:30 -> 03:30).
"use strict";
const ClubTime = (() => {
  let zone = "Europe/Brussels";
  let parts = null;

  // Show and read times in the IANA zone `name`; one this browser does not know falls back to UTC (returned).
  function setZone(name) {
    const options = {hourCycle: "h23", weekday: "short", day: "numeric", month: "short", year: "numeric",
      hour: "2-digit", minute: "2-digit", second: "2-digit"};
    try {
      parts = new Intl.DateTimeFormat("en-GB", {...options, timeZone: name});
      zone = name;
    } catch (e) {  // a RangeError: keep the page usable, and say which zone it shows
      parts = new Intl.DateTimeFormat("en-GB", {...options, timeZone: "UTC"});
      zone = "UTC";
    }
    return zone;
  }
  setZone(zone);

  // The wall clock in the zone at epoch seconds t, as named fields (hour 0-23).
  function fields(t) {
    const out = {};
    for (const p of parts.formatToParts(new Date(t * 1000))) out[p.type] = p.value;
    return out;
  }

  // Seconds the zone is ahead of UTC at epoch seconds t.
  function offset(t) {
    const f = fields(t);
    const month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"].indexOf(f.month);
    return Date.UTC(+f.year, month, +f.day, +f.hour, +f.minute, +f.second) / 1000 - Math.floor(t);
  }

  // "Sat 2 Aug 2025" for the day of t in the zone.
  function day(t) {
    const f = fields(t);
    return `${f.weekday} ${f.day} ${f.month} ${f.year}`;
  }

  // "20:45:07" for the time of day of t in the zone.
  function clock(t) {
    const f = fields(t);
    return `${f.hour}:${f.minute}:${f.second}`;
  }

  // "Sat 2 Aug 2025, 20:45" for t in the zone; "-" when there is no time.
  function when(t) {
    if (t == null) return "-";
    const f = fields(t);
    return `${f.weekday} ${f.day} ${f.month} ${f.year}, ${f.hour}:${f.minute}`;
  }

  // Epoch seconds of a wall-clock "YYYY-MM-DDTHH:MM" (a datetime-local input's value) in the zone.
  function toEpoch(text) {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(text);
    if (!m) return NaN;
    const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0)) / 1000;
    const before = wall - offset(wall - 86400), after = wall - offset(wall + 86400);
    const fits = (t) => t + offset(t) === wall;
    return !fits(before) && fits(after) ? after : before;  // a fold or a gap: the offset before the change
  }

  return {setZone, zone: () => zone, day, clock, when, toEpoch};
})();
