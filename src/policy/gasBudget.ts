import { InvalidPolicyInputError } from "../errors/policy.js";

export type EstimateGasBudgetParameters = {
  /** UserOperations the agent is expected to send per period (each payment batch is one). */
  paymentsPerPeriod: number;
  /** How many periods the budget should last. */
  periods: number;
  /** The `maxFeePerGas` (wei) the agent's UserOperations will bid: the highest you expect, not today's average. */
  maxFeePerGas: bigint;
  /**
   * Sum of one op's gas limits: `verificationGasLimit + callGasLimit + preVerificationGas` (plus the paymaster
   * limits, if any). Default 400,000, enough for a token payment through a bundler; measure yours with the bundler's
   * `eth_estimateUserOperationGas` and use what your agent really sets.
   */
  gasPerOp?: bigint | undefined;
  /** Extra on top, in percent (default 50). */
  headroomPercent?: number | undefined;
};

export type EstimateGasBudgetReturnType = {
  /** The `gasBudget` to put in the policy (wei). */
  gasBudget: bigint;
  /** What one op is charged: `gasPerOp * maxFeePerGas` (wei). */
  maxCostPerOp: bigint;
  /** Ops the budget is sized for: `paymentsPerPeriod * periods`. */
  operations: bigint;
  headroomPercent: number;
};

/** Default sum of gas limits of one agent UserOperation (see {@link EstimateGasBudgetParameters.gasPerOp}). */
export const DEFAULT_GAS_PER_OP = 400_000n;

function whole(field: string, value: unknown, min: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
    throw new InvalidPolicyInputError(`${field} must be a whole number of at least ${min}; got ${String(value)}.`, {
      field,
    });
  }
  return value;
}

/**
 * Sizes an agent's `gasBudget`. When the account pays for an agent's UserOperation, the account charges the budget the
 * op's MAXIMUM cost in validation (the sum of its gas limits times its `maxFeePerGas`, the EntryPoint's prefund), not
 * what it finally costs, and the charge stands even if the op is refused at execution. So the budget is
 * `ops * gasPerOp * maxFeePerGas`, plus headroom for higher fees and refused ops.
 *
 * @example
 * const { gasBudget } = estimateGasBudget({ paymentsPerPeriod: 20, periods: 30, maxFeePerGas: parseGwei("2") })
 * // 20 * 30 ops * 400,000 gas * 2 gwei * 1.5 = 0.72 ETH
 */
export function estimateGasBudget(parameters: EstimateGasBudgetParameters): EstimateGasBudgetReturnType {
  const perPeriod = whole("paymentsPerPeriod", parameters.paymentsPerPeriod, 1);
  const periods = whole("periods", parameters.periods, 1);
  const headroomPercent = whole("headroomPercent", parameters.headroomPercent ?? 50, 0);
  const gasPerOp = parameters.gasPerOp ?? DEFAULT_GAS_PER_OP;
  if (typeof gasPerOp !== "bigint" || gasPerOp <= 0n) {
    throw new InvalidPolicyInputError(`gasPerOp must be a positive bigint (gas units); got ${String(gasPerOp)}.`, {
      field: "gasPerOp",
    });
  }
  const fee = parameters.maxFeePerGas;
  if (typeof fee !== "bigint" || fee <= 0n) {
    throw new InvalidPolicyInputError(
      `maxFeePerGas must be a positive bigint in wei (e.g. parseGwei("2")); got ${String(fee)}.`,
      {
        field: "maxFeePerGas",
      },
    );
  }
  const operations = BigInt(perPeriod) * BigInt(periods);
  const maxCostPerOp = gasPerOp * fee;
  const gasBudget = (operations * maxCostPerOp * BigInt(100 + headroomPercent)) / 100n;
  return { gasBudget, maxCostPerOp, operations, headroomPercent };
}
