// Calls an agent may make, in both shapes the toolkit meets: the account's ERC-7579 `Execution` struct
// ({ target, value, callData }) and viem's call ({ to, value, data }, what `sendUserOperation({ calls })` takes).
import { type Address, type Hex, encodeFunctionData, erc20Abi } from "viem";

/** The account's `Execution` struct (ERC-7579): one call of an agent batch. */
export type Execution = { target: Address; value: bigint; callData: Hex };

/** A call as viem's account-abstraction actions take it. */
export type Call = { to: Address; value?: bigint | undefined; data?: Hex | undefined };

/**
 * One call of an agent batch in both shapes at once, so it can go straight into
 * `bundlerClient.sendUserOperation({ calls })`, `payAsAgent({ calls })` or `checkAgentCalls`.
 */
export type AgentCall = Execution & { to: Address; value: bigint; data: Hex };

function agentCall(target: Address, value: bigint, callData: Hex): AgentCall {
  return { target, value, callData, to: target, data: callData };
}

export type Erc20PaymentParameters = {
  /** The token (must be listed in the agent's policy limits). */
  token: Address;
  /** The merchant paid (must be in the agent's merchant list). */
  to: Address;
  /** Amount in the token's smallest units (e.g. 25_000_000n for 25 USDC). */
  amount: bigint;
};

/**
 * An ERC-20 `transfer(to, amount)` made by the agent: one payment against the token's caps.
 *
 * @example
 * const call = erc20Payment({ token: usdc, to: merchant, amount: parseUnits("12.50", 6) });
 * await bundlerClient.sendUserOperation({ account: agentAccount, calls: [call] });
 */
export function erc20Payment({ token, to, amount }: Erc20PaymentParameters): AgentCall {
  return agentCall(token, 0n, encodeFunctionData({ abi: erc20Abi, functionName: "transfer", args: [to, amount] }));
}

export type Erc20ApprovalParameters = { token: Address; spender: Address; amount: bigint };

/** An ERC-20 `approve(spender, amount)`: approving is spending, so `amount` counts as a payment to `spender`. */
export function erc20Approval({ token, spender, amount }: Erc20ApprovalParameters): AgentCall {
  return agentCall(token, 0n, encodeFunctionData({ abi: erc20Abi, functionName: "approve", args: [spender, amount] }));
}

export type EthPaymentParameters = {
  /** The merchant paid (must be in the agent's merchant list; ETH must be listed as token address(0)). */
  to: Address;
  /** Wei. */
  value: bigint;
  /** Optional calldata for the merchant (any calldata is allowed to a merchant). */
  data?: Hex;
};

/** A plain ETH payment to a merchant (token address(0) in the policy). */
export function ethPayment({ to, value, data = "0x" }: EthPaymentParameters): AgentCall {
  return agentCall(to, value, data);
}

/** Normalises either shape to the account's `Execution` struct. */
export function toExecution(call: Execution | Call): Execution {
  if ("target" in call && call.target !== undefined) {
    return { target: call.target, value: call.value ?? 0n, callData: call.callData ?? "0x" };
  }
  const c = call as Call;
  return { target: c.to, value: c.value ?? 0n, callData: c.data ?? "0x" };
}
