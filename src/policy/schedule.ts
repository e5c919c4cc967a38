// Weekly schedules in a local time zone, converted to the contract's 168-bit UTC hour-of-week mask.
//
// Rounding: the contract allows or refuses whole UTC hours. A UTC hour is allowed only if ALL of it lies inside one of
// the schedule's windows (rounding inward, never granting time the owner did not give). "09:00-17:30" in a whole-hour
// zone allows 09:00-17:00 local; in Asia/Kolkata (UTC+05:30) it allows 09:30-17:30 local, the whole UTC hours inside.
//
// Daylight saving: the mask is fixed in UTC. It is computed with each zone's UTC offset in force at one reference date
// (default: now), so after a daylight-saving change the allowed local window is shifted by the change (an hour in
// Europe and North America) until the owner rebuilds the policy and updates it. `nextScheduleChange` says when that
// is due and `scheduleMaskDiffers` compares two dates.
import { InvalidPolicyInputError } from "../errors/policy.js";

/**
 * A weekly window in a time zone: on each of `days`, from `from` to `to` local time. A window whose `to` is not after
 * its `from` runs past midnight into the next day ("22:00" to "06:00" on "Fri" is Friday 22:00 to Saturday 06:00).
 */
export type WeeklySchedule = {
  /** `"Mon-Fri"`, `"Sat,Sun"`, `"Mon,Wed-Fri"`, `"*"` (every day); names or 3-letter abbreviations, any case. */
  days: string;
  /** Local start, `"HH:MM"` (24-hour). */
  from: string;
  /** Local end, `"HH:MM"` (24-hour, `"24:00"` allowed); exclusive. */
  to: string;
  /** IANA time zone, e.g. `"Europe/Berlin"`. Default `"UTC"`. */
  timeZone?: string | undefined;
};

export type ActiveHoursOptions = {
  /** The date whose UTC offsets are used (default: now). */
  at?: Date | number | undefined;
  /** Name of the input in error messages (default `"schedule"`). */
  field?: string | undefined;
};

const DAY_NAMES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const FULL_DAY_NAMES = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
const WEEK_MINUTES = 7 * 1440;

function dayIndex(name: string): number {
  const n = name.trim().toLowerCase();
  const i = DAY_NAMES.indexOf(n);
  return i !== -1 ? i : FULL_DAY_NAMES.indexOf(n);
}

/** Day indexes (0 = Monday) of a days expression, or undefined if it is malformed. */
export function parseDays(days: string): number[] | undefined {
  if (typeof days !== "string") return undefined;
  if (days.trim() === "*") return [0, 1, 2, 3, 4, 5, 6];
  const out = new Set<number>();
  for (const part of days.split(",")) {
    const range = part.split("-");
    if (range.length === 1) {
      const d = dayIndex(range[0]);
      if (d === -1) return undefined;
      out.add(d);
    } else if (range.length === 2) {
      const a = dayIndex(range[0]);
      const b = dayIndex(range[1]);
      if (a === -1 || b === -1) return undefined;
      for (let d = a; ; d = (d + 1) % 7) {
        out.add(d);
        if (d === b) break;
      }
    } else return undefined;
  }
  return [...out].sort((x, y) => x - y);
}

/** Minutes since local midnight of `"HH:MM"`, or undefined. `"24:00"` only when `allow24`. */
function parseClock(value: string, allow24: boolean): number | undefined {
  const m = typeof value === "string" ? /^(\d{1,2}):(\d{2})$/.exec(value.trim()) : null;
  if (!m) return undefined;
  const h = Number(m[1]);
  const min = Number(m[2]);
  if (min > 59) return undefined;
  if (h === 24 && min === 0 && allow24) return 1440;
  return h <= 23 ? h * 60 + min : undefined;
}

/**
 * The UTC offset of `timeZone` at `date`, in minutes east of UTC (Europe/Berlin in winter: 60; America/New_York in
 * winter: -300; Asia/Kolkata: 330). Uses `Intl.DateTimeFormat`.
 *
 * @throws RangeError for a time zone the runtime does not know.
 */
export function timeZoneOffsetMinutes(timeZone: string, date: Date | number = new Date()): number {
  const t = typeof date === "number" ? date : date.getTime();
  const whole = Math.floor(t / 1000) * 1000;
  const dtf = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
  const p: Record<string, number> = {};
  for (const part of dtf.formatToParts(whole)) if (part.type !== "literal") p[part.type] = Number(part.value);
  const local = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return Math.round((local - whole) / 60_000);
}

function asList(schedule: WeeklySchedule | readonly WeeklySchedule[]): readonly WeeklySchedule[] {
  return Array.isArray(schedule) ? schedule : [schedule as WeeklySchedule];
}

function toDate(at: Date | number | undefined): Date {
  if (at === undefined) return new Date();
  return typeof at === "number" ? new Date(at * 1000) : at;
}

/**
 * The 168-bit UTC hour-of-week mask (`activeHours`) of one or several weekly windows, with each time zone's offset at
 * `opts.at`. Bit h is hour h of the week in UTC, h = 0 being Monday 00:00-00:59 UTC (SPEC: h = (t / 3600 + 72) % 168).
 * A UTC hour is allowed only if it lies wholly inside a window (see the module comment on rounding and daylight saving).
 *
 * @throws InvalidPolicyInputError for malformed days, times or time zones, and when no whole hour is allowed.
 * @example
 * activeHoursFromSchedule({ days: "Mon-Fri", from: "09:00", to: "17:30", timeZone: "Europe/Berlin" }, { at: new Date("2026-01-15") })
 * // bits 8..15 (07:00-16:00 UTC = 08:00-17:00 Berlin winter time)... of each weekday
 */
export function activeHoursFromSchedule(
  schedule: WeeklySchedule | readonly WeeklySchedule[],
  opts: ActiveHoursOptions = {},
): bigint {
  const field = opts.field ?? "schedule";
  const list = asList(schedule);
  if (list.length === 0) {
    throw new InvalidPolicyInputError(
      `${field} is an empty list. Omit it to allow any time, or give at least one window.`,
      {
        field,
      },
    );
  }
  const date = toDate(opts.at);
  const minutes = new Uint8Array(WEEK_MINUTES);
  list.forEach((w, i) => {
    const f = Array.isArray(schedule) ? `${field}[${i}]` : field;
    if (w === null || typeof w !== "object") {
      throw new InvalidPolicyInputError(
        `${f} must be { days, from, to, timeZone? }, e.g. { days: "Mon-Fri", from: "09:00", to: "17:00" }.`,
        {
          field: f,
        },
      );
    }
    const days = parseDays(w.days);
    if (!days) {
      throw new InvalidPolicyInputError(
        `${f}.days ${JSON.stringify(w.days)} is not a list of days. Use names like "Mon-Fri", "Sat,Sun", "Mon,Wed-Fri" or "*".`,
        { field: `${f}.days` },
      );
    }
    const from = parseClock(w.from, false);
    if (from === undefined) {
      throw new InvalidPolicyInputError(
        `${f}.from ${JSON.stringify(w.from)} is not a time. Use "HH:MM" in 24-hour form, e.g. "09:00".`,
        { field: `${f}.from` },
      );
    }
    const to = parseClock(w.to, true);
    if (to === undefined) {
      throw new InvalidPolicyInputError(
        `${f}.to ${JSON.stringify(w.to)} is not a time. Use "HH:MM" in 24-hour form, e.g. "17:30" (or "24:00" for midnight).`,
        { field: `${f}.to` },
      );
    }
    if (to === from) {
      throw new InvalidPolicyInputError(
        `${f} starts and ends at ${w.from.trim()}. Give a window with different from and to, e.g. from "09:00" to "17:00" (or from "00:00" to "24:00" for the whole day).`,
        { field: f },
      );
    }
    const timeZone = w.timeZone ?? "UTC";
    let offset: number;
    try {
      offset = timeZoneOffsetMinutes(timeZone, date);
    } catch {
      throw new InvalidPolicyInputError(
        `${f}.timeZone ${JSON.stringify(timeZone)} is not a time zone this runtime knows. Use an IANA name such as "Europe/Berlin" or "UTC".`,
        { field: `${f}.timeZone` },
      );
    }
    const length = to > from ? to - from : to + 1440 - from;
    for (const d of days) {
      const start = d * 1440 + from - offset;
      for (let m = 0; m < length; m++) minutes[(((start + m) % WEEK_MINUTES) + WEEK_MINUTES) % WEEK_MINUTES] = 1;
    }
  });
  let mask = 0n;
  for (let h = 0; h < 168; h++) {
    let whole = true;
    for (let m = h * 60; m < h * 60 + 60 && whole; m++) whole = minutes[m] === 1;
    if (whole) mask |= 1n << BigInt(h);
  }
  if (mask === 0n) {
    throw new InvalidPolicyInputError(
      `${field} allows no whole UTC hour (the contract allows or refuses whole UTC hours). Widen a window so that it covers at least one whole hour in UTC.`,
      { field },
    );
  }
  return mask;
}

/** Whether a schedule's mask at `a` differs from its mask at `b` (a daylight-saving change in between moved it). */
export function scheduleMaskDiffers(
  schedule: WeeklySchedule | readonly WeeklySchedule[],
  a: Date | number,
  b: Date | number,
): boolean {
  return activeHoursFromSchedule(schedule, { at: a }) !== activeHoursFromSchedule(schedule, { at: b });
}

/**
 * The first moment after `from` (default now) at which the schedule's mask changes (a daylight-saving change in one of
 * its time zones), searched up to `withinDays` (default 400) ahead; `undefined` if none. Update the policy with a
 * mask rebuilt at (or after) that moment to keep the local window where the owner meant it.
 *
 * @example
 * const when = nextScheduleChange(officeHours, { from: new Date("2026-03-01") })
 * // 2026-03-29T01:00:00.000Z (Europe/Berlin switches to summer time)
 */
export function nextScheduleChange(
  schedule: WeeklySchedule | readonly WeeklySchedule[],
  opts: { from?: Date | number | undefined; withinDays?: number | undefined } = {},
): Date | undefined {
  const start = toDate(opts.from).getTime();
  const zones = [...new Set(asList(schedule).map((w) => w.timeZone ?? "UTC"))];
  const offsets = (t: number) => zones.map((z) => timeZoneOffsetMinutes(z, t)).join(",");
  const base = activeHoursFromSchedule(schedule, { at: new Date(start) });
  const step = 86_400_000;
  const days = opts.withinDays ?? 400;
  let prev = start;
  let prevOffsets = offsets(prev);
  for (let i = 1; i <= days; i++) {
    const t = start + i * step;
    const o = offsets(t);
    if (o !== prevOffsets) {
      // bisect to the second, then to the minute (zones change offset on whole minutes)
      let lo = prev;
      let hi = t;
      while (hi - lo > 1000) {
        const mid = Math.floor((lo + hi) / 2);
        if (offsets(mid) === prevOffsets) lo = mid;
        else hi = mid;
      }
      const changed = new Date(Math.floor(hi / 60_000) * 60_000);
      if (activeHoursFromSchedule(schedule, { at: changed }) !== base) return changed;
      prevOffsets = o;
    }
    prev = t;
  }
  return undefined;
}
