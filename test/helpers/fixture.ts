// Deploys a full Stopline world on a Hardhat network connection: canonical EntryPoint v0.8, implementation, factory,
// test USDC, one account owned by ROLES.owner with USDC, ETH and an EntryPoint deposit, and one agent granted.
import type { NetworkConnection } from "hardhat/types/network";
import { type Address, type Hex, concat, encodeFunctionData, getContract, keccak256, toHex } from "viem";

import {
  DETERMINISTIC_DEPLOYER,
  ENTRY_POINT_ABI,
  ENTRY_POINT_ADDRESS,
  type AgentPolicy,
  type Execution,
  type PackedUserOperation,
  ROLES,
  USDC,
  agentIdFor,
  hdKey,
  nonceFor,
  nonceKeyOf,
  policy,
  userOp,
} from "./stopline.js";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const entryPointArtifact = require("@account-abstraction/contracts/artifacts/EntryPoint.json") as { bytecode: Hex };
const DEPLOYER_CODE: Hex =
  "0x7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe03601600081602082378035828234f58015156039578182fd5b8082525050506014600cf3";
const ENTRY_POINT_SALT: Hex = "0x0a59dbff790c23c976a548690c27297883cc66b4c67024f9117b0238995e35e9";

type Conn = NetworkConnection;

/** Puts EntryPoint v0.8 at its canonical address through the deterministic deployer (as on anvil and public chains). */
export async function deployEntryPoint(conn: Conn) {
  const { viem, networkHelpers } = conn;
  const publicClient = await viem.getPublicClient();
  if ((await publicClient.getCode({ address: ENTRY_POINT_ADDRESS })) === undefined) {
    if ((await publicClient.getCode({ address: DETERMINISTIC_DEPLOYER })) === undefined) {
      await networkHelpers.setCode(DETERMINISTIC_DEPLOYER, DEPLOYER_CODE);
    }
    const [deployer] = await viem.getWalletClients();
    const hash = await deployer.sendTransaction({
      to: DETERMINISTIC_DEPLOYER,
      data: concat([ENTRY_POINT_SALT, entryPointArtifact.bytecode]),
      gas: 8_000_000n,
    });
    await publicClient.waitForTransactionReceipt({ hash });
    if ((await publicClient.getCode({ address: ENTRY_POINT_ADDRESS })) === undefined) {
      throw new Error("EntryPoint v0.8 did not land at its canonical address");
    }
  }
  const [, , , , , , , , bundler] = await viem.getWalletClients();
  return getContract({
    address: ENTRY_POINT_ADDRESS,
    abi: ENTRY_POINT_ABI,
    client: { public: publicClient, wallet: bundler },
  });
}

export async function deployStopline(conn: Conn, opts: { agentPolicy?: Partial<AgentPolicy> } = {}) {
  const { viem } = conn;
  const publicClient = await viem.getPublicClient();
  const wallets = await viem.getWalletClients();
  const w = Object.fromEntries(Object.entries(ROLES).map(([k, i]) => [k, wallets[i]])) as {
    [K in keyof typeof ROLES]: (typeof wallets)[number];
  };
  const addr = Object.fromEntries(Object.entries(w).map(([k, c]) => [k, c.account.address])) as {
    [K in keyof typeof ROLES]: Address;
  };

  const entryPoint = await deployEntryPoint(conn);
  const implementation = await viem.deployContract("AgentAccount", [ENTRY_POINT_ADDRESS]);
  const factory = await viem.deployContract("AgentAccountFactory", [implementation.address]);
  const usdc = await viem.deployContract("TestUSDC", [addr.deployer]);

  await factory.write.createAccount([addr.owner, 0n]);
  const accountAddress = await factory.read.getAddress([addr.owner, 0n]);
  const account = await viem.getContractAt("AgentAccount", accountAddress, { client: { wallet: w.owner } });
  const asAgent = await viem.getContractAt("AgentAccount", accountAddress, { client: { wallet: w.agent } });

  await usdc.write.mint([accountAddress, USDC(10_000)]);
  await w.deployer.sendTransaction({ to: accountAddress, value: 10n ** 18n });
  await entryPoint.write.depositTo([accountAddress], { value: 10n ** 18n, account: w.deployer.account });

  const agentId = agentIdFor(1);
  const agentPolicy = policy({
    limits: [{ token: usdc.address, perPayment: USDC(25), perPeriod: USDC(100), lifetime: USDC(1_000) }],
    merchants: [addr.merchantA, addr.merchantB],
    ...opts.agentPolicy,
  });
  await account.write.grantAgent([agentId, addr.agent, agentPolicy]);

  const transfer = (to: Address, amount: bigint): Execution => ({
    target: usdc.address,
    value: 0n,
    callData: encodeFunctionData({ abi: usdc.abi, functionName: "transfer", args: [to, amount] }),
  });
  const approve = (spender: Address, amount: bigint): Execution => ({
    target: usdc.address,
    value: 0n,
    callData: encodeFunctionData({ abi: usdc.abi, functionName: "approve", args: [spender, amount] }),
  });
  const agentCallData = (id: Hex, calls: Execution[]) =>
    encodeFunctionData({ abi: account.abi, functionName: "executeAsAgent", args: [id, calls] });

  /** An agent UserOperation for `calls`, signed by `signer` (default: the agent's key), on the agent's own nonce key. */
  async function agentOp(
    calls: Execution[],
    o: { agentId?: Hex; signer?: number; nonce?: bigint; fields?: Partial<Parameters<typeof userOp>[0]> } = {},
  ): Promise<PackedUserOperation> {
    const id = o.agentId ?? agentId;
    const key = nonceKeyOf(id);
    const nonce = o.nonce ?? ((await entryPoint.read.getNonce([accountAddress, key])) as bigint);
    const op = userOp({ sender: accountAddress, nonce, callData: agentCallData(id, calls), ...o.fields });
    return sign(op, o.signer ?? ROLES.agent);
  }

  /** An owner UserOperation with arbitrary callData (nonce key 0 unless given). */
  async function ownerOp(
    callData: Hex,
    o: { nonce?: bigint; signer?: number; fields?: Partial<Parameters<typeof userOp>[0]> } = {},
  ): Promise<PackedUserOperation> {
    const nonce = o.nonce ?? ((await entryPoint.read.getNonce([accountAddress, 0n])) as bigint);
    // owner ops may grant or update policies (about 0.5M gas each): give them room unless told otherwise
    const op = userOp({ sender: accountAddress, nonce, callData, callGasLimit: 2_000_000n, ...o.fields });
    return sign(op, o.signer ?? ROLES.owner);
  }

  async function sign(op: PackedUserOperation, signer: number): Promise<PackedUserOperation> {
    const hash = (await entryPoint.read.getUserOpHash([op])) as Hex;
    return { ...op, signature: await hdKey(signer).sign({ hash }) };
  }

  /** Sends a bundle through the real EntryPoint from the bundler account; returns the receipt. */
  async function handleOps(ops: PackedUserOperation[]) {
    const hash = await entryPoint.write.handleOps([ops, addr.bundler], {
      account: w.bundler.account,
      gas: 10_000_000n,
    });
    return publicClient.waitForTransactionReceipt({ hash });
  }

  const deposit = async () => (await entryPoint.read.balanceOf([accountAddress])) as bigint;

  return {
    conn,
    viem,
    publicClient,
    wallets: w,
    addr,
    entryPoint,
    implementation,
    factory,
    usdc,
    account,
    asAgent,
    accountAddress,
    agentId,
    agentPolicy,
    transfer,
    approve,
    agentCallData,
    agentOp,
    ownerOp,
    sign,
    handleOps,
    deposit,
    nonceFor,
    mandateOf: (text: string) => keccak256(toHex(text)),
  };
}

export type Stopline = Awaited<ReturnType<typeof deployStopline>>;
