// ERC-7562 evidence: the validation of agent and owner UserOperations, traced opcode by opcode on the Hardhat network
// (EDR's debug_traceTransaction / debug_traceCall with the default struct logger), obeys the rules a bundler enforces:
// no banned opcode, GAS only right before a *CALL, storage (persistent and transient) only of the account itself, calls
// and code reads only into deployed code or precompiles, and no value leaves the account but the prefund to the EntryPoint.
import { expect } from "chai";
import { network } from "hardhat";
import {
  type Address,
  type Hex,
  encodeAbiParameters,
  encodeFunctionData,
  getAddress,
  isAddressEqual,
  padHex,
  toFunctionSelector,
} from "viem";

import { type Stopline, deployStopline } from "./helpers/fixture.js";
import {
  ENTRY_POINT_ABI,
  ENTRY_POINT_ADDRESS,
  type PackedUserOperation,
  ROLES,
  USDC,
  maxCost,
} from "./helpers/stopline.js";

/** One step of the default struct logger, as EDR returns it. */
type Step = {
  pc: number;
  op: string;
  depth: number;
  gas: number;
  gasCost: number;
  stack?: Hex[];
  storage?: Record<string, Hex>;
};
type Trace = { failed: boolean; gas: number; returnValue: string; structLogs: Step[] };

/** The call frame a step runs in: whose code runs, whose storage it reads and writes, and whether it is the EntryPoint's
 *  own code (reached only by the prefund: [OP-053] lets the account call its fallback with value; the EntryPoint is not
 *  an entity the rules restrict). */
type Frame = { code: Address; storage: Address; entryPoint: boolean };
type Finding = { rule: string; op: string; pc: number; depth: number; code: string; detail?: string };
type Report = {
  findings: Finding[];
  steps: number;
  opcodes: Set<string>;
  storageAccesses: { op: string; slot: Hex; storage: Address }[];
  valueCalls: { to: Address; value: bigint; from: Address }[];
  calls: { op: string; to: Address; from: Address; value: bigint; calldataSize: bigint }[];
  entryPointSteps: number;
};

// [OP-011] (with DIFFICULTY/PREVRANDAO under both names), [OP-031] CREATE/CREATE2 (no initCode here), SELFDESTRUCT.
const BANNED = new Set([
  "GASPRICE",
  "GASLIMIT",
  "DIFFICULTY",
  "PREVRANDAO",
  "TIMESTAMP",
  "BASEFEE",
  "BLOCKHASH",
  "NUMBER",
  "ORIGIN",
  "COINBASE",
  "SELFBALANCE",
  "BALANCE",
  "BLOBHASH",
  "BLOBBASEFEE",
  "CREATE",
  "CREATE2",
  "SELFDESTRUCT",
  "INVALID",
]);
const CALLS = new Set(["CALL", "CALLCODE", "DELEGATECALL", "STATICCALL"]);
const STORAGE_OPS = new Set(["SLOAD", "SSTORE", "TLOAD", "TSTORE"]);
const CODE_READS = new Set(["EXTCODESIZE", "EXTCODECOPY", "EXTCODEHASH"]);
const VALIDATE_USER_OP = toFunctionSelector(
  "validateUserOp((address,uint256,bytes,bytes,bytes32,uint256,bytes32,bytes,bytes),bytes32,uint256)",
);
/** The precompiles an account may call in validation ([OP-062]: the chain's core precompiles). */
const isPrecompile = (a: Address) => BigInt(a) >= 1n && BigInt(a) <= 0x11n;

const BATCH_MODE: Hex = padHex("0x01", { size: 32, dir: "right" }); // ERC-7821 batch, revert on failure

const top = (s: Step, n = 0): Hex => {
  const stack = s.stack ?? [];
  return stack[stack.length - 1 - n];
};
const asAddress = (word: Hex): Address => getAddress(padHex(`0x${BigInt(word).toString(16).slice(-40)}`, { size: 20 }));

async function traceTransaction(s: Stopline, hash: Hex): Promise<Trace> {
  return (await s.publicClient.request({
    method: "debug_traceTransaction",
    params: [hash, { disableStorage: false, disableStack: false, enableMemory: false }],
  } as never)) as Trace;
}

/** The steps of one call into the account inside a handleOps trace: the subtree of the first call made from a frame of
 *  depth `fromDepth` to the account, checked to dispatch to `selector` in the implementation (behind the proxy's
 *  DELEGATECALL, the implementation puts the selector on its stack while dispatching). Validation is the EntryPoint's
 *  call from its top frame (depth 1) to `validateUserOp`; execution comes from `innerHandleOp` (depth 2). */
function accountCallWindow(
  trace: Trace,
  account: Address,
  fromDepth = 1,
  selector: Hex = VALIDATE_USER_OP,
): { start: number; end: number } {
  const logs = trace.structLogs;
  for (let i = 0; i + 1 < logs.length; i++) {
    const s = logs[i];
    if (s.depth !== fromDepth || !CALLS.has(s.op) || logs[i + 1].depth !== fromDepth + 1) continue;
    if (!isAddressEqual(asAddress(top(s, 1)), account)) continue;
    let end = i + 1;
    while (end < logs.length && logs[end].depth > fromDepth) end++;
    const dispatched = logs
      .slice(i + 1, Math.min(end, i + 200))
      .some((l) => l.depth === fromDepth + 2 && top(l) !== undefined && BigInt(top(l)) === BigInt(selector));
    expect(dispatched, `the call from depth ${fromDepth} to the account runs ${selector}`).to.equal(true);
    return { start: i + 1, end };
  }
  throw new Error(`no call from depth ${fromDepth} to the account in this trace`);
}

/** Applies the ERC-7562 account rules to every step of the window [start, end) of `trace`, whose first frame is the
 *  account's (depth `start`'s). */
async function checkValidationRules(
  s: Stopline,
  trace: Trace,
  window: { start: number; end: number },
): Promise<Report> {
  const account = s.accountAddress;
  const logs = trace.structLogs;
  const names = new Map<string, string>([
    [account.toLowerCase(), "account proxy"],
    [s.implementation.address.toLowerCase(), "AgentAccount implementation"],
  ]);
  const codeCache = new Map<string, boolean>();
  const hasCode = async (a: Address) => {
    const key = a.toLowerCase();
    if (!codeCache.has(key)) {
      const code = await s.publicClient.getCode({ address: a });
      codeCache.set(key, code !== undefined && code !== "0x");
    }
    return codeCache.get(key)!;
  };

  const report: Report = {
    findings: [],
    steps: window.end - window.start,
    opcodes: new Set(),
    storageAccesses: [],
    valueCalls: [],
    calls: [],
    entryPointSteps: 0,
  };
  // frames[d - base] is the frame of depth d (the account's own frame is the window's first depth)
  const base = logs[window.start].depth;
  const frames: Frame[] = [{ code: account, storage: account, entryPoint: false }];
  for (let i = window.start; i < window.end; i++) {
    const step = logs[i];
    frames.length = step.depth - base + 1;
    const frame = frames[frames.length - 1];
    if (frame.entryPoint) {
      report.entryPointSteps++;
      continue;
    }
    const where = {
      op: step.op,
      pc: step.pc,
      depth: step.depth,
      code: names.get(frame.code.toLowerCase()) ?? frame.code,
    };
    report.opcodes.add(step.op);

    if (BANNED.has(step.op)) report.findings.push({ rule: "banned opcode [OP-011]", ...where });
    if (step.op === "GAS") {
      const next = logs[i + 1];
      if (!CALLS.has(next.op) || next.depth !== step.depth) {
        report.findings.push({ rule: "GAS not followed by a *CALL [OP-012]", ...where, detail: `then ${next.op}` });
      }
    }
    if (STORAGE_OPS.has(step.op)) {
      const slot = padHex(top(step), { size: 32 });
      report.storageAccesses.push({ op: step.op, slot, storage: frame.storage });
      if (!isAddressEqual(frame.storage, account)) {
        report.findings.push({
          rule: "storage outside the account [STO-010]",
          ...where,
          detail: `${frame.storage} ${slot}`,
        });
      }
      // the struct logger shows the current contract's storage: the slot read or written must be in it
      if (step.op === "SLOAD" || step.op === "SSTORE") {
        const seen = Object.keys(step.storage ?? {}).some((k) => BigInt(k) === BigInt(slot));
        if (!seen) report.findings.push({ rule: "slot missing from the logged storage", ...where, detail: slot });
      }
    }
    if (CODE_READS.has(step.op)) {
      const target = asAddress(top(step));
      if (!(await hasCode(target)) && !isPrecompile(target)) {
        report.findings.push({ rule: "code read of an address without code [OP-041]", ...where, detail: target });
      }
    }
    if (CALLS.has(step.op)) {
      const target = asAddress(top(step, 1));
      const value = step.op === "CALL" || step.op === "CALLCODE" ? BigInt(top(step, 2)) : 0n;
      // CALL/CALLCODE: gas, to, value, argsOffset, argsSize; DELEGATECALL/STATICCALL: gas, to, argsOffset, argsSize
      const calldataSize = BigInt(top(step, value !== 0n || step.op === "CALL" || step.op === "CALLCODE" ? 4 : 3));
      report.calls.push({ op: step.op, to: target, from: frame.storage, value, calldataSize });
      if (isAddressEqual(target, ENTRY_POINT_ADDRESS) && (step.op !== "CALL" || value === 0n || calldataSize !== 0n)) {
        report.findings.push({ rule: "EntryPoint access other than the prefund [OP-054]", ...where });
      }
      if (value !== 0n) report.valueCalls.push({ to: target, value, from: frame.storage });
      if (!(await hasCode(target)) && !isPrecompile(target) && !isAddressEqual(target, ENTRY_POINT_ADDRESS)) {
        report.findings.push({ rule: "call into an address without code [OP-041]", ...where, detail: target });
      }
      const entered = i + 1 < window.end && logs[i + 1].depth === step.depth + 1;
      if (entered) {
        const delegated = step.op === "DELEGATECALL" || step.op === "CALLCODE";
        frames.push({
          code: target,
          storage: delegated ? frame.storage : target,
          entryPoint: isAddressEqual(target, ENTRY_POINT_ADDRESS),
        });
      }
    }
  }
  return report;
}

function expectCompliant(report: Report) {
  expect(report.findings, JSON.stringify(report.findings, null, 2)).to.deep.equal([]);
  // not vacuous: the window is validateUserOp's, which reads the account's storage and checks a signature
  expect(report.steps).to.be.greaterThan(500);
  expect(report.storageAccesses.some((a) => a.op === "SLOAD")).to.equal(true);
  // the GAS rule was exercised (the proxy forwards gas() to its DELEGATECALL, ECDSA to ecrecover's STATICCALL)
  expect(report.opcodes.has("GAS")).to.equal(true);
  const ecrecover = report.calls.filter((c) => c.op === "STATICCALL" && BigInt(c.to) === 1n);
  expect(ecrecover.length, "one ecrecover per validation").to.equal(1);
}

describe("ERC-7562: the account's validation, traced opcode by opcode", function () {
  async function stopline() {
    const conn = await network.create();
    return deployStopline(conn);
  }

  /** Empties the account's EntryPoint deposit (owner batch: EntryPoint.withdrawTo), so validation must pay a prefund. */
  async function withdrawDeposit(s: Stopline) {
    const amount = await s.deposit();
    const executionData = encodeAbiParameters(
      [
        {
          type: "tuple[]",
          components: [
            { name: "target", type: "address" },
            { name: "value", type: "uint256" },
            { name: "callData", type: "bytes" },
          ],
        },
      ],
      [
        [
          {
            target: ENTRY_POINT_ADDRESS,
            value: 0n,
            callData: encodeFunctionData({
              abi: ENTRY_POINT_ABI,
              functionName: "withdrawTo",
              args: [s.accountAddress, amount],
            }),
          },
        ],
      ],
    );
    await s.account.write.execute([BATCH_MODE, executionData]);
    expect(await s.deposit()).to.equal(0n);
  }

  async function bundleAndCheck(s: Stopline, op: PackedUserOperation) {
    const receipt = await s.handleOps([op]);
    expect(receipt.status).to.equal("success");
    const trace = await traceTransaction(s, receipt.transactionHash);
    expect(trace.failed).to.equal(false);
    return checkValidationRules(s, trace, accountCallWindow(trace, s.accountAddress));
  }

  it("validates an agent's payment op with no banned opcode, only its own storage, and no value call", async function () {
    const s = await stopline();
    const op = await s.agentOp([s.transfer(s.addr.merchantA, USDC(10))]);
    const report = await bundleAndCheck(s, op);
    expectCompliant(report);
    // the gas charge and the validated key are written to the account's own storage (persistent and transient)
    expect(report.storageAccesses.some((a) => a.op === "SSTORE")).to.equal(true);
    expect(report.storageAccesses.some((a) => a.op === "TSTORE")).to.equal(true);
    expect(report.valueCalls).to.deep.equal([]);
    expect(await s.usdc.read.balanceOf([s.addr.merchantA])).to.equal(USDC(10));
  });

  it("validates an agent's batch of transfers and an approval under the same rules", async function () {
    const s = await stopline();
    const op = await s.agentOp([
      s.transfer(s.addr.merchantA, USDC(5)),
      s.approve(s.addr.merchantB, USDC(7)),
      s.transfer(s.addr.merchantB, USDC(3)),
    ]);
    expectCompliant(await bundleAndCheck(s, op));
  });

  it("sends value in an agent op's validation only as the prefund, to the EntryPoint, exactly the missing funds", async function () {
    const s = await stopline();
    await withdrawDeposit(s);
    const op = await s.agentOp([s.transfer(s.addr.merchantA, USDC(10))]);
    const report = await bundleAndCheck(s, op);
    expectCompliant(report);
    expect(report.valueCalls).to.deep.equal([{ to: ENTRY_POINT_ADDRESS, value: maxCost(op), from: s.accountAddress }]);
  });

  it("validates an owner op (an ERC-7821 batch) with no banned opcode, only its own storage, and no value call", async function () {
    const s = await stopline();
    const callData = encodeFunctionData({
      abi: s.account.abi,
      functionName: "execute",
      args: [
        BATCH_MODE,
        encodeAbiParameters(
          [
            {
              type: "tuple[]",
              components: [
                { name: "target", type: "address" },
                { name: "value", type: "uint256" },
                { name: "callData", type: "bytes" },
              ],
            },
          ],
          [[s.transfer(s.addr.stranger, USDC(1))]],
        ),
      ],
    });
    const report = await bundleAndCheck(s, await s.ownerOp(callData));
    expectCompliant(report);
    expect(report.valueCalls).to.deep.equal([]);
    expect(await s.usdc.read.balanceOf([s.addr.stranger])).to.equal(USDC(1));
  });

  it("sends value in an owner op's validation only as the prefund, to the EntryPoint, exactly the missing funds", async function () {
    const s = await stopline();
    await withdrawDeposit(s);
    const callData = encodeFunctionData({ abi: s.account.abi, functionName: "setGuardian", args: [s.addr.guardian] });
    const op = await s.ownerOp(callData);
    const report = await bundleAndCheck(s, op);
    expectCompliant(report);
    expect(report.valueCalls).to.deep.equal([{ to: ENTRY_POINT_ADDRESS, value: maxCost(op), from: s.accountAddress }]);
    expect(isAddressEqual(await s.account.read.guardian(), s.addr.guardian)).to.equal(true);
  });

  it("keeps to the rules when a bundler simulates an agent op with a stub signature (debug_traceCall)", async function () {
    const s = await stopline();
    const op = await s.agentOp([s.transfer(s.addr.merchantA, USDC(10))]);
    // a well-formed 65-byte signature by a key that is not the agent's: the full path, then SIG_VALIDATION_FAILED
    const stub = await s.sign({ ...op, signature: "0x" }, ROLES.stranger);
    const trace = (await s.publicClient.request({
      method: "debug_traceCall",
      params: [
        {
          from: s.addr.bundler,
          to: ENTRY_POINT_ADDRESS,
          gas: "0x989680",
          data: encodeFunctionData({ abi: ENTRY_POINT_ABI, functionName: "handleOps", args: [[stub], s.addr.bundler] }),
        },
        "latest",
        { disableStorage: false, disableStack: false, enableMemory: false },
      ],
    } as never)) as Trace;
    expect(trace.failed, "handleOps rejects the op (AA24 signature error)").to.equal(true);
    const report = await checkValidationRules(s, trace, accountCallWindow(trace, s.accountAddress));
    expectCompliant(report);
    // the stub path did the same work as a real one: it charged the gas budget and recorded the key
    expect(report.storageAccesses.some((a) => a.op === "SSTORE")).to.equal(true);
    expect(report.storageAccesses.some((a) => a.op === "TSTORE")).to.equal(true);
  });

  it("is not blind: the same checks flag the op's execution, which reads the clock and the token's storage", async function () {
    const s = await stopline();
    const op = await s.agentOp([s.transfer(s.addr.merchantA, USDC(10))]);
    const receipt = await s.handleOps([op]);
    const trace = await traceTransaction(s, receipt.transactionHash);
    const executeAsAgent = toFunctionSelector(
      s.account.abi.find((f) => f.type === "function" && f.name === "executeAsAgent")!,
    );
    const report = await checkValidationRules(s, trace, accountCallWindow(trace, s.accountAddress, 2, executeAsAgent));
    const rules = report.findings.map((f) => `${f.rule} ${f.op} in ${f.code}`);
    expect(rules).to.include("banned opcode [OP-011] TIMESTAMP in AgentAccount implementation");
    expect(rules).to.include(`storage outside the account [STO-010] SSTORE in ${getAddress(s.usdc.address)}`);
  });
});
