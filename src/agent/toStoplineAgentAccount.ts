import {
  type Address,
  type Chain,
  type Client,
  type Hex,
  type JsonRpcAccount,
  type LocalAccount,
  type Prettify,
  type Transport,
  BaseError,
  decodeFunctionData,
  encodeFunctionData,
  isAddress,
  isHex,
  size,
} from "viem";
import {
  type SmartAccount,
  type SmartAccountImplementation,
  getUserOperationHash,
  getUserOperationTypedData,
  toSmartAccount,
} from "viem/account-abstraction";
import { getChainId, readContract } from "viem/actions";
import { getAction } from "viem/utils";

import { ENTRY_POINT_V08_ADDRESS, agentAccountAbi, entryPointV08Abi } from "./abi.js";
import { AgentKeyCannotSignError, AgentNonceKeyError } from "./errors.js";

/**
 * A 65-byte ECDSA signature (low s, no zero byte) made by a throwaway key over a fixed hash. Over any other hash it
 * recovers to some unrelated address, so the account runs its whole validation (the signature is judged last) and
 * returns SIG_VALIDATION_FAILED: gas estimation measures the same path as the real signature.
 */
export const AGENT_STUB_SIGNATURE: Hex =
  "0x2cccce751559ec576933a6d2a70dbac1306a15186d82917c197af81db4f7201504d4ebc9c8550d76bb1b447a6a86c725c15b0e3787f65cbb2d027fea20245cf61c";

const NONCE_KEY_MASK = (1n << 192n) - 1n;

/** The agent's own ERC-4337 nonce key: the low 192 bits of its id (SPEC: `uint192(uint256(agentId))`). */
export function agentNonceKey(agentId: Hex): bigint {
  return BigInt(agentId) & NONCE_KEY_MASK;
}

export type ToStoplineAgentAccountParameters = {
  /** Client used to read the EntryPoint nonce and the chain id (a public client of the account's chain). */
  client: Client<Transport, Chain | undefined, JsonRpcAccount | LocalAccount | undefined>;
  /** The Stopline account (already deployed; an agent never deploys it). */
  address: Address;
  /** The agent's id (bytes32); its low 192 bits are the agent's nonce key. */
  agentId: Hex;
  /** The agent's current key. Signs the UserOperation hash and nothing else. */
  key: LocalAccount;
  /** EntryPoint v0.8 the account is pinned to (default: the canonical 0x4337084D…). */
  entryPoint?: { address: Address } | undefined;
};

export type StoplineAgentAccountImplementation = SmartAccountImplementation<
  typeof entryPointV08Abi,
  "0.8",
  {
    /** The account's ABI. */
    abi: typeof agentAccountAbi;
    /** The agent this smart account acts for. */
    agentId: Hex;
    /** The agent's nonce key, `uint192(agentId)`. */
    nonceKey: bigint;
    /** Address of the agent key that signs (never the key itself). */
    keyAddress: Address;
  },
  false
>;

export type ToStoplineAgentAccountReturnType = Prettify<SmartAccount<StoplineAgentAccountImplementation>>;

/**
 * A viem `SmartAccount` that acts as one agent of a Stopline account: `callData` is
 * `executeAsAgent(agentId, calls)`, the nonce comes from the agent's own nonce key, the agent key signs the
 * EntryPoint v0.8 userOpHash, and gas is estimated with a stub signature that takes the same validation path.
 *
 * @example
 * import { createBundlerClient } from "viem/account-abstraction";
 *
 * const account = await toStoplineAgentAccount({ client: publicClient, address: stoplineAccount, agentId, key });
 * const bundler = createBundlerClient({ client: publicClient, transport: http(bundlerUrl) });
 * const hash = await bundler.sendUserOperation({
 *   account,
 *   calls: [erc20Payment({ token: usdc, to: merchant, amount: 12_500_000n })],
 * });
 */
export async function toStoplineAgentAccount(
  parameters: ToStoplineAgentAccountParameters,
): Promise<ToStoplineAgentAccountReturnType> {
  const { client, address, agentId, key } = parameters;
  if (!isAddress(address)) throw new BaseError(`The Stopline account address ${String(address)} is not an address.`);
  if (!isHex(agentId) || size(agentId) !== 32) {
    throw new BaseError(`The agent id ${String(agentId)} is not a bytes32 hex string (0x followed by 64 hex digits).`);
  }
  const nonceKey = agentNonceKey(agentId);
  if (nonceKey === 0n) {
    throw new BaseError(
      `The agent id ${agentId} has zero low 192 bits: those bits are its nonce key, and 0 is the owner's.`,
    );
  }
  if (key?.type !== "local") {
    throw new BaseError("`key` must be a viem LocalAccount (e.g. from loadAgentKey() or privateKeyToAccount()).");
  }

  const entryPoint = {
    abi: entryPointV08Abi,
    address: parameters.entryPoint?.address ?? ENTRY_POINT_V08_ADDRESS,
    version: "0.8",
  } as const;

  let chainId: number | undefined = client.chain?.id;
  const getChain = async () => (chainId ??= await getAction(client, getChainId, "getChainId")({}));

  const readNonce = () =>
    getAction(
      client,
      readContract,
      "readContract",
    )({
      abi: entryPointV08Abi,
      address: entryPoint.address,
      functionName: "getNonce",
      args: [address, nonceKey],
    });

  const account = await toSmartAccount({
    client,
    entryPoint,
    extend: { abi: agentAccountAbi, agentId, nonceKey, keyAddress: key.address },

    async decodeCalls(data) {
      const decoded = decodeFunctionData({ abi: agentAccountAbi, data });
      if (decoded.functionName !== "executeAsAgent") {
        throw new BaseError(`Cannot decode calls of "${decoded.functionName}": agent ops call executeAsAgent.`);
      }
      const [, calls] = decoded.args;
      return calls.map((c) => ({ to: c.target, value: c.value, data: c.callData }));
    },

    async encodeCalls(calls) {
      return encodeFunctionData({
        abi: agentAccountAbi,
        functionName: "executeAsAgent",
        args: [agentId, calls.map((c) => ({ target: c.to, value: c.value ?? 0n, callData: c.data ?? "0x" }))],
      });
    },

    async getAddress() {
      return address;
    },

    // The account exists: an agent never deploys it.
    async getFactoryArgs() {
      return { factory: undefined, factoryData: undefined };
    },

    async getNonce() {
      return readNonce();
    },

    async getStubSignature() {
      return AGENT_STUB_SIGNATURE;
    },

    async signMessage() {
      throw new AgentKeyCannotSignError({ method: "signMessage", account: address });
    },

    async signTypedData() {
      throw new AgentKeyCannotSignError({ method: "signTypedData", account: address });
    },

    async signUserOperation(op) {
      const { chainId: opChainId, ...userOperation } = op;
      const id = opChainId ?? (await getChain());
      const userOp = { ...userOperation, sender: address };
      // v0.8's userOpHash is an EIP-712 digest: a raw signature of the hash and an EIP-712 signature of the typed
      // data are the same 65 bytes, so keys without a raw `sign` (e.g. remote signers) work too.
      if (key.sign) {
        const hash = getUserOperationHash({
          chainId: id,
          entryPointAddress: entryPoint.address,
          entryPointVersion: "0.8",
          userOperation: userOp,
        });
        return key.sign({ hash });
      }
      return key.signTypedData(
        getUserOperationTypedData({ chainId: id, entryPointAddress: entryPoint.address, userOperation: userOp }),
      );
    },
  });

  // Always the agent's own nonce key: viem's default key is time-based, and the account refuses any other key
  // (WrongNonceKey). An explicit other key is a mistake worth a clear error.
  account.getNonce = async (p) => {
    if (p?.key !== undefined && p.key !== nonceKey) {
      throw new AgentNonceKeyError({ agentId, requested: p.key, expected: nonceKey });
    }
    return readNonce();
  };
  return account;
}
