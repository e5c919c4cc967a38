import { InvalidPolicyInputError } from "../errors/policy.js";

/** A duration: seconds as a number, or a string of number-unit pairs: `"45s"`, `"90m"`, `"12h"`, `"1d"`, `"2w"`, `"1h30m"`. */
export type Duration = number | string;

const UNITS: Readonly<Record<string, number>> = { w: 604_800, d: 86_400, h: 3600, m: 60, s: 1 };

/**
 * Seconds in a {@link Duration}. `m` is minutes (there is no month unit: use `"30d"`).
 *
 * @throws InvalidPolicyInputError when the duration is malformed, zero or negative, or longer than `max` seconds.
 * @example
 * parseDuration("1h30m") // 5400
 */
export function parseDuration(value: Duration, field = "duration", max: number = Number.MAX_SAFE_INTEGER): number {
  let seconds: number;
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) {
      throw new InvalidPolicyInputError(
        `${field} ${value} is not a whole number of seconds. Use an integer such as 86400, or "1d".`,
        {
          field,
        },
      );
    }
    seconds = value;
  } else if (typeof value === "string" && /^(\s*\d+\s*[wdhms])+\s*$/.test(value)) {
    seconds = 0;
    for (const m of value.matchAll(/(\d+)\s*([wdhms])/g)) seconds += Number(m[1]) * UNITS[m[2]];
  } else {
    throw new InvalidPolicyInputError(
      `${field} ${JSON.stringify(value)} is not a duration. Use a number of seconds or a string such as "45s", "90m", "12h", "1d" or "1w" (units may be combined: "1h30m").`,
      { field },
    );
  }
  const shown = typeof value === "string" ? `"${value}"` : String(value);
  if (seconds <= 0) {
    throw new InvalidPolicyInputError(`${field} ${shown} must be longer than 0 seconds.`, { field });
  }
  if (seconds > max) {
    throw new InvalidPolicyInputError(`${field} ${shown} is longer than the largest allowed (${max} seconds).`, {
      field,
    });
  }
  return seconds;
}
