import { maxUint256, zeroAddress } from "viem";

/** A cap (or gas budget) of `UNLIMITED` means no limit. Any other cap must be at most `MAX_CAP`. */
export const UNLIMITED = maxUint256;
/** Largest cap or gas budget other than `UNLIMITED` (2^128 - 2), as the contract enforces. */
export const MAX_CAP = 2n ** 128n - 2n;
/** `validUntil` that never expires (2^48 - 1). */
export const NO_EXPIRY = 2 ** 48 - 1;
/** `activeHours` that allows every hour of the week (168 ones). */
export const ANY_HOUR = (1n << 168n) - 1n;
/** `maxCallsPerPeriod` without a limit (2^32 - 1). */
export const UNLIMITED_CALLS = 2 ** 32 - 1;
/** The token address that stands for native ETH in a policy. */
export const NATIVE_TOKEN = zeroAddress;
/** ETH's display metadata. */
export const ETH_METADATA = { symbol: "ETH", decimals: 18 } as const;
/** Seconds in one hour and in one week, for hour-of-week arithmetic. */
export const HOUR = 3600;
export const WEEK_HOURS = 168;
