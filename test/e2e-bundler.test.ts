// End to end with a real bundler: anvil and the Alto bundler run as child processes on free 127.0.0.1 ports; EntryPoint
// v0.8 sits at its canonical address (deterministic deployer); an agent pays with
// createBundlerClient(...).sendUserOperation({ account: await toStoplineAgentAccount(...), calls }).
// Anvil's clock is never moved while Alto runs (Alto checks validity windows against the wall clock).
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { expect } from "chai";
import {
  type Abi,
  type Address,
  type Hex,
  type PublicClient,
  BaseError,
  RpcRequestError,
  createPublicClient,
  createWalletClient,
  decodeErrorResult,
  decodeEventLog,
  encodeErrorResult,
  getAddress,
  http,
  parseEther,
  toHex,
} from "viem";
import { type BundlerClient, createBundlerClient, entryPoint08Abi } from "viem/account-abstraction";
import { foundry } from "viem/chains";

import { erc20Payment, toStoplineAgentAccount } from "../src/agent/index.js";
import {
  type LocalProcess,
  deployCanonicalEntryPoint,
  processGroup,
  startAlto,
  startAnvil,
} from "./helpers/local-chain.js";
import {
  ANY_HOUR,
  ENTRY_POINT_ADDRESS,
  NO_EXPIRY,
  UNLIMITED_CALLS,
  USDC,
  agentIdFor,
  hdKey,
  limit,
} from "./helpers/stopline.js";

type Artifact = { abi: Abi; bytecode: Hex };
const hardhatArtifact = (name: string, file = name): Artifact =>
  JSON.parse(readFileSync(join(import.meta.dirname, `../artifacts/contracts/${file}.sol/${name}.json`), "utf8"));

/** The JSON-RPC error a bundler returned, found in viem's cause chain. */
function rpcErrorOf(error: unknown): RpcRequestError {
  expect(error, "expected a viem error").to.be.instanceOf(BaseError);
  const rpc = (error as BaseError).walk((e) => e instanceof RpcRequestError);
  expect(rpc, `no RpcRequestError in:\n${String(error)}`).to.be.instanceOf(RpcRequestError);
  return rpc as RpcRequestError;
}

describe("End to end with anvil and the Alto bundler", function () {
  this.timeout(60_000);

  const keys = {
    deployer: hdKey(0),
    owner: hdKey(1),
    agent: hdKey(3),
    merchantA: hdKey(5),
    stranger: hdKey(7),
    executor: hdKey(8),
    utility: hdKey(9),
  };
  const agentId = agentIdFor(1);
  let anvilUrl: string;
  let altoUrl: string;
  let publicClient: PublicClient;
  let bundler: BundlerClient;
  let alto: LocalProcess;
  const processes = processGroup();
  let account: Address;
  let usdc: Address;
  const accountAbi = hardhatArtifact("AgentAccount").abi;
  const usdcAbi = hardhatArtifact("TestUSDC", "tokens/TestUSDC").abi;

  const balanceOf = (who: Address) =>
    publicClient.readContract({
      address: usdc,
      abi: usdcAbi,
      functionName: "balanceOf",
      args: [who],
    }) as Promise<bigint>;
  const read = <T>(functionName: string, args: unknown[]) =>
    publicClient.readContract({ address: account, abi: accountAbi, functionName, args }) as Promise<T>;
  const agentAccount = () =>
    toStoplineAgentAccount({ client: publicClient, address: account, agentId, key: keys.agent });
  const maxCost = (op: {
    verificationGasLimit: bigint;
    callGasLimit: bigint;
    preVerificationGas: bigint;
    maxFeePerGas: bigint;
  }) => (op.verificationGasLimit + op.callGasLimit + op.preVerificationGas) * op.maxFeePerGas;

  before(async function () {
    processes.open();
    ({ url: anvilUrl } = await startAnvil(processes));

    publicClient = createPublicClient({ chain: foundry, transport: http(anvilUrl), pollingInterval: 100 });
    const wallet = (k: (typeof keys)[keyof typeof keys]) =>
      createWalletClient({ account: k, chain: foundry, transport: http(anvilUrl), pollingInterval: 100 });
    const deployer = wallet(keys.deployer);
    const mined = async (hash: Hex) => {
      const r = await publicClient.waitForTransactionReceipt({ hash });
      expect(r.status).to.equal("success");
      return r;
    };

    // EntryPoint v0.8 at its canonical address through anvil's deterministic deployer
    await deployCanonicalEntryPoint(deployer, publicClient);
    expect(await publicClient.getCode({ address: ENTRY_POINT_ADDRESS })).to.not.equal(undefined);

    const deploy = async (a: Artifact, args: unknown[]) =>
      (await mined(await deployer.deployContract({ abi: a.abi, bytecode: a.bytecode, args }))).contractAddress!;
    const implementation = await deploy(hardhatArtifact("AgentAccount"), [ENTRY_POINT_ADDRESS]);
    const factoryArtifact = hardhatArtifact("AgentAccountFactory");
    const factory = await deploy(factoryArtifact, [implementation]);
    usdc = await deploy(hardhatArtifact("TestUSDC", "tokens/TestUSDC"), [keys.deployer.address]);

    await mined(
      await deployer.writeContract({
        address: factory,
        abi: factoryArtifact.abi,
        functionName: "createAccount",
        args: [keys.owner.address, 0n],
      }),
    );
    account = (await publicClient.readContract({
      address: factory,
      abi: factoryArtifact.abi,
      functionName: "getAddress",
      args: [keys.owner.address, 0n],
    })) as Address;
    await mined(
      await deployer.writeContract({ address: usdc, abi: usdcAbi, functionName: "mint", args: [account, USDC(1_000)] }),
    );
    await mined(
      await deployer.writeContract({
        address: ENTRY_POINT_ADDRESS,
        abi: entryPoint08Abi,
        functionName: "depositTo",
        args: [account],
        value: parseEther("1"),
      }),
    );
    // the owner grants the agent: 25 USDC per payment, 40 per period, merchant A only, 1 ETH of gas
    await mined(
      await wallet(keys.owner).writeContract({
        address: account,
        abi: accountAbi,
        functionName: "grantAgent",
        args: [
          agentId,
          keys.agent.address,
          {
            validAfter: 0,
            validUntil: NO_EXPIRY,
            period: 86_400,
            activeHours: ANY_HOUR,
            maxCallsPerPeriod: UNLIMITED_CALLS,
            gasBudget: parseEther("1"),
            mandate: toHex("e2e", { size: 32 }),
            limits: [limit({ token: usdc, perPayment: USDC(25), perPeriod: USDC(40), lifetime: USDC(1_000) })],
            merchants: [keys.merchantA.address],
          },
        ],
      }),
    );

    ({ url: altoUrl, proc: alto } = await startAlto(processes, {
      rpcUrl: anvilUrl,
      executorPrivateKey: toHex(keys.executor.getHdKey().privateKey!),
      utilityPrivateKey: toHex(keys.utility.getHdKey().privateKey!),
    }));

    bundler = createBundlerClient({
      client: publicClient,
      transport: http(altoUrl),
      pollingInterval: 100,
      userOperation: {
        // Alto's own price, as its fee precheck wants
        async estimateFeesPerGas({ bundlerClient }) {
          const prices = (await bundlerClient.request({
            method: "pimlico_getUserOperationGasPrice" as never,
            params: [] as never,
          })) as { fast: { maxFeePerGas: Hex; maxPriorityFeePerGas: Hex } };
          return {
            maxFeePerGas: BigInt(prices.fast.maxFeePerGas),
            maxPriorityFeePerGas: BigInt(prices.fast.maxPriorityFeePerGas),
          };
        },
      },
    });
  });

  after(function () {
    processes.close();
  });

  afterEach(function () {
    if (this.currentTest?.state === "failed" && alto) console.log(alto.output());
  });

  it("(a) lets the agent pay a merchant through the bundler, with exact balances and counters", async function () {
    const agent = await agentAccount();
    expect(await agent.getNonce()).to.equal(1n << 64n);
    const depositBefore = (await publicClient.readContract({
      address: ENTRY_POINT_ADDRESS,
      abi: entryPoint08Abi,
      functionName: "balanceOf",
      args: [account],
    })) as bigint;

    const hash = await bundler.sendUserOperation({
      account: agent,
      calls: [erc20Payment({ token: usdc, to: keys.merchantA.address, amount: USDC(25) })],
    });
    const receipt = await bundler.waitForUserOperationReceipt({ hash, timeout: 20_000 });
    const { userOperation: op } = await bundler.getUserOperation({ hash });
    expect(receipt.success).to.equal(true);
    expect(receipt.sender).to.equal(getAddress(account));
    expect(receipt.nonce).to.equal(1n << 64n);

    expect(await balanceOf(keys.merchantA.address)).to.equal(USDC(25));
    expect(await balanceOf(account)).to.equal(USDC(975));
    const [perPayment, inPeriod, inLifetime] = await read<bigint[]>("remaining", [agentId, usdc]);
    expect([perPayment, inPeriod, inLifetime]).to.deep.equal([USDC(25), USDC(15), USDC(975)]);
    const [gasCharged] = await read<bigint[]>("agentUsage", [agentId]);
    expect(gasCharged).to.equal(maxCost(op));
    const depositAfter = (await publicClient.readContract({
      address: ENTRY_POINT_ADDRESS,
      abi: entryPoint08Abi,
      functionName: "balanceOf",
      args: [account],
    })) as bigint;
    expect(depositBefore - depositAfter).to.equal(receipt.actualGasCost);
    expect(await agent.getNonce()).to.equal((1n << 64n) | 1n);
  });

  it("(b) is refused by the bundler, before any gas is charged, for a merchant not allowed or a payment over the cap", async function () {
    const agent = await agentAccount();
    const [chargedBefore] = await read<bigint[]>("agentUsage", [agentId]);
    const cases = [
      {
        call: erc20Payment({ token: usdc, to: keys.stranger.address, amount: USDC(1) }),
        error: { errorName: "MerchantNotAllowed", args: [agentId, keys.stranger.address] },
      },
      {
        call: erc20Payment({ token: usdc, to: keys.merchantA.address, amount: USDC(26) }),
        error: { errorName: "PerPaymentCapExceeded", args: [agentId, getAddress(usdc), USDC(26), USDC(25)] },
      },
    ] as const;

    for (const { call, error } of cases) {
      const expected = encodeErrorResult({ abi: accountAbi, errorName: error.errorName, args: error.args });

      // eth_estimateUserOperationGas refuses it ...
      const estimated = await bundler.sendUserOperation({ account: agent, calls: [call] }).catch((e: unknown) => e);
      const e1 = rpcErrorOf(estimated);
      expect(e1.code).to.equal(-32500);

      // ... and so does eth_sendUserOperation when the gas values are given (no estimation)
      const sent = await bundler
        .sendUserOperation({
          account: agent,
          calls: [call],
          callGasLimit: 200_000n,
          verificationGasLimit: 300_000n,
          preVerificationGas: 100_000n,
        })
        .catch((e: unknown) => e);
      const e2 = rpcErrorOf(sent);
      expect(e2.code).to.equal(-32500);
      // Alto puts the account's custom error in the message (no `data` field)
      expect(e1.details).to.equal(`UserOperation reverted during simulation with reason: AA23 reverted ${expected}`);
      expect(e2.details).to.equal(`UserOperation reverted with reason: AA23 reverted ${expected}`);
      for (const rpc of [e1, e2]) {
        expect(rpc.data).to.equal(undefined);
        const hex = /AA23 reverted (0x[0-9a-fA-F]+)$/.exec(rpc.details)![1] as Hex;
        expect(decodeErrorResult({ abi: accountAbi, data: hex })).to.deep.include(error);
      }
    }
    const [chargedAfter] = await read<bigint[]>("agentUsage", [agentId]);
    expect(chargedAfter).to.equal(chargedBefore);
    expect(await balanceOf(keys.stranger.address)).to.equal(0n);
  });

  it("(c) mines an op refused at execution with success=false and the exact error in UserOperationRevertReason", async function () {
    const agent = await agentAccount();
    // 25 of the 40 USDC period cap went in (a); another 25 passes validation (under the per-payment cap) and fails
    // at execution. The bundler's estimation would simulate that failure, so the gas values are given.
    const [, inPeriodBefore, , resetsAt] = await read<bigint[]>("remaining", [agentId, usdc]);
    expect(inPeriodBefore).to.equal(USDC(15));
    const [chargedBefore] = await read<bigint[]>("agentUsage", [agentId]);
    const op = await bundler.prepareUserOperation({
      account: agent,
      calls: [erc20Payment({ token: usdc, to: keys.merchantA.address, amount: USDC(25) })],
      callGasLimit: 200_000n,
      verificationGasLimit: 300_000n,
      preVerificationGas: 100_000n,
    });
    const hash = await bundler.sendUserOperation({
      ...op,
      account: agent,
      signature: await agent.signUserOperation(op),
    });
    const receipt = await bundler.waitForUserOperationReceipt({ hash, timeout: 20_000 });
    expect(receipt.success).to.equal(false);

    const reasons = receipt.logs
      .filter((l) => getAddress(l.address) === ENTRY_POINT_ADDRESS)
      .map((l) => {
        try {
          return decodeEventLog({ abi: entryPoint08Abi, data: l.data, topics: l.topics });
        } catch {
          return undefined;
        }
      })
      .filter((e) => e?.eventName === "UserOperationRevertReason");
    expect(reasons).to.have.length(1);
    const args = reasons[0]!.args as { userOpHash: Hex; sender: Address; nonce: bigint; revertReason: Hex };
    expect(args.userOpHash).to.equal(hash);
    expect(args.sender).to.equal(getAddress(account));
    expect(args.nonce).to.equal(op.nonce);
    expect(args.revertReason).to.equal(
      encodeErrorResult({
        abi: accountAbi,
        errorName: "PeriodCapExceeded",
        args: [agentId, usdc, USDC(25), USDC(15), resetsAt],
      }),
    );

    // nothing moved but the gas budget, which keeps the op's maximum cost (SPEC: gas is spending)
    expect(await balanceOf(keys.merchantA.address)).to.equal(USDC(25));
    const [, inPeriodAfter] = await read<bigint[]>("remaining", [agentId, usdc]);
    expect(inPeriodAfter).to.equal(USDC(15));
    const [chargedAfter] = await read<bigint[]>("agentUsage", [agentId]);
    expect(chargedAfter - chargedBefore).to.equal(maxCost(op));
  });
});
