// Policies in human terms: schedules to the UTC hour-of-week mask (time zones, daylight saving, windows across
// midnight), durations, amounts with on-chain decimals, every validation error (messages asserted exactly), the
// contract's own policy rules mirrored, the gas budget helper, and the formatting helpers.
import { expect } from "chai";
import type { NetworkConnection } from "hardhat/types/network";
import { type Address, getAddress, keccak256, parseEther, parseGwei, stringToBytes, zeroAddress } from "viem";

import {
  ANY_HOUR,
  type AgentPolicy,
  ENTRY_POINT_V08_ADDRESS,
  InvalidPolicyInputError,
  NO_EXPIRY,
  PERMIT2_ADDRESS,
  type PolicyInput,
  UNLIMITED,
  UNLIMITED_CALLS,
  type WeeklySchedule,
  activeHoursFromSchedule,
  buildPolicy,
  decodeGuardrailViolation,
  estimateGasBudget,
  formatAmount,
  formatHourOfWeek,
  formatRelative,
  formatSpan,
  formatUtc,
  grantAgent,
  nextScheduleChange,
  parseDuration,
  periodAdjective,
  scheduleMaskDiffers,
  shortAddress,
  timeZoneOffsetMinutes,
  validatePolicy,
  toContractPolicy,
} from "../src/index.js";
import { type ToolkitWorld, createConnection, toolkitWorld } from "./helpers/toolkit.js";
import { USDC, agentIdFor, maxCost, policy } from "./helpers/stopline.js";

const WINTER = new Date("2026-01-15T12:00:00Z");
const SUMMER = new Date("2026-07-15T12:00:00Z");

/** The mask with bits `hours` set. */
const bits = (...hours: number[]) => hours.reduce((m, h) => m | (1n << BigInt(h)), 0n);
/** UTC hours [from, to) on each of `days` (0 = Monday). */
const daily = (days: number[], from: number, to: number) =>
  days.flatMap((d) => Array.from({ length: to - from }, (_, i) => d * 24 + from + i));
const WEEKDAYS = [0, 1, 2, 3, 4];

function refusal(fn: () => unknown): InvalidPolicyInputError {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(InvalidPolicyInputError);
    return e as InvalidPolicyInputError;
  }
  throw new Error("expected InvalidPolicyInputError");
}

async function asyncRefusal(p: Promise<unknown>): Promise<InvalidPolicyInputError> {
  try {
    await p;
  } catch (e) {
    expect(e).to.be.instanceOf(InvalidPolicyInputError);
    return e as InvalidPolicyInputError;
  }
  throw new Error("expected InvalidPolicyInputError");
}

describe("toolkit: weekly schedules to the UTC hour-of-week mask", function () {
  const mask = (s: WeeklySchedule | WeeklySchedule[], at: Date = WINTER) => activeHoursFromSchedule(s, { at });

  it("reads UTC office hours as whole UTC hours, rounding the half hour inward", function () {
    expect(mask({ days: "Mon-Fri", from: "09:00", to: "17:30" })).to.equal(bits(...daily(WEEKDAYS, 9, 17)));
    expect(mask({ days: "Mon-Fri", from: "09:30", to: "17:00", timeZone: "UTC" })).to.equal(
      bits(...daily(WEEKDAYS, 10, 17)),
    );
  });

  it("shifts Europe/Berlin by one hour in winter and two in summer", function () {
    const berlin = { days: "Mon-Fri", from: "09:00", to: "17:30", timeZone: "Europe/Berlin" };
    expect(mask(berlin, WINTER)).to.equal(bits(...daily(WEEKDAYS, 8, 16))); // 09:00-17:00 CET
    expect(mask(berlin, SUMMER)).to.equal(bits(...daily(WEEKDAYS, 7, 15))); // 09:00-17:00 CEST
  });

  it("shifts America/New_York by five hours in winter and four in summer", function () {
    const ny = { days: "Mon-Fri", from: "09:00", to: "17:00", timeZone: "America/New_York" };
    expect(mask(ny, WINTER)).to.equal(bits(...daily(WEEKDAYS, 14, 22)));
    expect(mask(ny, SUMMER)).to.equal(bits(...daily(WEEKDAYS, 13, 21)));
  });

  it("keeps only the whole UTC hours of a half-hour zone (Asia/Kolkata, UTC+05:30)", function () {
    // 09:00-17:30 IST = 03:30-12:00 UTC: whole hours 04:00-12:00 UTC = 09:30-17:30 IST
    const kolkata = { days: "Mon-Fri", from: "09:00", to: "17:30", timeZone: "Asia/Kolkata" };
    expect(mask(kolkata)).to.equal(bits(...daily(WEEKDAYS, 4, 12)));
  });

  it("runs a window across midnight into the next day, and across the end of the week", function () {
    expect(mask({ days: "Fri", from: "22:00", to: "06:00" })).to.equal(
      bits(4 * 24 + 22, 4 * 24 + 23, ...daily([5], 0, 6)),
    );
    expect(mask({ days: "Sun", from: "22:00", to: "02:00" })).to.equal(bits(166, 167, 0, 1));
    // Monday 00:00-02:00 in Berlin's winter is Sunday 23:00 to Monday 01:00 UTC
    expect(mask({ days: "Mon", from: "00:00", to: "02:00", timeZone: "Europe/Berlin" })).to.equal(bits(167, 0));
  });

  it("combines several windows, in several zones, and joins adjacent ones into whole hours", function () {
    const windows: WeeklySchedule[] = [
      { days: "Mon-Fri", from: "09:00", to: "12:00", timeZone: "Europe/Berlin" },
      { days: "Mon-Fri", from: "13:00", to: "17:00", timeZone: "Europe/Berlin" },
      { days: "Sat", from: "10:00", to: "14:00", timeZone: "UTC" },
    ];
    expect(mask(windows)).to.equal(bits(...daily(WEEKDAYS, 8, 11), ...daily(WEEKDAYS, 12, 16), ...daily([5], 10, 14)));
    expect(
      mask([
        { days: "Tue", from: "09:00", to: "09:30" },
        { days: "Tue", from: "09:30", to: "10:00" },
      ]),
    ).to.equal(bits(24 + 9));
  });

  it("understands day lists, ranges, wrapping ranges, full names and *", function () {
    const days = (d: string) => mask({ days: d, from: "00:00", to: "01:00" });
    expect(days("Sat,Sun")).to.equal(bits(120, 144));
    expect(days("Mon,Wed-Fri")).to.equal(bits(0, 48, 72, 96));
    expect(days("Fri-Mon")).to.equal(bits(96, 120, 144, 0));
    expect(days("monday, TUESDAY")).to.equal(bits(0, 24));
    expect(days("*")).to.equal(bits(0, 24, 48, 72, 96, 120, 144));
    expect(mask({ days: "*", from: "00:00", to: "24:00" })).to.equal(ANY_HOUR);
  });

  it("tells when daylight saving moves the mask, and when it next will", function () {
    const berlin = { days: "Mon-Fri", from: "09:00", to: "17:00", timeZone: "Europe/Berlin" };
    expect(scheduleMaskDiffers(berlin, WINTER, SUMMER)).to.equal(true);
    expect(scheduleMaskDiffers(berlin, WINTER, new Date("2026-02-15T12:00:00Z"))).to.equal(false);
    expect(scheduleMaskDiffers({ ...berlin, timeZone: "Asia/Kolkata" }, WINTER, SUMMER)).to.equal(false);
    expect(nextScheduleChange(berlin, { from: new Date("2026-03-01T00:00:00Z") })).to.deep.equal(
      new Date("2026-03-29T01:00:00Z"),
    );
    expect(nextScheduleChange(berlin, { from: SUMMER })).to.deep.equal(new Date("2026-10-25T01:00:00Z"));
    expect(
      nextScheduleChange({ ...berlin, timeZone: "America/New_York" }, { from: new Date("2026-03-01T00:00:00Z") }),
    ).to.deep.equal(new Date("2026-03-08T07:00:00Z"));
    expect(nextScheduleChange({ ...berlin, timeZone: "Asia/Kolkata" }, { from: WINTER })).to.equal(undefined);
  });

  it("reads UTC offsets from Intl", function () {
    expect(timeZoneOffsetMinutes("Europe/Berlin", WINTER)).to.equal(60);
    expect(timeZoneOffsetMinutes("Europe/Berlin", SUMMER)).to.equal(120);
    expect(timeZoneOffsetMinutes("America/New_York", WINTER)).to.equal(-300);
    expect(timeZoneOffsetMinutes("Asia/Kolkata", WINTER)).to.equal(330);
    expect(timeZoneOffsetMinutes("Asia/Kathmandu", WINTER)).to.equal(345);
    expect(timeZoneOffsetMinutes("UTC", WINTER)).to.equal(0);
  });

  it("refuses malformed schedules with a message that says how to fix them", function () {
    const cases: [WeeklySchedule | WeeklySchedule[], string, string][] = [
      [
        { days: "Mon-Fry", from: "09:00", to: "17:00" },
        "schedule.days",
        `schedule.days "Mon-Fry" is not a list of days. Use names like "Mon-Fri", "Sat,Sun", "Mon,Wed-Fri" or "*".`,
      ],
      [
        [
          { days: "Mon", from: "09:00", to: "10:00" },
          { days: "Tue", from: "9am", to: "17:00" },
        ],
        "schedule[1].from",
        `schedule[1].from "9am" is not a time. Use "HH:MM" in 24-hour form, e.g. "09:00".`,
      ],
      [
        { days: "Mon", from: "09:00", to: "25:00" },
        "schedule.to",
        `schedule.to "25:00" is not a time. Use "HH:MM" in 24-hour form, e.g. "17:30" (or "24:00" for midnight).`,
      ],
      [
        { days: "Mon", from: "09:00", to: "09:00" },
        "schedule",
        `schedule starts and ends at 09:00. Give a window with different from and to, e.g. from "09:00" to "17:00" (or from "00:00" to "24:00" for the whole day).`,
      ],
      [
        { days: "Mon", from: "09:00", to: "17:00", timeZone: "Europe/Berln" },
        "schedule.timeZone",
        `schedule.timeZone "Europe/Berln" is not a time zone this runtime knows. Use an IANA name such as "Europe/Berlin" or "UTC".`,
      ],
      [[], "schedule", "schedule is an empty list. Omit it to allow any time, or give at least one window."],
      [
        [null as never],
        "schedule[0]",
        `schedule[0] must be { days, from, to, timeZone? }, e.g. { days: "Mon-Fri", from: "09:00", to: "17:00" }.`,
      ],
      [
        { days: "Mon", from: "09:10", to: "09:50" },
        "schedule",
        "schedule allows no whole UTC hour (the contract allows or refuses whole UTC hours). Widen a window so that it covers at least one whole hour in UTC.",
      ],
      [
        { days: "Mon", from: "09:00", to: "10:00", timeZone: "Asia/Kolkata" },
        "schedule",
        "schedule allows no whole UTC hour (the contract allows or refuses whole UTC hours). Widen a window so that it covers at least one whole hour in UTC.",
      ],
    ];
    for (const [s, field, message] of cases) {
      const e = refusal(() => activeHoursFromSchedule(s, { at: WINTER }));
      expect(e.field).to.equal(field);
      expect(e.shortMessage).to.equal(message);
    }
  });
});

describe("toolkit: durations", function () {
  it("parses seconds and unit strings", function () {
    expect(parseDuration("45s")).to.equal(45);
    expect(parseDuration("90m")).to.equal(5400);
    expect(parseDuration("1h30m")).to.equal(5400);
    expect(parseDuration("12h")).to.equal(43_200);
    expect(parseDuration("1d")).to.equal(86_400);
    expect(parseDuration("30d")).to.equal(2_592_000);
    expect(parseDuration("1w")).to.equal(604_800);
    expect(parseDuration(3600)).to.equal(3600);
  });

  it("refuses malformed, empty and too long durations", function () {
    const cases: [string | number, number | undefined, string][] = [
      [
        "1 day",
        undefined,
        `period "1 day" is not a duration. Use a number of seconds or a string such as "45s", "90m", "12h", "1d" or "1w" (units may be combined: "1h30m").`,
      ],
      ["0d", undefined, `period "0d" must be longer than 0 seconds.`],
      [1.5, undefined, `period 1.5 is not a whole number of seconds. Use an integer such as 86400, or "1d".`],
      [-5, undefined, "period -5 must be longer than 0 seconds."],
      ["50000d", 2 ** 32 - 1, `period "50000d" is longer than the largest allowed (4294967295 seconds).`],
    ];
    for (const [value, max, message] of cases) {
      expect(refusal(() => parseDuration(value, "period", max)).shortMessage).to.equal(message);
    }
  });
});

describe("toolkit: buildPolicy and validatePolicy", function () {
  let conn: NetworkConnection;
  let w: ToolkitWorld;
  before(async function () {
    conn = await createConnection();
  });
  async function world() {
    return toolkitWorld(conn);
  }
  beforeEach(async function () {
    w = await conn.networkHelpers.loadFixture(world);
  });

  const input = (over: Partial<PolicyInput> = {}): PolicyInput => ({
    limits: [{ token: w.usdc.address, perPayment: "25.50", perPeriod: "100", lifetime: "1000" }],
    merchants: [w.addr.merchantA, w.addr.merchantB],
    period: "1d",
    ...over,
  });

  it("builds a whole policy from human terms, and the contract accepts it as built", async function () {
    const mandate = "Buy office coffee and API credits, at most 100 USDC a day";
    const schedule = { days: "Mon-Fri", from: "09:00", to: "17:30", timeZone: "Europe/Berlin" };
    const built = await buildPolicy(
      w.publicClient,
      input({
        limits: [
          { token: w.usdc.address, perPayment: "25.50", perPeriod: "100", lifetime: "1000" },
          { token: "ETH", perPayment: "0.01", perPeriod: "0.1", lifetime: "unlimited" },
        ],
        validity: { from: "now", for: "30d" },
        schedule,
        scheduleAt: WINTER,
        maxCallsPerPeriod: 20,
        gasBudget: "0.05",
        mandate: { text: mandate },
        address: w.accountAddress,
      }),
    );
    const now = Number((await w.publicClient.getBlock()).timestamp);
    const expected: AgentPolicy = {
      validAfter: now,
      validUntil: now + 30 * 86_400 - 1,
      period: 86_400,
      activeHours: bits(...daily(WEEKDAYS, 8, 16)),
      maxCallsPerPeriod: 20,
      gasBudget: parseEther("0.05"),
      mandate: keccak256(stringToBytes(mandate)),
      limits: [
        {
          token: getAddress(w.usdc.address),
          perPayment: 25_500_000n,
          perPeriod: USDC(100),
          lifetime: USDC(1000),
          laneCount: 0,
          laneMax: 0n,
        },
        {
          token: zeroAddress,
          perPayment: parseEther("0.01"),
          perPeriod: parseEther("0.1"),
          lifetime: UNLIMITED,
          laneCount: 0,
          laneMax: 0n,
        },
      ],
      merchants: [getAddress(w.addr.merchantA), getAddress(w.addr.merchantB)],
    };
    expect(built).to.deep.equal(expected);

    await grantAgent(w.wallets[1], {
      address: w.accountAddress,
      agentId: agentIdFor(40),
      key: w.wallets[18].account.address,
      policy: built,
    });
    const [, , stored] = await w.account.read.getAgent([agentIdFor(40)]);
    expect(stored).to.deep.equal(expected);
  });

  it("defaults to any hour, no expiry, unlimited calls, no gas budget and no mandate, from the start of time", async function () {
    expect(await buildPolicy(w.publicClient, input())).to.deep.equal({
      validAfter: 0,
      validUntil: NO_EXPIRY,
      period: 86_400,
      activeHours: ANY_HOUR,
      maxCallsPerPeriod: UNLIMITED_CALLS,
      gasBudget: 0n,
      mandate: "0x0000000000000000000000000000000000000000000000000000000000000000",
      limits: [
        {
          token: getAddress(w.usdc.address),
          perPayment: 25_500_000n,
          perPeriod: USDC(100),
          lifetime: USDC(1000),
          laneCount: 0,
          laneMax: 0n,
        },
      ],
      merchants: [getAddress(w.addr.merchantA), getAddress(w.addr.merchantB)],
    });
    const p = await buildPolicy(
      w.publicClient,
      input({
        validity: { from: new Date("2027-01-01T00:00:00Z"), until: 1_830_297_599 },
        gasBudget: "unlimited",
        maxCallsPerPeriod: "unlimited",
        mandate: { hash: keccak256(stringToBytes("x")) },
      }),
    );
    expect([p.validAfter, p.validUntil, p.gasBudget, p.maxCallsPerPeriod, p.mandate]).to.deep.equal([
      1_798_761_600,
      1_830_297_599,
      UNLIMITED,
      UNLIMITED_CALLS,
      keccak256(stringToBytes("x")),
    ]);
  });

  it("refuses every bad field before anything is sent, saying what is wrong and how to fix it", async function () {
    const usdc = w.usdc.address;
    const A = w.addr.merchantA;
    const tooBig = "340282366920938463464"; // ETH: above 2^128-2 wei
    const cases: [Partial<PolicyInput>, string, string][] = [
      [
        { limits: [{ token: usdc, perPayment: "30", perPeriod: "20", lifetime: "100" }] },
        "limits[0].perPayment",
        `perPayment "30" is larger than perPeriod "20" for USDC. Lower perPayment or raise perPeriod.`,
      ],
      [
        { limits: [{ token: usdc, perPayment: "10", perPeriod: "200", lifetime: "100" }] },
        "limits[0].perPeriod",
        `perPeriod "200" is larger than lifetime "100" for USDC. Lower perPeriod or raise lifetime.`,
      ],
      [
        { limits: [{ token: usdc, perPayment: "unlimited", perPeriod: "20", lifetime: "100" }] },
        "limits[0].perPayment",
        `perPayment "unlimited" is larger than perPeriod "20" for USDC. Lower perPayment or raise perPeriod.`,
      ],
      [
        { limits: [{ token: usdc, perPayment: "25.1234567", perPeriod: "100", lifetime: "1000" }] },
        "limits[0].perPayment",
        `limits[0].perPayment "25.1234567" for USDC has more than 6 decimals. Round it to 6 decimals.`,
      ],
      [
        { limits: [{ token: usdc, perPayment: "25,50", perPeriod: "100", lifetime: "1000" }] },
        "limits[0].perPayment",
        `limits[0].perPayment "25,50" for USDC is not a decimal amount. Use digits with an optional "." such as "25.50", or "unlimited".`,
      ],
      [
        { limits: [{ token: usdc, perPayment: 25 as unknown as string, perPeriod: "100", lifetime: "1000" }] },
        "limits[0].perPayment",
        `limits[0].perPayment for USDC must be a decimal string such as "25.50" or "unlimited", not a number. Put it in quotes.`,
      ],
      [
        { limits: [{ token: usdc, perPayment: "1", lifetime: "1000" } as never] },
        "limits[0].perPeriod",
        `limits[0].perPeriod is missing for USDC. Give an amount such as "100" or "unlimited".`,
      ],
      [
        { limits: [{ token: "ETH", perPayment: "1", perPeriod: "1", lifetime: tooBig }] },
        "limits[0].lifetime",
        `limits[0].lifetime "${tooBig}" for ETH is above the largest cap (2^128-2 units). Lower it or use "unlimited".`,
      ],
      [
        { limits: [{ token: "0x123" as Address, perPayment: "1", perPeriod: "1", lifetime: "1" }] },
        "limits[0].token",
        `limits[0].token "0x123" is not an address (or its checksum is wrong). Use a 20-byte hex address.`,
      ],
      [
        {
          limits: [
            { token: usdc, perPayment: "1", perPeriod: "1", lifetime: "1" },
            { token: usdc.toLowerCase() as Address, perPayment: "2", perPeriod: "2", lifetime: "2" },
          ],
        },
        "limits[1].token",
        `limits[1].token ${shortAddress(usdc)} is listed twice (also limits[0]). Merge the two limits into one.`,
      ],
      [
        {
          limits: [
            { token: "ETH", perPayment: "1", perPeriod: "1", lifetime: "1" },
            { token: zeroAddress, perPayment: "2", perPeriod: "2", lifetime: "2" },
          ],
        },
        "limits[1].token",
        "limits[1].token ETH is listed twice (also limits[0]). Merge the two limits into one.",
      ],
      [
        { limits: [{ token: ENTRY_POINT_V08_ADDRESS, perPayment: "1", perPeriod: "1", lifetime: "1" }] },
        "limits[0].token",
        "limits[0].token 0x4337…f108 is the EntryPoint. A policy may not list the account, the EntryPoint or Permit2 as a token.",
      ],
      [
        { limits: [{ token: PERMIT2_ADDRESS, perPayment: "1", perPeriod: "1", lifetime: "1" }] },
        "limits[0].token",
        "limits[0].token 0x0000…8BA3 is Permit2. A policy may not list the account, the EntryPoint or Permit2 as a token.",
      ],
      [
        {
          limits: [{ token: w.accountAddress, perPayment: "1", perPeriod: "1", lifetime: "1" }],
          address: w.accountAddress,
        },
        "limits[0].token",
        `limits[0].token ${shortAddress(w.accountAddress)} is the account itself. A policy may not list the account, the EntryPoint or Permit2 as a token.`,
      ],
      [
        { limits: [{ token: w.addr.stranger, perPayment: "1", perPeriod: "1", lifetime: "1" }] },
        "limits[0].token",
        "limits[0].token 0x14dC…9955 did not answer decimals(). Check that it is an ERC-20 token deployed on this chain.",
      ],
      [
        { merchants: [A, "0x12"] },
        "merchants[1]",
        `merchants[1] "0x12" is not an address (or its checksum is wrong). Use a 20-byte hex address.`,
      ],
      [
        { merchants: ["0x9965507D1a55bcC2695C58ba16FB37d819B0A4DC"] },
        "merchants[0]",
        `merchants[0] "0x9965507D1a55bcC2695C58ba16FB37d819B0A4DC" is not an address (or its checksum is wrong). Use a 20-byte hex address.`,
      ],
      [
        { merchants: [zeroAddress] },
        "merchants[0]",
        "merchants[0] is the zero address. Remove it: a merchant must be an address that can be paid.",
      ],
      [
        { merchants: [A, ENTRY_POINT_V08_ADDRESS] },
        "merchants[1]",
        "merchants[1] 0x4337…f108 is the EntryPoint. A merchant may not be the account, the EntryPoint or Permit2.",
      ],
      [
        { merchants: [w.accountAddress], address: w.accountAddress },
        "merchants[0]",
        `merchants[0] ${shortAddress(w.accountAddress)} is the account itself. A merchant may not be the account, the EntryPoint or Permit2.`,
      ],
      [
        { merchants: [usdc] },
        "merchants[0]",
        `merchants[0] ${shortAddress(usdc)} is the token of limits[0]. A merchant may not be a listed token; remove it from merchants.`,
      ],
      [
        { merchants: [A, w.addr.merchantB, getAddress(A)] },
        "merchants[2]",
        "merchants[2] 0x9965…A4dc is listed twice (also merchants[0]). Remove the duplicate.",
      ],
      [{ limits: "USDC" as never }, "limits", "limits must be a list of { token, perPayment, perPeriod, lifetime }."],
      [{ merchants: A as never }, "merchants", "merchants must be a list of addresses."],
      [{ period: undefined as never }, "period", `period is missing. Give a duration such as "1d" or "12h".`],
      [{ period: "0d" }, "period", `period "0d" must be longer than 0 seconds.`],
      [
        { validity: { for: "30d", until: 1_900_000_000 } },
        "validity",
        `validity has both "for" and "until". Give one of them.`,
      ],
      [
        { validity: { from: new Date("2027-02-01T00:00:00Z"), until: new Date("2027-01-01T00:00:00Z") } },
        "validity.until",
        `validity.until (2027-01-01 00:00 UTC) is not after validity.from (2027-02-01 00:00 UTC). Move "until" later or "from" earlier.`,
      ],
      [
        { validity: { from: "tomorrow" as never } },
        "validity.from",
        `validity.from must be a Date or unix seconds; got "tomorrow".`,
      ],
      [{ validity: { for: "0s" } }, "validity.for", `validity.for "0s" must be longer than 0 seconds.`],
      [
        { validity: { from: -1 } },
        "validity.from",
        "validity.from is out of range: it must be between 1970 and 2^48-2 seconds.",
      ],
      [
        { validity: { from: 2 ** 48 - 100, for: "1d" } },
        "validity.for",
        `validity.for "1d" ends after 2^48-2 seconds. Shorten it.`,
      ],
      [
        { schedule: { days: "Mon", from: "09:00", to: "09:30" } },
        "schedule",
        "schedule allows no whole UTC hour (the contract allows or refuses whole UTC hours). Widen a window so that it covers at least one whole hour in UTC.",
      ],
      [
        { maxCallsPerPeriod: 1.5 },
        "maxCallsPerPeriod",
        `maxCallsPerPeriod 1.5 must be a whole number from 0 to 4294967294, or "unlimited".`,
      ],
      [
        { maxCallsPerPeriod: UNLIMITED_CALLS },
        "maxCallsPerPeriod",
        `maxCallsPerPeriod 4294967295 must be a whole number from 0 to 4294967294, or "unlimited".`,
      ],
      [
        { gasBudget: "0.1.2" },
        "gasBudget",
        `gasBudget "0.1.2" is not a decimal amount of ETH. Use a string such as "0.05", a bigint in wei, or "unlimited".`,
      ],
      [
        { gasBudget: "0.0000000000000000001" },
        "gasBudget",
        `gasBudget "0.0000000000000000001" has more than 18 decimals. Round it to 18 decimals (1 wei).`,
      ],
      [{ gasBudget: -1n }, "gasBudget", "gasBudget -1 must not be negative."],
      [
        { gasBudget: 5 as never },
        "gasBudget",
        `gasBudget must be a decimal string in ETH such as "0.05", a bigint in wei, or "unlimited".`,
      ],
      [
        { gasBudget: 2n ** 128n },
        "gasBudget",
        `gasBudget is above the largest budget (2^128-2 wei). Lower it or use "unlimited".`,
      ],
      [
        { mandate: { text: "x", hash: keccak256("0x") } as never },
        "mandate",
        `mandate must be { text: "..." } or { hash: "0x..." } (32 bytes), one of the two.`,
      ],
      [
        { mandate: { text: "  " } },
        "mandate.text",
        "mandate.text is empty. Write the instruction the agent follows, or omit mandate.",
      ],
      [{ mandate: { hash: "0x1234" } }, "mandate.hash", `mandate.hash "0x1234" is not 32 bytes of hex.`],
    ];
    const sent = await w.publicClient.getTransactionCount({ address: w.addr.owner });
    for (const [over, field, message] of cases) {
      const e = await asyncRefusal(buildPolicy(w.publicClient, input(over)));
      expect([e.field, e.shortMessage]).to.deep.equal([field, message]);
    }
    expect(await w.publicClient.getTransactionCount({ address: w.addr.owner })).to.equal(sent);
  });

  it("mirrors every InvalidPolicy rule of the contract in validatePolicy", async function () {
    const base = policy({
      limits: [{ token: w.usdc.address, perPayment: USDC(25), perPeriod: USDC(100), lifetime: USDC(1000) }],
      merchants: [w.addr.merchantA],
    });
    const lim = base.limits[0];
    const cases: [Partial<AgentPolicy>, string, string][] = [
      [
        { validAfter: 100, validUntil: 100 },
        "validUntil must be after validAfter",
        "validUntil (100) must be after validAfter (100). Move validUntil later (NO_EXPIRY for none) or validAfter earlier.",
      ],
      [{ period: 0 }, "period must be greater than 0", "period must be greater than 0 seconds."],
      [
        { activeHours: 0n },
        "activeHours must allow at least one hour",
        "activeHours must allow at least one hour (it is 0). Use ANY_HOUR to allow any time.",
      ],
      [
        { gasBudget: 2n ** 128n - 1n },
        "cap above 2^128-2 (use type(uint256).max for unlimited)",
        "gasBudget 340282366920938463463374607431768211455 is above the largest cap (2^128-2 wei). Lower it, or use UNLIMITED (2^256-1).",
      ],
      [
        { limits: [{ ...lim, lifetime: 2n ** 128n - 1n }] },
        "cap above 2^128-2 (use type(uint256).max for unlimited)",
        "limits[0].lifetime 340282366920938463463374607431768211455 is above the largest cap (2^128-2 units). Lower it, or use UNLIMITED (2^256-1).",
      ],
      [
        { limits: [{ ...lim, token: ENTRY_POINT_V08_ADDRESS }] },
        "token may not be the account, the EntryPoint or Permit2",
        "limits[0].token 0x4337…f108 is the EntryPoint. A policy may not list the account, the EntryPoint or Permit2 as a token.",
      ],
      [
        { limits: [{ ...lim, token: w.accountAddress }] },
        "token may not be the account, the EntryPoint or Permit2",
        `limits[0].token ${shortAddress(w.accountAddress)} is the account itself. A policy may not list the account, the EntryPoint or Permit2 as a token.`,
      ],
      [
        { limits: [lim, lim] },
        "token listed twice",
        `limits[1].token ${shortAddress(w.usdc.address)} is listed twice (also limits[0]). Merge the two limits.`,
      ],
      [
        { limits: [{ ...lim, perPayment: USDC(101) }] },
        "perPayment must not exceed perPeriod",
        `limits[0].perPayment 101000000 is larger than perPeriod 100000000 for ${shortAddress(w.usdc.address)}. Lower perPayment or raise perPeriod.`,
      ],
      [
        { limits: [{ ...lim, perPeriod: USDC(1001), lifetime: USDC(1000) }] },
        "perPeriod must not exceed lifetime",
        `limits[0].perPeriod 1001000000 is larger than lifetime 1000000000 for ${shortAddress(w.usdc.address)}. Lower perPeriod or raise lifetime.`,
      ],
      [
        { merchants: [zeroAddress] },
        "merchant may not be the zero address",
        "merchants[0] is the zero address. Remove it: a merchant must be an address that can be paid.",
      ],
      [
        { merchants: [PERMIT2_ADDRESS] },
        "merchant may not be the account, the EntryPoint or Permit2",
        "merchants[0] 0x0000…8BA3 is Permit2. A merchant may not be the account, the EntryPoint or Permit2.",
      ],
      [
        { merchants: [w.usdc.address] },
        "merchant may not be a listed token",
        `merchants[0] ${shortAddress(w.usdc.address)} is the token of limits[0]. A merchant may not be a listed token.`,
      ],
      [
        { merchants: [w.addr.merchantA, w.addr.merchantA] },
        "merchant listed twice",
        "merchants[1] 0x9965…A4dc is listed twice (also merchants[0]). Remove the duplicate.",
      ],
    ];
    for (const [over, reason, message] of cases) {
      const bad = { ...base, ...over };
      // the contract refuses it with that reason...
      let onChain: unknown;
      try {
        await w.account.write.grantAgent([agentIdFor(41), w.wallets[18].account.address, toContractPolicy(bad)]);
      } catch (e) {
        onChain = e;
      }
      expect(decodeGuardrailViolation(onChain)).to.deep.include({ name: "InvalidPolicy", reason });
      // ...and the toolkit before sending
      expect(refusal(() => validatePolicy(bad, { address: w.accountAddress })).shortMessage).to.equal(message);
    }
    expect(() => validatePolicy(base, { address: w.accountAddress })).to.not.throw();
    // and the ranges of the fields, which the ABI encoder would otherwise refuse less clearly
    const ranges: [Partial<AgentPolicy>, string][] = [
      [{ validAfter: 1.5 }, "validAfter must be a whole number in [0, 2^48); got 1.5."],
      [{ period: 2 ** 32 }, "period must be a whole number in [0, 2^32); got 4294967296."],
      [
        { activeHours: 1n << 168n },
        "activeHours must be a bigint in [0, 2^168); got 374144419156711147060143317175368453031918731001856.",
      ],
      [{ mandate: "0x12" }, `mandate "0x12" must be 32 bytes of hex (a keccak256 hash).`],
      [{ merchants: ["0xabc"] }, `merchants[0] "0xabc" is not an address (or its checksum is wrong).`],
    ];
    for (const [over, message] of ranges) {
      expect(refusal(() => validatePolicy({ ...base, ...over })).shortMessage).to.equal(message);
    }
  });
});

describe("toolkit: estimateGasBudget", function () {
  it("charges each op its maximum cost, times the ops expected, plus headroom", function () {
    expect(estimateGasBudget({ paymentsPerPeriod: 20, periods: 30, maxFeePerGas: parseGwei("2") })).to.deep.equal({
      gasBudget: parseEther("0.72"),
      maxCostPerOp: parseGwei("800000"),
      operations: 600n,
      headroomPercent: 50,
    });
  });

  it("matches what the account charges for one op exactly (the fixture's op: 1,060,000 gas at 2 gwei)", async function () {
    const conn = await createConnection();
    const w = await toolkitWorld(conn);
    const op = await w.agentOp([w.transfer(w.addr.merchantA, USDC(1))]);
    const [chargedBefore] = await w.account.read.agentUsage([w.agentId]);
    await w.handleOps([op]);
    const [chargedAfter] = await w.account.read.agentUsage([w.agentId]);
    const { gasBudget } = estimateGasBudget({
      paymentsPerPeriod: 1,
      periods: 1,
      maxFeePerGas: 2_000_000_000n,
      gasPerOp: 1_060_000n,
      headroomPercent: 0,
    });
    expect(chargedAfter - chargedBefore).to.equal(maxCost(op));
    expect(gasBudget).to.equal(maxCost(op));
  });

  it("refuses nonsense inputs", function () {
    const cases: [Parameters<typeof estimateGasBudget>[0], string][] = [
      [
        { paymentsPerPeriod: 0, periods: 1, maxFeePerGas: 1n },
        "paymentsPerPeriod must be a whole number of at least 1; got 0.",
      ],
      [
        { paymentsPerPeriod: 1, periods: 1.5, maxFeePerGas: 1n },
        "periods must be a whole number of at least 1; got 1.5.",
      ],
      [
        { paymentsPerPeriod: 1, periods: 1, maxFeePerGas: 0n },
        `maxFeePerGas must be a positive bigint in wei (e.g. parseGwei("2")); got 0.`,
      ],
      [
        { paymentsPerPeriod: 1, periods: 1, maxFeePerGas: 1n, gasPerOp: 0n },
        "gasPerOp must be a positive bigint (gas units); got 0.",
      ],
      [
        { paymentsPerPeriod: 1, periods: 1, maxFeePerGas: 1n, headroomPercent: -1 },
        "headroomPercent must be a whole number of at least 0; got -1.",
      ],
    ];
    for (const [p, message] of cases) expect(refusal(() => estimateGasBudget(p)).shortMessage).to.equal(message);
  });
});

describe("toolkit: formatting helpers", function () {
  it("formats amounts, addresses, times, spans and hours of the week", function () {
    expect(formatAmount(30_000_000n, 6)).to.equal("30.00");
    expect(formatAmount(25_500_000n, 6)).to.equal("25.50");
    expect(formatAmount(1n, 6)).to.equal("0.000001");
    expect(formatAmount(10n ** 17n, 18)).to.equal("0.10");
    expect(formatAmount(7n, 0)).to.equal("7");
    expect(formatAmount(UNLIMITED, 6)).to.equal("unlimited");
    expect(shortAddress("0xcf7ed3acca5a467e9e704c703e8d87f634fb0fc9")).to.equal("0xCf7E…0Fc9");
    expect(formatUtc(1_795_824_000n)).to.equal("2026-11-28 00:00 UTC");
    expect(formatUtc(1_795_824_030)).to.equal("2026-11-28 00:00:30 UTC");
    expect([
      formatSpan(45),
      formatSpan(720),
      formatSpan(11_520),
      formatSpan(10_800),
      formatSpan(187_200),
      formatSpan(432_000),
    ]).to.deep.equal(["45 s", "12 min", "3 h 12 min", "3 h", "2 d 4 h", "5 d"]);
    expect([formatRelative(100, 40), formatRelative(40, 100), formatRelative(5, 5)]).to.deep.equal([
      "in 1 min",
      "1 min ago",
      "now",
    ]);
    expect([3600, 86_400, 604_800, 2_592_000, 43_200, 5400, 45].map(periodAdjective)).to.deep.equal([
      "hourly",
      "daily",
      "weekly",
      "30-day",
      "12-hour",
      "90-minute",
      "45-second",
    ]);
    expect([formatHourOfWeek(0), formatHourOfWeek(116), formatHourOfWeek(167)]).to.deep.equal([
      "Mon 00:00-01:00 UTC",
      "Fri 20:00-21:00 UTC",
      "Sun 23:00-24:00 UTC",
    ]);
  });
});
