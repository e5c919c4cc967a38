import { type Address, type Client, type Transport, type Chain, erc20Abi, isAddressEqual } from "viem";
import { readContract } from "viem/actions";
import { getAction } from "viem/utils";

import { ETH_METADATA, NATIVE_TOKEN } from "../constants.js";
import type { TokenMetadata } from "../types.js";

/**
 * Reads a token's `symbol()` and `decimals()` (ETH, the zero address, is `ETH` with 18 decimals). A token whose symbol
 * cannot be read (or is not a string) is shown by its short address; `decimals()` must answer.
 *
 * @throws the viem error of the `decimals()` read when the token does not answer it.
 */
export async function readTokenMetadata(
  client: Client<Transport, Chain | undefined>,
  token: Address,
): Promise<TokenMetadata> {
  if (isAddressEqual(token, NATIVE_TOKEN)) return { ...ETH_METADATA };
  const read = getAction(client, readContract, "readContract");
  const [decimals, symbol] = await Promise.all([
    read({ address: token, abi: erc20Abi, functionName: "decimals" }),
    read({ address: token, abi: erc20Abi, functionName: "symbol" }).catch(() => undefined),
  ]);
  return { symbol: symbol ?? `${token.slice(0, 6)}…${token.slice(-4)}`, decimals };
}

/** Looks a token up in a `{ address: metadata }` map, case-insensitively; ETH needs no entry. */
export function lookupToken(
  tokens: Readonly<Record<string, TokenMetadata>> | undefined,
  token: Address,
): TokenMetadata | undefined {
  if (isAddressEqual(token, NATIVE_TOKEN)) return tokens?.[NATIVE_TOKEN] ?? { ...ETH_METADATA };
  if (!tokens) return undefined;
  const lower = token.toLowerCase();
  for (const [k, v] of Object.entries(tokens)) if (k.toLowerCase() === lower) return v;
  return undefined;
}
