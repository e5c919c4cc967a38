// The agent side of the toolkit on the in-process network: the viem SmartAccount for an agent key (nonce key, callData,
// signature, stub signature), the direct path (payAsAgent with its preflight), agent keys and their encrypted keystore.
import { mkdtemp, chmod, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";

import { expect } from "chai";
import { Wallet, decryptKeystoreJson, encryptKeystoreJson } from "ethers";
import { network } from "hardhat";
import {
  type Abi,
  type Hex,
  BaseError,
  ContractFunctionExecutionError,
  decodeErrorResult,
  decodeEventLog,
  encodeErrorResult,
  encodeFunctionData,
  getAddress,
  keccak256,
  parseEther,
  recoverAddress,
  toHex,
  zeroAddress,
} from "viem";
import { type UserOperation, toPackedUserOperation } from "viem/account-abstraction";
import { generatePrivateKey, privateKeyToAccount, toAccount } from "viem/accounts";

import {
  AGENT_STUB_SIGNATURE,
  AgentCallsRefusedError,
  AgentKey,
  AgentKeyCannotSignError,
  AgentNonceKeyError,
  KeystoreError,
  createAgentKey,
  erc20Payment,
  ethPayment,
  payAsAgent,
  toStoplineAgentAccount,
} from "../src/agent/index.js";
import {
  decryptAgentKey,
  encryptAgentKey,
  loadAgentKey,
  loadAgentKeyPair,
  saveAgentKey,
} from "../src/agent/keystore.js";
import { deployStopline } from "./helpers/fixture.js";
import {
  ENTRY_POINT_ABI,
  ENTRY_POINT_ADDRESS,
  ROLES,
  USDC,
  agentIdFor,
  hdKey,
  nonceFor,
  nonceKeyOf,
  policy,
  rejection,
} from "./helpers/stopline.js";

const require = createRequire(import.meta.url);
const simulations = require("@account-abstraction/contracts/artifacts/EntryPointSimulations.json") as {
  abi: Abi;
  deployedBytecode: Hex;
};

const conn = await network.create();
const { networkHelpers } = conn;

async function world() {
  const s = await deployStopline(conn);
  const agent = await toStoplineAgentAccount({
    client: s.publicClient,
    address: s.accountAddress,
    agentId: s.agentId,
    key: hdKey(ROLES.agent),
  });
  return { ...s, agent };
}

/** Fills a v0.8 UserOperation for `agent` with fixed gas values (the in-process network has no bundler). */
async function opFor(
  agent: Awaited<ReturnType<typeof world>>["agent"],
  calls: Parameters<typeof agent.encodeCalls>[0],
) {
  return {
    sender: agent.address,
    nonce: await agent.getNonce(),
    callData: await agent.encodeCalls(calls),
    callGasLimit: 300_000n,
    verificationGasLimit: 300_000n,
    preVerificationGas: 60_000n,
    maxFeePerGas: 2_000_000_000n,
    maxPriorityFeePerGas: 1_000_000_000n,
    signature: await agent.getStubSignature(),
  } satisfies UserOperation<"0.8">;
}

describe("toStoplineAgentAccount", function () {
  it("reads its nonce from the agent's own nonce key and refuses any other key", async function () {
    const s = await networkHelpers.loadFixture(world);
    const key = nonceKeyOf(s.agentId);
    expect(s.agent.nonceKey).to.equal(1n);
    expect(await s.agent.getNonce()).to.equal(nonceFor(key, 0n));
    expect(await s.agent.getNonce({ key })).to.equal(nonceFor(key, 0n));

    // an owner op on key 0 does not move the agent's nonce; an agent op does
    await s.handleOps([await s.ownerOp(encodeFunctionData({ abi: s.account.abi, functionName: "pauseAgents" }))]);
    await s.account.write.unpauseAgents();
    expect(await s.entryPoint.read.getNonce([s.accountAddress, 0n])).to.equal(1n);
    expect(await s.agent.getNonce()).to.equal(nonceFor(key, 0n));
    await s.handleOps([await s.agentOp([s.transfer(s.addr.merchantA, USDC(1))])]);
    expect(await s.agent.getNonce()).to.equal(nonceFor(key, 1n));

    const err = await s.agent.getNonce({ key: 0n }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(AgentNonceKeyError);
    expect((err as Error).message).to.contain("own nonce key 1, not 0");
  });

  it("uses the high bits of the agent id too, but only the low 192 as nonce key", async function () {
    const s = await networkHelpers.loadFixture(world);
    const agentId = agentIdFor(7, 0xabcn);
    const a = await toStoplineAgentAccount({
      client: s.publicClient,
      address: s.accountAddress,
      agentId,
      key: hdKey(3),
    });
    expect(a.nonceKey).to.equal(7n);
    expect(await a.getNonce()).to.equal(nonceFor(7n, 0n));
    await rejection(
      toStoplineAgentAccount({
        client: s.publicClient,
        address: s.accountAddress,
        agentId: agentIdFor(0, 1n),
        key: hdKey(3),
      }),
      BaseError,
      "zero low 192 bits",
    );
    await rejection(
      toStoplineAgentAccount({ client: s.publicClient, address: s.accountAddress, agentId: "0x01", key: hdKey(3) }),
      BaseError,
      "not a bytes32",
    );
  });

  it("encodes calls as executeAsAgent for its agent and decodes them back", async function () {
    const s = await networkHelpers.loadFixture(world);
    const pay = erc20Payment({ token: s.usdc.address, to: s.addr.merchantA, amount: USDC(12) });
    const tip = ethPayment({ to: s.addr.merchantB, value: 5n });
    const callData = await s.agent.encodeCalls([pay, tip]);
    expect(callData).to.equal(
      s.agentCallData(s.agentId, [
        s.transfer(s.addr.merchantA, USDC(12)),
        { target: s.addr.merchantB, value: 5n, callData: "0x" },
      ]),
    );
    expect(await s.agent.decodeCalls!(callData)).to.deep.equal([
      { to: getAddress(s.usdc.address), value: 0n, data: pay.data },
      { to: getAddress(s.addr.merchantB), value: 5n, data: "0x" },
    ]);
    expect(s.agent.address).to.equal(s.accountAddress);
    expect(s.agent.entryPoint.address).to.equal(ENTRY_POINT_ADDRESS);
    expect(s.agent.entryPoint.version).to.equal("0.8");
  });

  it("signs the v0.8 userOpHash with the agent key, and the EntryPoint runs the payment", async function () {
    const s = await networkHelpers.loadFixture(world);
    const op = await opFor(s.agent, [erc20Payment({ token: s.usdc.address, to: s.addr.merchantA, amount: USDC(20) })]);
    op.signature = await s.agent.signUserOperation(op);
    const packed = toPackedUserOperation(op);

    // the same 65 bytes as a raw ECDSA signature of the EntryPoint's own hash
    const hash = (await s.entryPoint.read.getUserOpHash([packed])) as Hex;
    expect(op.signature).to.equal(await hdKey(ROLES.agent).sign({ hash }));
    expect(await recoverAddress({ hash, signature: op.signature })).to.equal(getAddress(s.addr.agent));
    // a key without raw `sign` (e.g. a remote signer) signs the EIP-712 typed data instead: the same bytes
    const k = hdKey(ROLES.agent);
    const remote = toAccount({
      address: k.address,
      signMessage: (m) => k.signMessage(m),
      signTransaction: (t) => k.signTransaction(t),
      signTypedData: (t) => k.signTypedData(t),
    });
    const viaTypedData = await toStoplineAgentAccount({
      client: s.publicClient,
      address: s.accountAddress,
      agentId: s.agentId,
      key: remote,
    });
    expect(await viaTypedData.signUserOperation(op)).to.equal(op.signature);

    const receipt = await s.handleOps([packed]);
    const events = receipt.logs
      .filter((l) => l.address.toLowerCase() === ENTRY_POINT_ADDRESS.toLowerCase())
      .map((l) => {
        try {
          return decodeEventLog({ abi: ENTRY_POINT_ABI, data: l.data, topics: l.topics });
        } catch {
          return undefined;
        }
      })
      .filter((e) => e?.eventName === "UserOperationEvent");
    expect(events).to.have.length(1);
    expect((events[0]!.args as unknown as { success: boolean; userOpHash: Hex }).success).to.equal(true);
    expect((events[0]!.args as unknown as { userOpHash: Hex }).userOpHash).to.equal(hash);
    expect(await s.usdc.read.balanceOf([s.addr.merchantA])).to.equal(USDC(20));
    expect(await s.usdc.read.balanceOf([s.accountAddress])).to.equal(USDC(9_980));
    const [perPayment, inPeriod, inLifetime] = await s.account.read.remaining([s.agentId, s.usdc.address]);
    expect([perPayment, inPeriod, inLifetime]).to.deep.equal([USDC(25), USDC(80), USDC(980)]);
    expect(await s.agent.getNonce()).to.equal(nonceFor(1n, 1n));
  });

  it("gets its op refused with AA24 when built around a key that is not the agent's", async function () {
    const s = await networkHelpers.loadFixture(world);
    const impostor = await toStoplineAgentAccount({
      client: s.publicClient,
      address: s.accountAddress,
      agentId: s.agentId,
      key: hdKey(ROLES.stranger),
    });
    const op = await opFor(impostor, [erc20Payment({ token: s.usdc.address, to: s.addr.merchantA, amount: USDC(1) })]);
    op.signature = await impostor.signUserOperation(op);
    await s.conn.viem.assertions.revertWithCustomErrorWithArgs(
      s.entryPoint.write.handleOps([[toPackedUserOperation(op)], s.addr.bundler], { gas: 5_000_000n }),
      s.entryPoint,
      "FailedOp",
      [0n, "AA24 signature error"],
    );
  });

  it("estimates with a stub signature that takes the real signature's validation path", async function () {
    const s = await networkHelpers.loadFixture(world);
    const op = await opFor(s.agent, [erc20Payment({ token: s.usdc.address, to: s.addr.merchantA, amount: USDC(5) })]);
    const stub = toPackedUserOperation(op);
    const real = toPackedUserOperation({ ...op, signature: await s.agent.signUserOperation(op) });
    expect(AGENT_STUB_SIGNATURE).to.have.length(2 + 130);
    expect(stub.signature).to.equal(AGENT_STUB_SIGNATURE);
    // over any hash the stub recovers to some address (so ecrecover runs in full), never the agent's
    for (const h of [keccak256(toHex(1)), (await s.entryPoint.read.getUserOpHash([stub])) as Hex]) {
      const signer = await recoverAddress({ hash: h, signature: AGENT_STUB_SIGNATURE });
      expect(signer).to.not.equal(zeroAddress);
      expect(signer).to.not.equal(getAddress(s.addr.agent));
    }

    // EntryPointSimulations.simulateValidation at the EntryPoint's address (state override, as bundlers do)
    const simulate = async (packed: typeof stub) => {
      const { data } = await s.publicClient.call({
        to: ENTRY_POINT_ADDRESS,
        data: encodeFunctionData({ abi: simulations.abi, functionName: "simulateValidation", args: [packed] }),
        stateOverride: [{ address: ENTRY_POINT_ADDRESS, code: simulations.deployedBytecode }],
        gas: 10_000_000n,
      });
      const { decodeFunctionResult } = await import("viem");
      return decodeFunctionResult({ abi: simulations.abi, functionName: "simulateValidation", data: data! }) as {
        returnInfo: { preOpGas: bigint; accountValidationData: bigint };
      };
    };
    const [withStub, withReal] = [await simulate(stub), await simulate(real)];
    const sigFailed = (vd: bigint) => vd & ((1n << 160n) - 1n);
    expect(sigFailed(withStub.returnInfo.accountValidationData)).to.equal(1n);
    expect(sigFailed(withReal.returnInfo.accountValidationData)).to.equal(0n);
    // same validity window in both, and the same gas within a few hundred units
    expect(withStub.returnInfo.accountValidationData >> 160n).to.equal(
      withReal.returnInfo.accountValidationData >> 160n,
    );
    const diff = withStub.returnInfo.preOpGas - withReal.returnInfo.preOpGas;
    expect(Number(diff < 0n ? -diff : diff)).to.be.lessThan(300);
    expect(withStub.returnInfo.preOpGas > op.preVerificationGas + 20_000n).to.equal(true);
  });

  it("has no factory and never signs messages or typed data for the account", async function () {
    const s = await networkHelpers.loadFixture(world);
    expect(await s.agent.getFactoryArgs()).to.deep.equal({ factory: undefined, factoryData: undefined });
    expect(await s.agent.isDeployed()).to.equal(true);
    await rejection(
      s.agent.signMessage({ message: "hello" }),
      AgentKeyCannotSignError,
      "An agent key cannot sign messages for a Stopline account.",
    );
    await rejection(
      s.agent.signTypedData({
        domain: { name: "USDC", version: "2", chainId: 31337, verifyingContract: s.usdc.address },
        types: { Permit: [{ name: "value", type: "uint256" }] },
        primaryType: "Permit",
        message: { value: 1n },
      }),
      AgentKeyCannotSignError,
      "cannot sign typed data",
    );
  });
});

describe("payAsAgent", function () {
  async function withEthAgent() {
    const s = await world();
    const ethAgent = agentIdFor(2);
    await s.account.write.grantAgent([
      ethAgent,
      s.addr.agent2,
      policy({
        limits: [
          {
            token: zeroAddress,
            perPayment: parseEther("0.01"),
            perPeriod: parseEther("0.02"),
            lifetime: parseEther("1"),
          },
        ],
        merchants: [s.addr.merchantB],
      }),
    ]);
    return { ...s, ethAgent };
  }

  it("pays merchants in one batch from the agent key, which pays its own gas", async function () {
    const s = await networkHelpers.loadFixture(world);
    const hash = await payAsAgent(s.wallets.agent, {
      address: s.accountAddress,
      agentId: s.agentId,
      calls: [
        erc20Payment({ token: s.usdc.address, to: s.addr.merchantA, amount: USDC(25) }),
        s.transfer(s.addr.merchantB, USDC(15)), // a plain Execution works too
      ],
    });
    const receipt = await s.publicClient.waitForTransactionReceipt({ hash });
    expect(receipt.status).to.equal("success");
    expect(receipt.from).to.equal(s.addr.agent.toLowerCase());
    expect(await s.usdc.read.balanceOf([s.addr.merchantA])).to.equal(USDC(25));
    expect(await s.usdc.read.balanceOf([s.addr.merchantB])).to.equal(USDC(15));
    const [perPayment, inPeriod, inLifetime] = await s.account.read.remaining([s.agentId, s.usdc.address]);
    expect([perPayment, inPeriod, inLifetime]).to.deep.equal([USDC(25), USDC(60), USDC(960)]);
    expect(await s.account.read.spent([s.agentId, s.usdc.address])).to.deep.equal([USDC(40), USDC(40)]);
  });

  it("pays ETH to a merchant with ethPayment", async function () {
    const s = await networkHelpers.loadFixture(withEthAgent);
    const before = await s.publicClient.getBalance({ address: s.addr.merchantB });
    const hash = await payAsAgent(s.wallets.agent2, {
      address: s.accountAddress,
      agentId: s.ethAgent,
      calls: [ethPayment({ to: s.addr.merchantB, value: parseEther("0.01") })],
    });
    await s.publicClient.waitForTransactionReceipt({ hash });
    expect((await s.publicClient.getBalance({ address: s.addr.merchantB })) - before).to.equal(parseEther("0.01"));
    expect(await s.account.read.spent([s.ethAgent, zeroAddress])).to.deep.equal([
      parseEther("0.01"),
      parseEther("0.01"),
    ]);
  });

  it("refuses in preflight with the account's raw error and sends nothing", async function () {
    const s = await networkHelpers.loadFixture(world);
    const nonceBefore = await s.publicClient.getTransactionCount({ address: s.addr.agent });
    const err = await payAsAgent(s.wallets.agent, {
      address: s.accountAddress,
      agentId: s.agentId,
      calls: [erc20Payment({ token: s.usdc.address, to: s.addr.merchantA, amount: USDC(30) })],
    }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(AgentCallsRefusedError);
    const refused = err as AgentCallsRefusedError;
    expect(refused.violation).to.equal(
      encodeErrorResult({
        abi: s.account.abi,
        errorName: "PerPaymentCapExceeded",
        args: [s.agentId, s.usdc.address, USDC(30), USDC(25)],
      }),
    );
    expect(refused.agentId).to.equal(s.agentId);
    expect(refused.account).to.equal(s.accountAddress);
    expect(refused.shortMessage).to.equal(
      `The account's guardrails refuse this agent batch: PerPaymentCapExceeded(${s.agentId}, ${getAddress(s.usdc.address)}, 30000000, 25000000).`,
    );
    expect(await s.publicClient.getTransactionCount({ address: s.addr.agent })).to.equal(nonceBefore);
    expect(await s.usdc.read.balanceOf([s.addr.merchantA])).to.equal(0n);
  });

  it("refuses an unlisted merchant and a spent period in preflight, each with its exact error", async function () {
    const s = await networkHelpers.loadFixture(world);
    const pay = (to: `0x${string}`, amount: bigint) =>
      payAsAgent(s.wallets.agent, {
        address: s.accountAddress,
        agentId: s.agentId,
        calls: [erc20Payment({ token: s.usdc.address, to, amount })],
      });
    const stranger = (await pay(s.addr.stranger, USDC(1)).catch((e: unknown) => e)) as AgentCallsRefusedError;
    expect(decodeErrorResult({ abi: s.account.abi, data: stranger.violation })).to.deep.include({
      errorName: "MerchantNotAllowed",
      args: [s.agentId, getAddress(s.addr.stranger)],
    });

    for (let i = 0; i < 4; i++)
      await s.publicClient.waitForTransactionReceipt({ hash: await pay(s.addr.merchantA, USDC(25)) });
    const [, , , resetsAt] = await s.account.read.remaining([s.agentId, s.usdc.address]);
    const spent = (await pay(s.addr.merchantA, USDC(1)).catch((e: unknown) => e)) as AgentCallsRefusedError;
    expect(spent).to.be.instanceOf(AgentCallsRefusedError);
    expect(decodeErrorResult({ abi: s.account.abi, data: spent.violation })).to.deep.include({
      errorName: "PeriodCapExceeded",
      args: [s.agentId, getAddress(s.usdc.address), USDC(1), 0n, resetsAt],
    });
  });

  it("without preflight, sends and lets the account revert with the same error", async function () {
    const s = await networkHelpers.loadFixture(world);
    await s.conn.viem.assertions.revertWithCustomErrorWithArgs(
      payAsAgent(s.wallets.agent, {
        address: s.accountAddress,
        agentId: s.agentId,
        preflight: false,
        calls: [erc20Payment({ token: s.usdc.address, to: s.addr.merchantA, amount: USDC(30) })],
      }),
      s.account,
      "PerPaymentCapExceeded",
      [s.agentId, s.usdc.address, USDC(30), USDC(25)],
    );
  });

  it("passes preflight for a key that is not the agent's, and the account then refuses it with AgentUnknown", async function () {
    const s = await networkHelpers.loadFixture(world);
    const err = await payAsAgent(s.wallets.stranger, {
      address: s.accountAddress,
      agentId: s.agentId,
      calls: [erc20Payment({ token: s.usdc.address, to: s.addr.merchantA, amount: USDC(1) })],
    }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ContractFunctionExecutionError);
    const data = (err as ContractFunctionExecutionError).walk(
      (e) => typeof (e as { data?: unknown }).data === "object",
    ) as { data?: { errorName: string; args: unknown[] } } | null;
    expect(data?.data).to.deep.include({ errorName: "AgentUnknown", args: [getAddress(s.addr.stranger)] });
  });
});

describe("agent keys", function () {
  let dir: string;
  before(async () => (dir = await mkdtemp(join(tmpdir(), "stopline-keys-"))));
  after(async () => rm(dir, { recursive: true, force: true }));
  const FAST = { scryptN: 2 ** 12 };

  it("creates distinct random keys whose private key stays out of logs, JSON and inspection", function () {
    const a = createAgentKey();
    const b = createAgentKey();
    expect(a.privateKey).to.match(/^0x[0-9a-f]{64}$/);
    expect(a.privateKey).to.not.equal(b.privateKey);
    expect(privateKeyToAccount(a.privateKey).address).to.equal(a.account.address);
    const { account, privateKey } = a;
    expect(account.address).to.equal(a.address);
    expect(privateKey).to.equal(a.privateKey);

    const raw = a.privateKey.slice(2);
    for (const shown of [
      JSON.stringify(a),
      JSON.stringify({ key: a }),
      inspect(a),
      inspect({ nested: { a } }, { depth: 5, showHidden: true }),
      String(a),
      `${a}`,
      JSON.stringify(a.account),
      inspect(a.account, { showHidden: true, depth: 5 }),
      Object.keys(a).join(","),
    ]) {
      expect(shown.toLowerCase()).to.not.contain(raw);
    }
    expect(JSON.stringify(a)).to.equal(JSON.stringify({ address: a.address, privateKey: "[redacted]" }));
    expect(Object.keys(a)).to.deep.equal(["account"]);
  });

  it("refuses a malformed private key without echoing it", function () {
    const bad = "0x1234zz";
    expect(() => new AgentKey(bad as Hex)).to.throw(BaseError, "value not shown");
    try {
      new AgentKey(`0x${"0".repeat(64)}`);
      expect.fail("a zero key was accepted");
    } catch (e) {
      expect((e as Error).message).to.contain("not a valid secp256k1 key");
    }
  });

  it("saves a Web3 Secret Storage v3 file with mode 0600 and loads the same key back", async function () {
    const key = createAgentKey();
    const path = join(dir, "roundtrip.json");
    expect(await saveAgentKey(path, key, "correct horse", FAST)).to.deep.equal({ address: key.address, path });
    expect((await stat(path)).mode & 0o777).to.equal(0o600);

    const file = JSON.parse(await readFile(path, "utf8"));
    expect(file.version).to.equal(3);
    expect(file.address).to.equal(key.address.slice(2).toLowerCase());
    expect(file.crypto.cipher).to.equal("aes-128-ctr");
    expect(file.crypto.kdf).to.equal("scrypt");
    expect(file.crypto.kdfparams).to.deep.include({ dklen: 32, n: 4096, r: 8, p: 1 });
    expect(file.crypto.ciphertext).to.not.equal(key.privateKey.slice(2));
    expect(await readFile(path, "utf8")).to.not.contain(key.privateKey.slice(2));

    const loaded = await loadAgentKey(path, "correct horse");
    expect(loaded.address).to.equal(key.address);
    const hash = keccak256(toHex("x"));
    expect(await loaded.sign({ hash })).to.equal(await key.account.sign({ hash }));
    expect((await loadAgentKeyPair(path, "correct horse")).privateKey).to.equal(key.privateKey);
  });

  it("uses scrypt N = 2^17 by default and interoperates with ethers' keystore both ways", async function () {
    const key = createAgentKey();
    const json = await encryptAgentKey(key.privateKey, "pw"); // about a second: the cost is the point
    expect(JSON.parse(json).crypto.kdfparams.n).to.equal(2 ** 17);
    expect(JSON.parse(json).crypto.kdfparams).to.deep.include({ dklen: 32, r: 8, p: 1 });

    // ethers' pure-JS scrypt is slow at 2^17, so the cross-checks use a small N
    const ours = await encryptAgentKey(key, "pw", FAST);
    expect((await decryptKeystoreJson(ours, "pw")).privateKey).to.equal(key.privateKey);
    const other = new Wallet(generatePrivateKey());
    const theirs = await encryptKeystoreJson({ address: other.address, privateKey: other.privateKey }, "pw", {
      scrypt: { N: 2 ** 12 },
    });
    const loaded = await decryptAgentKey(theirs, "pw");
    expect(loaded.address).to.equal(other.address);
    expect(loaded.privateKey).to.equal(other.privateKey);
  });

  it("names the fix when the password is wrong", async function () {
    const path = join(dir, "wrong.json");
    await saveAgentKey(path, createAgentKey(), "right", FAST);
    const err = (await loadAgentKey(path, "wrong").catch((e: unknown) => e)) as KeystoreError;
    expect(err).to.be.instanceOf(KeystoreError);
    expect(err.reason).to.equal("wrong-password");
    expect(err.path).to.equal(path);
    expect(err.shortMessage).to.equal(`Wrong password for the agent keystore ${path}.`);
    expect(err.message).to.contain("rotate the agent to a new key (rotateAgentKey)");
  });

  it("refuses a keystore readable by group or others unless told otherwise", async function () {
    const key = createAgentKey();
    const path = join(dir, "open.json");
    await saveAgentKey(path, key, "pw", FAST);
    await chmod(path, 0o644);
    const err = (await loadAgentKey(path, "pw").catch((e: unknown) => e)) as KeystoreError;
    expect(err).to.be.instanceOf(KeystoreError);
    expect(err.reason).to.equal("insecure-permissions");
    expect(err.shortMessage).to.contain("(mode 644)");
    expect(err.message).to.contain(`Fix: chmod 600 ${path}`);
    expect((await loadAgentKey(path, "pw", { allowInsecurePermissions: true })).address).to.equal(key.address);
  });

  it("never replaces an existing keystore unless asked, and keeps mode 0600 when it does", async function () {
    const path = join(dir, "twice.json");
    const first = createAgentKey();
    await saveAgentKey(path, first, "pw", FAST);
    const err = (await saveAgentKey(path, createAgentKey(), "pw", FAST).catch((e: unknown) => e)) as KeystoreError;
    expect(err).to.be.instanceOf(KeystoreError);
    expect(err.reason).to.equal("file-exists");
    expect((await loadAgentKey(path, "pw")).address).to.equal(first.address);

    await chmod(path, 0o640);
    const second = createAgentKey();
    await saveAgentKey(path, second.privateKey, "pw", { ...FAST, overwrite: true });
    expect((await stat(path)).mode & 0o777).to.equal(0o600);
    expect((await loadAgentKey(path, "pw")).address).to.equal(second.address);
    await rejection(saveAgentKey(join(dir, "empty.json"), second, "", FAST), KeystoreError, "empty password");
  });

  it("rejects corrupt and tampered keystores with a clear reason", async function () {
    const path = join(dir, "tampered.json");
    await saveAgentKey(path, createAgentKey(), "pw", FAST);
    const file = JSON.parse(await readFile(path, "utf8"));
    file.address = "0000000000000000000000000000000000000001";
    await rejection(decryptAgentKey(JSON.stringify(file), "pw", path), KeystoreError, "holds the key of");
    await rejection(decryptAgentKey("not json", "pw"), KeystoreError, "not JSON");
    await rejection(decryptAgentKey(JSON.stringify({ ...file, version: 1 }), "pw"), KeystoreError, "version is 1");
    file.crypto.kdfparams.n = 2 ** 30;
    await rejection(decryptAgentKey(JSON.stringify(file), "pw"), KeystoreError, "scrypt parameters out of range");
    await writeFile(join(dir, "missing-dir-probe"), "");
    await rejection(
      saveAgentKey(join(dir, "no/such/dir/k.json"), createAgentKey(), "pw", FAST),
      KeystoreError,
      "does not exist",
    );
  });

  it("prints no key material from any agent function, even when logging their results and errors", async function () {
    const s = await networkHelpers.loadFixture(world);
    const captured: string[] = [];
    const methods = ["log", "info", "warn", "error", "debug", "trace"] as const;
    const saved = methods.map((m) => console[m]);
    const out = process.stdout.write.bind(process.stdout);
    const errw = process.stderr.write.bind(process.stderr);
    const secrets: string[] = [];
    try {
      for (const m of methods)
        console[m] = (...args: unknown[]) => void captured.push(args.map((a) => inspect(a, { depth: 8 })).join(" "));
      process.stdout.write = ((chunk: string | Uint8Array) => (
        captured.push(String(chunk)),
        true
      )) as typeof process.stdout.write;
      process.stderr.write = ((chunk: string | Uint8Array) => (
        captured.push(String(chunk)),
        true
      )) as typeof process.stderr.write;

      const key = createAgentKey();
      secrets.push(key.privateKey);
      console.log(key, { key }, `${key}`, JSON.stringify(key));
      const path = join(dir, "logs.json");
      console.log(await saveAgentKey(path, key, "hunter2", FAST));
      const loaded = await loadAgentKey(path, "hunter2");
      console.log(loaded);
      console.log(await loadAgentKey(path, "nope").catch((e: unknown) => e));
      console.log(await decryptAgentKey("{}", "hunter2").catch((e: unknown) => e));

      const agent = await toStoplineAgentAccount({
        client: s.publicClient,
        address: s.accountAddress,
        agentId: s.agentId,
        key: loaded,
      });
      console.log(agent);
      const op = await opFor(agent, [erc20Payment({ token: s.usdc.address, to: s.addr.merchantA, amount: USDC(1) })]);
      console.log(await agent.signUserOperation(op));
      console.log(await agent.signMessage({ message: "x" }).catch((e: unknown) => e));

      const wallet = s.wallets.agent;
      console.log(
        await payAsAgent(wallet, {
          address: s.accountAddress,
          agentId: s.agentId,
          calls: [erc20Payment({ token: s.usdc.address, to: s.addr.stranger, amount: USDC(1) })],
        }).catch((e: unknown) => e),
      );
      try {
        new AgentKey(`${key.privateKey}00` as Hex);
      } catch (e) {
        console.error(e);
      }
    } finally {
      methods.forEach((m, i) => (console[m] = saved[i]!));
      process.stdout.write = out;
      process.stderr.write = errw;
    }
    const all = captured.join("\n").toLowerCase();
    expect(all).to.contain("[redacted]"); // the capture worked
    expect(all).to.contain("wrong password");
    for (const secret of secrets) {
      expect(all).to.not.contain(secret.slice(2).toLowerCase());
      expect(all).to.not.contain(secret.slice(2, 34).toLowerCase()); // not even half of it
    }
    expect(all).to.not.contain("hunter2");
  });
});
