// End to end with a real bundler: anvil and the Alto bundler run as child processes on free 127.0.0.1 ports, Alto in
// safe mode (its ERC-7562 checks, through anvil's JavaScript tracer; patches/@pimlico+alto+0.0.20.patch lets it read
// EntryPoint v0.8's DelegateAndRevert), and EntryPoint v0.8 sits at its canonical address (deterministic deployer).
// The owner's first UserOperation deploys the account through the factory (initCode) and grants the agents; agents pay
// with createBundlerClient(...).sendUserOperation({ account: await toStoplineAgentAccount(...), calls }); refusals are
// decoded with the toolkit's decodeGuardrailViolation. The tests run in order: each starts from the state the previous
// ones left. Anvil's clock is never moved while Alto runs (Alto checks validity windows against the wall clock).

import { expect } from "chai";
import {
  type Address,
  type Hex,
  type LocalAccount,
  type PublicClient,
  BaseError,
  RpcRequestError,
  createPublicClient,
  createWalletClient,
  decodeEventLog,
  encodeErrorResult,
  encodeFunctionData,
  getAddress,
  http,
  parseEther,
  toFunctionSelector,
  toHex,
} from "viem";
import {
  type BundlerClient,
  type SmartAccount,
  type UserOperation,
  createBundlerClient,
  entryPoint08Abi,
  formatUserOperationRequest,
  getUserOperationHash,
  toPackedUserOperation,
  toSmartAccount,
} from "viem/account-abstraction";
import { foundry } from "viem/chains";

import { AGENT_STUB_SIGNATURE, erc20Payment, payAsAgent, toStoplineAgentAccount } from "../src/agent/index.js";
import { decodeGuardrailViolation } from "../src/errors/index.js";
import { hourOfWeek } from "../src/utils/hours.js";
import {
  type LocalProcess,
  deployCanonicalEntryPoint,
  processGroup,
  startAlto,
  startAnvil,
  altoGasPrice,
  type Artifact,
  artifact,
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
  BATCH_MODE,
  encodeBatch,
} from "./helpers/stopline.js";

/** The JSON-RPC error a bundler returned, found in viem's cause chain. */
function rpcErrorOf(error: unknown): RpcRequestError {
  expect(error, "expected a viem error").to.be.instanceOf(BaseError);
  const rpc = (error as BaseError).walk((e) => e instanceof RpcRequestError);
  expect(rpc, `no RpcRequestError in:\n${String(error)}`).to.be.instanceOf(RpcRequestError);
  return rpc as RpcRequestError;
}

const VALIDATE_USER_OP = toFunctionSelector(
  "validateUserOp((address,uint256,bytes,bytes,bytes32,uint256,bytes32,bytes,bytes),bytes32,uint256)",
);

/** A call frame of anvil's callTracer. */
type CallFrame = {
  type: string;
  from: Address;
  to?: Address;
  input: Hex;
  gasUsed: Hex;
  error?: string;
  output?: Hex;
  calls?: CallFrame[];
};
const framesOf = (f: CallFrame): CallFrame[] => [f, ...(f.calls ?? []).flatMap(framesOf)];

describe("End to end with anvil and the Alto bundler (safe mode)", function () {
  this.timeout(60_000);

  const keys = {
    deployer: hdKey(0),
    owner: hdKey(1),
    agent: hdKey(3),
    nightAgent: hdKey(4),
    merchantA: hdKey(5),
    stranger: hdKey(7),
    executor: hdKey(8),
    utility: hdKey(9),
  };
  const agentId = agentIdFor(1);
  /** A second agent whose active hours leave out the hours around now: its payments are refused at execution. */
  const nightAgentId = agentIdFor(2);
  let anvilUrl: string;
  let altoUrl: string;
  let publicClient: PublicClient;
  let bundler: BundlerClient;
  let anvil: LocalProcess;
  const processes = processGroup();
  let factory: Address;
  let account: Address;
  let usdc: Address;
  /** A paymaster the owner allows for agents, one it does not, and an account that breaks ERC-7562 (all funded). */
  let allowedPaymaster: Address;
  let otherPaymaster: Address;
  let nonCompliant: Address;
  let nightHours: bigint;
  const accountAbi = artifact("AgentAccount").abi;
  const factoryAbi = artifact("AgentAccountFactory").abi;
  const usdcAbi = artifact("TestUSDC", "tokens/TestUSDC").abi;

  const balanceOf = (who: Address) =>
    publicClient.readContract({
      address: usdc,
      abi: usdcAbi,
      functionName: "balanceOf",
      args: [who],
    }) as Promise<bigint>;
  const depositOf = (who: Address) =>
    publicClient.readContract({
      address: ENTRY_POINT_ADDRESS,
      abi: entryPoint08Abi,
      functionName: "balanceOf",
      args: [who],
    });
  const read = <T>(functionName: string, args: unknown[]) =>
    publicClient.readContract({ address: account, abi: accountAbi, functionName, args }) as Promise<T>;
  const agentAccount = (id = agentId, key: LocalAccount = keys.agent) =>
    toStoplineAgentAccount({ client: publicClient, address: account, agentId: id, key });
  const maxCost = (op: {
    verificationGasLimit: bigint;
    callGasLimit: bigint;
    preVerificationGas: bigint;
    maxFeePerGas: bigint;
  }) => (op.verificationGasLimit + op.callGasLimit + op.preVerificationGas) * op.maxFeePerGas;
  /** Alto's own gas price, as its fee precheck wants. */
  const altoFees = () => altoGasPrice(bundler);
  /** The violation the direct path gives: the agent key sends executeAsAgent itself (no preflight), estimation fails. */
  const directViolation = async (id: Hex, key: LocalAccount, calls: ReturnType<typeof erc20Payment>[]) => {
    const wallet = createWalletClient({ account: key, chain: foundry, transport: http(anvilUrl) });
    const error = await payAsAgent(wallet, { address: account, agentId: id, calls, preflight: false }).then(
      () => expect.fail("the direct payment was not refused"),
      (e: unknown) => e,
    );
    return decodeGuardrailViolation(error);
  };
  /** A violation's name and arguments (what both paths must agree on): no sentence, raw data or bundler codes. */
  const factsOf = (v: ReturnType<typeof decodeGuardrailViolation>) => {
    expect(v, "no violation decoded").to.not.equal(undefined);
    const { message, data, aaCode, rpcCode, opIndex, ...facts } = v!;
    void [message, data, aaCode, rpcCode, opIndex];
    return facts;
  };
  /** The call frames of a mined transaction (anvil's callTracer). */
  const traceOf = async (hash: Hex) =>
    framesOf(
      (await publicClient.request({
        method: "debug_traceTransaction" as never,
        params: [hash, { tracer: "callTracer" }] as never,
      })) as CallFrame,
    );

  /**
   * The owner's SmartAccount: owner-signed UserOperations whose callData is an ERC-7821 batch, deploying the account
   * through the factory while it has no code (the toolkit's own SmartAccount is for agents only).
   */
  async function ownerAccount(owner: LocalAccount, salt: bigint): Promise<SmartAccount> {
    const address = (await publicClient.readContract({
      address: factory,
      abi: factoryAbi,
      functionName: "getAddress",
      args: [owner.address, salt],
    })) as Address;
    return toSmartAccount({
      client: publicClient,
      entryPoint: { abi: entryPoint08Abi, address: ENTRY_POINT_ADDRESS, version: "0.8" },
      async decodeCalls() {
        throw new Error("not needed here");
      },
      async encodeCalls(calls) {
        const batch = calls.map((c) => ({ target: c.to, value: c.value ?? 0n, callData: c.data ?? "0x" }));
        return encodeFunctionData({
          abi: accountAbi,
          functionName: "execute",
          args: [BATCH_MODE, encodeBatch(batch)],
        });
      },
      async getAddress() {
        return address;
      },
      async getFactoryArgs() {
        return {
          factory,
          factoryData: encodeFunctionData({
            abi: factoryAbi,
            functionName: "createAccount",
            args: [owner.address, salt],
          }),
        };
      },
      async getNonce() {
        return publicClient.readContract({
          address: ENTRY_POINT_ADDRESS,
          abi: entryPoint08Abi,
          functionName: "getNonce",
          args: [address, 0n],
        });
      },
      async getStubSignature() {
        return AGENT_STUB_SIGNATURE;
      },
      async signMessage() {
        throw new Error("not needed here");
      },
      async signTypedData() {
        throw new Error("not needed here");
      },
      async signUserOperation(op) {
        const { chainId, ...userOperation } = op;
        const hash = getUserOperationHash({
          chainId: chainId ?? foundry.id,
          entryPointAddress: ENTRY_POINT_ADDRESS,
          entryPointVersion: "0.8",
          userOperation: { ...userOperation, sender: address },
        });
        return owner.sign!({ hash });
      },
    });
  }

  before(async function () {
    processes.open();
    try {
      ({ url: anvilUrl, proc: anvil } = await startAnvil(processes));
      // its log, printed when a test fails, lists its accounts without their private keys
      expect(anvil.output()).to.include("(0) [redacted private key]");
      expect(anvil.output()).to.not.include(toHex(keys.deployer.getHdKey().privateKey!).slice(2));

      publicClient = createPublicClient({ chain: foundry, transport: http(anvilUrl), pollingInterval: 100 });
      const deployer = createWalletClient({
        account: keys.deployer,
        chain: foundry,
        transport: http(anvilUrl),
        pollingInterval: 100,
      });
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
      const depositFor = async (who: Address, value: bigint) =>
        mined(
          await deployer.writeContract({
            address: ENTRY_POINT_ADDRESS,
            abi: entryPoint08Abi,
            functionName: "depositTo",
            args: [who],
            value,
          }),
        );
      const implementation = await deploy(artifact("AgentAccount"), [ENTRY_POINT_ADDRESS]);
      factory = await deploy(artifact("AgentAccountFactory"), [implementation]);
      usdc = await deploy(artifact("TestUSDC", "tokens/TestUSDC"), [keys.deployer.address]);
      const paymaster = artifact("AgentPathMockPaymaster", "test/AgentPathMocks");
      allowedPaymaster = await deploy(paymaster, [ENTRY_POINT_ADDRESS]);
      otherPaymaster = await deploy(paymaster, [ENTRY_POINT_ADDRESS]);
      nonCompliant = await deploy(artifact("E2ENonCompliantAccount", "test/E2ENonCompliantAccount"), [
        ENTRY_POINT_ADDRESS,
      ]);
      for (const who of [allowedPaymaster, otherPaymaster, nonCompliant]) await depositFor(who, parseEther("1"));

      // the owner's account does not exist yet; its counterfactual address receives 1,000 USDC and 2 ETH
      account = (await publicClient.readContract({
        address: factory,
        abi: factoryAbi,
        functionName: "getAddress",
        args: [keys.owner.address, 0n],
      })) as Address;
      await mined(
        await deployer.writeContract({
          address: usdc,
          abi: usdcAbi,
          functionName: "mint",
          args: [account, USDC(1_000)],
        }),
      );
      await mined(await deployer.sendTransaction({ to: account, value: parseEther("2") }));

      // the night agent may act in no hour from one before now to two after (the clock is not moved while Alto runs)
      const now = (await publicClient.getBlock()).timestamp;
      nightHours = ANY_HOUR;
      for (const k of [-1, 0, 1, 2]) nightHours &= ~(1n << BigInt((hourOfWeek(now) + 168 + k) % 168));

      ({ url: altoUrl } = await startAlto(processes, {
        rpcUrl: anvilUrl,
        executorPrivateKey: toHex(keys.executor.getHdKey().privateKey!),
        utilityPrivateKey: toHex(keys.utility.getHdKey().privateKey!),
        safeMode: true,
      }));

      bundler = createBundlerClient({
        client: publicClient,
        transport: http(altoUrl),
        pollingInterval: 100,
        userOperation: { estimateFeesPerGas: altoFees },
      });
    } catch (error) {
      console.log(processes.output());
      throw error;
    }
  });

  after(async function () {
    await processes.close();
    // nothing left running: both children exited, and no process answers to their ids
    expect(processes.started().map((p) => p.name)).to.deep.equal(["anvil", "alto"]);
    for (const { name, child } of processes.started()) {
      expect(child.exitCode !== null || child.signalCode !== null, `${name} still running`).to.equal(true);
      expect(() => process.kill(child.pid!, 0), `${name} (pid ${child.pid}) still running`).to.throw(/ESRCH/);
    }
  });

  afterEach(function () {
    if (this.currentTest?.state === "failed") console.log(processes.output());
  });

  const policyOf = (hours: bigint, merchants: Address[]) => ({
    validAfter: 0,
    validUntil: NO_EXPIRY,
    period: 86_400,
    activeHours: hours,
    maxCallsPerPeriod: UNLIMITED_CALLS,
    gasBudget: parseEther("1"),
    mandate: toHex("e2e", { size: 32 }),
    limits: [limit({ token: usdc, perPayment: USDC(25), perPeriod: USDC(40), lifetime: USDC(1_000) })],
    merchants,
  });

  it("(0) deploys the account with the owner's first UserOperation (initCode), which grants the agents and funds the deposit", async function () {
    expect(await publicClient.getCode({ address: account })).to.equal(undefined);
    const owner = await ownerAccount(keys.owner, 0n);
    expect(await owner.getAddress()).to.equal(account);
    const self = (functionName: string, args: unknown[]) => ({
      to: account,
      data: encodeFunctionData({ abi: accountAbi, functionName, args }),
    });
    const ethBefore = await publicClient.getBalance({ address: account });

    // the owner grants the agent 25 USDC per payment, 40 per period, merchant A only, 1 ETH of gas, and the night
    // agent the same outside the hours around now; allows one paymaster for agents; moves 1 ETH into the deposit
    const hash = await bundler.sendUserOperation({
      account: owner,
      calls: [
        self("grantAgent", [agentId, keys.agent.address, policyOf(ANY_HOUR, [keys.merchantA.address])]),
        self("grantAgent", [nightAgentId, keys.nightAgent.address, policyOf(nightHours, [keys.merchantA.address])]),
        self("setAgentPaymaster", [allowedPaymaster, true]),
        {
          to: ENTRY_POINT_ADDRESS,
          value: parseEther("1"),
          data: encodeFunctionData({ abi: entryPoint08Abi, functionName: "depositTo", args: [account] }),
        },
      ],
    });
    const receipt = await bundler.waitForUserOperationReceipt({ hash, timeout: 20_000 });
    const { userOperation: op } = await bundler.getUserOperation({ hash });
    expect(receipt.success).to.equal(true);
    expect(receipt.sender).to.equal(getAddress(account));
    expect(receipt.nonce).to.equal(0n);
    expect(op.factory).to.equal(getAddress(factory));

    expect(await publicClient.getCode({ address: account })).to.not.equal(undefined);
    expect(await read<Address>("owner", [])).to.equal(keys.owner.address);
    expect(await read<Hex>("agentOf", [keys.agent.address])).to.equal(agentId);
    expect(await read<Hex>("agentOf", [keys.nightAgent.address])).to.equal(nightAgentId);
    expect(await read<boolean>("isAgentPaymaster", [allowedPaymaster])).to.equal(true);
    expect(await read<boolean>("isAgentPaymaster", [otherPaymaster])).to.equal(false);
    expect(await balanceOf(account)).to.equal(USDC(1_000));
    // the account paid the prefund (the op's maximum cost) from its ETH, got the unused part back in its deposit,
    // and moved 1 ETH in
    expect(await publicClient.getBalance({ address: account })).to.equal(ethBefore - maxCost(op) - parseEther("1"));
    expect(await depositOf(account)).to.equal(maxCost(op) - receipt.actualGasCost + parseEther("1"));
  });

  it("(a) lets the agent pay a merchant through the bundler, with exact balances and counters", async function () {
    const agent = await agentAccount();
    expect(await agent.getNonce()).to.equal(1n << 64n);
    const depositBefore = await depositOf(account);

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
    expect(depositBefore - (await depositOf(account))).to.equal(receipt.actualGasCost);
    expect(await agent.getNonce()).to.equal((1n << 64n) | 1n);
  });

  it("(b) is refused by the bundler, before any gas is charged, with the same decoded violation as the direct path", async function () {
    const agent = await agentAccount();
    const [chargedBefore] = await read<bigint[]>("agentUsage", [agentId]);
    const cases = [
      {
        call: erc20Payment({ token: usdc, to: keys.stranger.address, amount: USDC(1) }),
        error: { errorName: "MerchantNotAllowed", args: [agentId, keys.stranger.address] },
        facts: { name: "MerchantNotAllowed", agentId, merchant: keys.stranger.address },
      },
      {
        call: erc20Payment({ token: usdc, to: keys.merchantA.address, amount: USDC(26) }),
        error: { errorName: "PerPaymentCapExceeded", args: [agentId, getAddress(usdc), USDC(26), USDC(25)] },
        facts: {
          name: "PerPaymentCapExceeded",
          agentId,
          token: getAddress(usdc),
          amount: USDC(26),
          limit: USDC(25),
          merchant: keys.merchantA.address,
        },
      },
    ] as const;

    for (const { call, error, facts } of cases) {
      const expected = encodeErrorResult({ abi: accountAbi, errorName: error.errorName, args: error.args });

      // eth_estimateUserOperationGas refuses it ...
      const estimated = await bundler.sendUserOperation({ account: agent, calls: [call] }).catch((e: unknown) => e);
      const e1 = rpcErrorOf(estimated);
      expect(e1.code).to.equal(-32500);

      // ... and so does eth_sendUserOperation when the gas values are given (no estimation: safe mode's validation)
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
      expect(e1.data).to.equal(undefined);
      expect(e2.data).to.equal(undefined);

      // the toolkit reads both into the violation the direct path gives (same name and arguments)
      const direct = await directViolation(agentId, keys.agent, [call]);
      expect(factsOf(direct)).to.deep.equal(facts);
      for (const refused of [estimated, sent]) {
        const violation = decodeGuardrailViolation(refused);
        expect(factsOf(violation)).to.deep.equal(facts);
        expect(violation!.aaCode).to.equal("AA23");
        expect(violation!.message).to.equal(direct!.message);
      }
    }
    const [chargedAfter] = await read<bigint[]>("agentUsage", [agentId]);
    expect(chargedAfter).to.equal(chargedBefore);
    expect(await balanceOf(keys.stranger.address)).to.equal(0n);
  });

  /** Sends an agent op with the gas values given (no estimation, which would simulate the refusal) and mines it. */
  async function sendUnestimated(id: Hex, key: LocalAccount, amount: bigint) {
    const agent = await agentAccount(id, key);
    const op = await bundler.prepareUserOperation({
      account: agent,
      calls: [erc20Payment({ token: usdc, to: keys.merchantA.address, amount })],
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
    return { op, hash, receipt, reasons };
  }

  it("(c) mines an op refused at execution (period cap) with success=false, the exact error, decoded from the receipt", async function () {
    // 25 of the 40 USDC period cap went in (a); another 25 passes validation (under the per-payment cap) and fails
    // at execution
    const [, inPeriodBefore, , resetsAt] = await read<bigint[]>("remaining", [agentId, usdc]);
    expect(inPeriodBefore).to.equal(USDC(15));
    const [chargedBefore] = await read<bigint[]>("agentUsage", [agentId]);
    const { op, hash, receipt, reasons } = await sendUnestimated(agentId, keys.agent, USDC(25));
    expect(receipt.success).to.equal(false);

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
    expect(factsOf(decodeGuardrailViolation(receipt))).to.deep.equal({
      name: "PeriodCapExceeded",
      agentId,
      token: getAddress(usdc),
      amount: USDC(25),
      remaining: USDC(15),
      resetsAt,
      userOpHash: hash,
    });

    // nothing moved but the gas budget, which keeps the op's maximum cost (SPEC: gas is spending)
    expect(await balanceOf(keys.merchantA.address)).to.equal(USDC(25));
    const [, inPeriodAfter] = await read<bigint[]>("remaining", [agentId, usdc]);
    expect(inPeriodAfter).to.equal(USDC(15));
    const [chargedAfter] = await read<bigint[]>("agentUsage", [agentId]);
    expect(chargedAfter - chargedBefore).to.equal(maxCost(op));
  });

  it("(d) mines an op refused at execution (outside the active hours) with the hour decoded from the receipt", async function () {
    const { hash, receipt, reasons } = await sendUnestimated(nightAgentId, keys.nightAgent, USDC(5));
    expect(receipt.success).to.equal(false);
    const { timestamp } = await publicClient.getBlock({ blockNumber: receipt.receipt.blockNumber });
    const hour = hourOfWeek(timestamp);
    expect((nightHours >> BigInt(hour)) & 1n).to.equal(0n);
    expect(reasons).to.have.length(1);
    expect((reasons[0]!.args as { revertReason: Hex }).revertReason).to.equal(
      encodeErrorResult({ abi: accountAbi, errorName: "OutsideActiveHours", args: [nightAgentId, BigInt(hour)] }),
    );
    expect(factsOf(decodeGuardrailViolation(receipt))).to.deep.equal({
      name: "OutsideActiveHours",
      agentId: nightAgentId,
      hourOfWeek: hour,
      userOpHash: hash,
    });
    expect(await balanceOf(keys.merchantA.address)).to.equal(USDC(25));
  });

  it("(e) sponsors an agent op by a paymaster the owner allowed: the payment settles and the gas budget is untouched", async function () {
    const agent = await agentAccount();
    // a new period has not begun: 15 USDC left in it after (a)
    const usageBefore = await read<bigint[]>("agentUsage", [agentId]);
    const accountDepositBefore = await depositOf(account);
    const paymasterDepositBefore = await depositOf(allowedPaymaster);

    const hash = await bundler.sendUserOperation({
      account: agent,
      calls: [erc20Payment({ token: usdc, to: keys.merchantA.address, amount: USDC(10) })],
      paymaster: allowedPaymaster,
      paymasterData: "0x",
    });
    const receipt = await bundler.waitForUserOperationReceipt({ hash, timeout: 20_000 });
    expect(receipt.success).to.equal(true);
    expect(receipt.paymaster).to.equal(getAddress(allowedPaymaster));

    expect(await balanceOf(keys.merchantA.address)).to.equal(USDC(35));
    expect(await balanceOf(account)).to.equal(USDC(965));
    const [, inPeriod] = await read<bigint[]>("remaining", [agentId, usdc]);
    expect(inPeriod).to.equal(USDC(5));
    // gas charged, gas remaining, calls in period and period end: exactly as before
    expect(await read<bigint[]>("agentUsage", [agentId])).to.deep.equal(usageBefore);
    expect(await depositOf(account)).to.equal(accountDepositBefore);
    expect(paymasterDepositBefore - (await depositOf(allowedPaymaster))).to.equal(receipt.actualGasCost);
  });

  it("(f) refuses an agent op with any other paymaster, decoded as PaymasterNotAllowed(agentId, paymaster)", async function () {
    const agent = await agentAccount();
    const usageBefore = await read<bigint[]>("agentUsage", [agentId]);
    const calls = [erc20Payment({ token: usdc, to: keys.merchantA.address, amount: USDC(1) })];
    const expected = encodeErrorResult({
      abi: accountAbi,
      errorName: "PaymasterNotAllowed",
      args: [agentId, otherPaymaster],
    });

    const estimated = await bundler
      .sendUserOperation({ account: agent, calls, paymaster: otherPaymaster, paymasterData: "0x" })
      .catch((e: unknown) => e);
    const sent = await bundler
      .sendUserOperation({
        account: agent,
        calls,
        paymaster: otherPaymaster,
        paymasterData: "0x",
        callGasLimit: 200_000n,
        verificationGasLimit: 300_000n,
        preVerificationGas: 100_000n,
        paymasterVerificationGasLimit: 100_000n,
        paymasterPostOpGasLimit: 0n,
      })
      .catch((e: unknown) => e);
    expect(rpcErrorOf(estimated).details).to.equal(
      `UserOperation reverted during simulation with reason: AA23 reverted ${expected}`,
    );
    expect(rpcErrorOf(sent).details).to.equal(`UserOperation reverted with reason: AA23 reverted ${expected}`);
    for (const refused of [estimated, sent]) {
      expect(rpcErrorOf(refused).code).to.equal(-32500);
      const violation = decodeGuardrailViolation(refused);
      expect(factsOf(violation)).to.deep.equal({
        name: "PaymasterNotAllowed",
        agentId,
        paymaster: getAddress(otherPaymaster),
      });
    }
    expect(await read<bigint[]>("agentUsage", [agentId])).to.deep.equal(usageBefore);
    expect(await balanceOf(keys.merchantA.address)).to.equal(USDC(35));
  });

  it("(g) estimates, with the stub signature, limits the real op succeeds with (validation as long as the real one)", async function () {
    const agent = await agentAccount();
    const calls = [erc20Payment({ token: usdc, to: keys.merchantA.address, amount: USDC(5) })];
    const estimate = await bundler.estimateUserOperationGas({ account: agent, calls });
    const limits = {
      callGasLimit: estimate.callGasLimit,
      verificationGasLimit: estimate.verificationGasLimit,
      preVerificationGas: estimate.preVerificationGas,
    };
    const op = await bundler.prepareUserOperation({ account: agent, calls, ...limits });
    expect(op).to.deep.include(limits);

    // the stub signature's validation, traced through handleOps before the real op is sent: it runs to the end and
    // is refused for the signature only (AA24)
    const stubOp = { ...op, signature: AGENT_STUB_SIGNATURE } as UserOperation<"0.8">;
    const stubTrace = framesOf(
      (await publicClient.request({
        method: "debug_traceCall" as never,
        params: [
          {
            from: keys.executor.address,
            to: ENTRY_POINT_ADDRESS,
            data: encodeFunctionData({
              abi: entryPoint08Abi,
              functionName: "handleOps",
              args: [[toPackedUserOperation(stubOp)], keys.executor.address],
            }),
            gas: toHex(2_000_000),
          },
          "latest",
          { tracer: "callTracer" },
        ] as never,
      })) as CallFrame,
    );
    const stubValidation = stubTrace.find(
      (f) => f.to && getAddress(f.to) === getAddress(account) && f.input.startsWith(VALIDATE_USER_OP),
    );
    expect(stubValidation, "no validateUserOp frame in the stub trace").to.not.equal(undefined);
    expect(stubValidation!.error).to.equal(undefined);
    expect(stubTrace[0]!.error).to.equal("execution reverted");
    expect(stubTrace[0]!.output).to.equal(
      encodeErrorResult({ abi: entryPoint08Abi, errorName: "FailedOp", args: [0n, "AA24 signature error"] }),
    );

    const hash = await bundler.sendUserOperation({
      ...op,
      account: agent,
      signature: await agent.signUserOperation(op),
    });
    const receipt = await bundler.waitForUserOperationReceipt({ hash, timeout: 20_000 });
    const { userOperation: sentOp } = await bundler.getUserOperation({ hash });
    expect(receipt.success).to.equal(true);
    expect(sentOp).to.deep.include(limits);
    expect(await balanceOf(keys.merchantA.address)).to.equal(USDC(40));

    const frames = await traceOf(receipt.receipt.transactionHash);
    const toAccount = frames.filter((f) => f.to && getAddress(f.to) === getAddress(account));
    const validation = toAccount.find((f) => f.input.startsWith(VALIDATE_USER_OP))!;
    const execution = toAccount.find((f) =>
      f.input.startsWith(toFunctionSelector("executeAsAgent(bytes32,(address,uint256,bytes)[])")),
    )!;
    const used = {
      validation: BigInt(validation.gasUsed),
      stub: BigInt(stubValidation!.gasUsed),
      execution: BigInt(execution.gasUsed),
    };
    console.log(
      `      gas: estimated verification ${limits.verificationGasLimit}, call ${limits.callGasLimit}; used validation ${used.validation} (stub ${used.stub}), execution ${used.execution}`,
    );
    // (the op succeeded with exactly the estimated limits: each frame fit in its limit)
    // SPEC: a failed signature does not shorten validation
    expect(used.stub >= used.validation).to.equal(true);
  });

  it("(h) is refused by the bundler in safe mode for an account that reads TIMESTAMP in validation (ERC-7562, -32502)", async function () {
    const fees = await altoFees();
    const op = {
      sender: nonCompliant,
      nonce: 0n,
      callData: "0x",
      callGasLimit: 50_000n,
      verificationGasLimit: 100_000n,
      preVerificationGas: 100_000n,
      ...fees,
      signature: "0x",
    } as const;
    const refused = await bundler
      .request({
        method: "eth_sendUserOperation",
        params: [formatUserOperationRequest(op), ENTRY_POINT_ADDRESS],
      })
      .catch((e: unknown) => e);
    const rpc = rpcErrorOf(refused);
    expect(rpc.code).to.equal(-32502);
    expect(rpc.details).to.equal("account uses banned opcode: TIMESTAMP");
    const violation = decodeGuardrailViolation(refused);
    expect(violation?.name).to.equal("BundlerRejected");
    expect(violation?.rpcCode).to.equal(-32502);
    expect(violation?.reason).to.equal("account uses banned opcode: TIMESTAMP");
    expect(violation?.message).to.equal(
      "The bundler refused the UserOperation: its validation breaks the ERC-7562 rules (a banned opcode or storage access).",
    );

    // the EntryPoint itself takes the same op: only the bundler's ERC-7562 check refused it
    // (sent by a key of its own: Alto keeps track of its executor's nonce)
    const sender = createWalletClient({ account: keys.stranger, chain: foundry, transport: http(anvilUrl) });
    const tx = await sender.writeContract({
      address: ENTRY_POINT_ADDRESS,
      abi: entryPoint08Abi,
      functionName: "handleOps",
      args: [[toPackedUserOperation(op)], keys.stranger.address],
    });
    expect((await publicClient.waitForTransactionReceipt({ hash: tx })).status).to.equal("success");
    expect(
      await publicClient.readContract({
        address: ENTRY_POINT_ADDRESS,
        abi: entryPoint08Abi,
        functionName: "getNonce",
        args: [nonCompliant, 0n],
      }),
    ).to.equal(1n);
  });
});
