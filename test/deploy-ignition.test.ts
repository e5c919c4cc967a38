// Deploys Stopline with the Ignition modules in deploy/ to a real local node started for this test (anvil when the
// @foundry-rs/anvil package is installed, else `hardhat node`), through the `custom` network of hardhat.config.ts (its URL
// and deployer key come from STOPLINE_RPC_URL / STOPLINE_DEPLOYER_KEY, set here to the node and to its first test key), then
// creates an account through the deployed factory. A second, in-process chain with another chain id shows that the factory
// lands at the same address there. The modules' guards (EntryPoint must have code, parameter required) run in process.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, realpathSync, rmSync, rmdirSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";

import { expect } from "chai";
import hre, { network } from "hardhat";
import type { NetworkConnection } from "hardhat/types/network";
import {
  type Address,
  type Hex,
  concat,
  decodeEventLog,
  encodeAbiParameters,
  getAddress,
  getContractAddress,
  keccak256,
  toHex,
} from "viem";

import EntryPointModule, { DETERMINISTIC_DEPLOYER, ENTRY_POINT_ADDRESS } from "../deploy/modules/EntryPoint.js";
import StoplineModule from "../deploy/modules/Stopline.js";
import { ROLES, hdKey } from "./helpers/stopline.js";

/** The create2 salt of hardhat.config.ts, pinned here too: changing it moves the factory on every future chain. */
const STOPLINE_SALT = "0x00000000000000000000000000000000000000000073746f706c696e652d7631";
/** CreateX v0.1.0, the factory behind Ignition's create2 strategy (same address on every chain that has it). */
const CREATEX = getAddress("0xba5Ed099633D3B313e4D5F7bdc1305d3c28ba5Ed");
/** Runtime code of the deterministic deployer (what anvil predeploys; a Hardhat node needs it set). */
const DETERMINISTIC_DEPLOYER_CODE: Hex =
  "0x7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe03601600081602082378035828234f58015156039578182fd5b8082525050506014600cf3";
const ERC1967_IMPLEMENTATION_SLOT = "0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc";

const root = hre.config.paths.root;
const parametersFile = (name: string) => path.join(root, "deploy", "parameters", `${name}.json`);

/**
 * The address CreateX gives `initCode` for a salt whose first 20 bytes are zero and whose 21st byte is 0x00: no sender or
 * chain in the guarded salt (CreateX's `_guard` hashes it alone), so the result is the same on every chain.
 */
function predictCreateX(salt: Hex, initCode: Hex): Address {
  const guardedSalt = keccak256(encodeAbiParameters([{ type: "bytes32" }], [salt]));
  return getContractAddress({ opcode: "CREATE2", from: CREATEX, salt: guardedSalt, bytecode: initCode });
}

async function creationCode(contractName: string, args: { type: string }[], values: unknown[]): Promise<Hex> {
  const artifact = await hre.artifacts.readArtifact(contractName);
  return concat([artifact.bytecode as Hex, encodeAbiParameters(args, values)]);
}

// ---------------------------------------------------------------- a real local node for the test

type LocalNode = { url: string; kind: "anvil" | "hardhat node"; stop: () => Promise<void> };

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject()));
    });
  });
}

async function rpc(url: string, method: string, params: unknown[] = []): Promise<unknown> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = (await response.json()) as { result?: unknown; error?: { message: string } };
  if (body.error !== undefined) throw new Error(`${method}: ${body.error.message}`);
  return body.result;
}

/** Starts anvil (from node_modules) or `hardhat node` on a free 127.0.0.1 port, in its own process group. */
async function startLocalNode(): Promise<LocalNode> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const anvil = path.join(root, "node_modules", ".bin", "anvil");
  const [kind, command, args]: [LocalNode["kind"], string, string[]] = existsSync(anvil)
    ? ["anvil", anvil, ["--host", "127.0.0.1", "--port", String(port)]]
    : [
        "hardhat node",
        process.execPath, // this test's Node (24): the machine's default Node cannot run Hardhat 3
        [realpathSync(path.join(root, "node_modules", ".bin", "hardhat")), "node", "--hostname", "127.0.0.1"].concat([
          "--port",
          String(port),
        ]),
      ];
  const child: ChildProcess = spawn(command, args, { cwd: root, detached: true, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4_000)));
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once("exit", () => {
      exited = true;
      resolve();
    }),
  );

  /** Signals the node's own process group (the node and its children, nothing else); ignores one already gone. */
  const signal = (name: NodeJS.Signals) => {
    try {
      if (!exited && child.pid !== undefined) process.kill(-child.pid, name);
    } catch {
      // already exited
    }
  };
  const killOnExit = () => signal("SIGKILL"); // if mocha is interrupted before the after hook runs
  process.once("exit", killOnExit);
  const stop = async () => {
    process.off("exit", killOnExit);
    signal("SIGTERM");
    const timeout = setTimeout(() => signal("SIGKILL"), 5_000);
    await exit;
    clearTimeout(timeout);
  };

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) throw new Error(`${kind} exited before answering on ${url}:\n${stderr}`);
    try {
      await rpc(url, "eth_chainId");
      return { url, kind, stop };
    } catch {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`${kind} did not answer on ${url} within 30 s:\n${stderr}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
  }
}

// ---------------------------------------------------------------- the tests

describe("Ignition deployment (deploy/)", function () {
  this.timeout(60_000);

  describe("to a real local node through the `custom` network", function () {
    const deploymentId = `stopline-test-${process.pid}-${Date.now()}`;
    const savedEnv = { url: process.env.STOPLINE_RPC_URL, key: process.env.STOPLINE_DEPLOYER_KEY };
    let node: LocalNode | undefined;
    let conn: NetworkConnection;
    const deployed: { implementation?: Address; factory?: Address } = {};

    before(async function () {
      node = await startLocalNode();
      // Environment variables take precedence over the Hardhat keystore, so the test never reads a stored RPC URL or key.
      process.env.STOPLINE_RPC_URL = node.url;
      process.env.STOPLINE_DEPLOYER_KEY = toHex(hdKey(ROLES.deployer).getHdKey().privateKey!);
      conn = await network.create({ network: "custom" });
    });

    after(async function () {
      await node?.stop();
      if (savedEnv.url === undefined) delete process.env.STOPLINE_RPC_URL;
      else process.env.STOPLINE_RPC_URL = savedEnv.url;
      if (savedEnv.key === undefined) delete process.env.STOPLINE_DEPLOYER_KEY;
      else process.env.STOPLINE_DEPLOYER_KEY = savedEnv.key;
      const deployments = path.join(hre.config.paths.ignition, "deployments");
      rmSync(path.join(deployments, deploymentId), { recursive: true, force: true });
      if (existsSync(deployments) && readdirSync(deployments).length === 0) rmdirSync(deployments);
    });

    it("signs with the STOPLINE_DEPLOYER_KEY account, locally", async function () {
      const wallets = await conn.viem.getWalletClients();
      expect(wallets.map((w) => getAddress(w.account.address))).to.deep.equal([hdKey(ROLES.deployer).address]);
      expect(await (await conn.viem.getPublicClient()).getChainId()).to.equal(31337);
    });

    it("puts EntryPoint v0.8 at its canonical address through the deterministic deployer", async function () {
      const publicClient = await conn.viem.getPublicClient();
      if ((await publicClient.getCode({ address: DETERMINISTIC_DEPLOYER })) === undefined) {
        expect(node!.kind).to.equal("hardhat node"); // anvil predeploys it
        await rpc(node!.url, "hardhat_setCode", [DETERMINISTIC_DEPLOYER, DETERMINISTIC_DEPLOYER_CODE]);
      }
      expect(await publicClient.getCode({ address: ENTRY_POINT_ADDRESS })).to.equal(undefined);

      const { entryPoint } = await conn.ignition.deploy(EntryPointModule, { deploymentId });

      expect(entryPoint.address).to.equal(ENTRY_POINT_ADDRESS);
      expect(await rpc(node!.url, "eth_getCode", [ENTRY_POINT_ADDRESS, "latest"])).to.not.equal("0x"); // on the node
      const [, name, version, chainId, verifyingContract] = (await entryPoint.read.eip712Domain()) as [
        Hex,
        string,
        string,
        bigint,
        Address,
      ];
      expect([name, version, chainId, verifyingContract]).to.deep.equal(["ERC4337", "1", 31337n, ENTRY_POINT_ADDRESS]);
    });

    it("deploys the implementation and the factory with create2 at the addresses predicted from the salt", async function () {
      expect(hre.config.ignition.strategyConfig?.create2?.salt).to.equal(STOPLINE_SALT);
      const implementationAddress = predictCreateX(
        STOPLINE_SALT,
        await creationCode("AgentAccount", [{ type: "address" }], [ENTRY_POINT_ADDRESS]),
      );
      const factoryAddress = predictCreateX(
        STOPLINE_SALT,
        await creationCode("AgentAccountFactory", [{ type: "address" }], [implementationAddress]),
      );

      const { implementation, factory } = await conn.ignition.deploy(StoplineModule, {
        deploymentId,
        strategy: "create2",
        parameters: parametersFile("localhost"),
      });
      Object.assign(deployed, { implementation: implementation.address, factory: factory.address });

      expect(implementation.address).to.equal(implementationAddress);
      expect(factory.address).to.equal(factoryAddress);
      expect(await implementation.read.entryPoint()).to.equal(ENTRY_POINT_ADDRESS);
      expect(await factory.read.implementation()).to.equal(implementationAddress);
    });

    it("creates an account through the deployed factory, owned by the given owner", async function () {
      expect(deployed.factory, "the factory deployment above failed").to.not.equal(undefined);
      const publicClient = await conn.viem.getPublicClient();
      const factory = await conn.viem.getContractAt("AgentAccountFactory", deployed.factory!);
      const owner = hdKey(ROLES.owner).address;
      const accountAddress = await factory.read.getAddress([owner, 7n]);
      expect(await publicClient.getCode({ address: accountAddress })).to.equal(undefined);

      const hash = await factory.write.createAccount([owner, 7n]);
      const receipt = await publicClient.waitForTransactionReceipt({ hash });

      expect(receipt.status).to.equal("success");
      const created = receipt.logs
        .filter((log) => getAddress(log.address) === factory.address)
        .map((log) => decodeEventLog({ abi: factory.abi, data: log.data, topics: log.topics }));
      expect(created).to.deep.equal([
        { eventName: "AccountCreated", args: { account: accountAddress, owner, salt: 7n } },
      ]);
      expect(await rpc(node!.url, "eth_getCode", [accountAddress, "latest"])).to.not.equal("0x"); // on the node
      const account = await conn.viem.getContractAt("AgentAccount", accountAddress);
      expect(await account.read.owner()).to.equal(owner);
      expect(await account.read.entryPoint()).to.equal(ENTRY_POINT_ADDRESS);
      const slot = await publicClient.getStorageAt({ address: accountAddress, slot: ERC1967_IMPLEMENTATION_SLOT });
      expect(getAddress(`0x${slot!.slice(26)}`)).to.equal(deployed.implementation);
    });

    it("gives the implementation and the factory the same addresses on a chain with another chain id", async function () {
      expect(deployed.factory, "the factory deployment above failed").to.not.equal(undefined);
      const other = await network.create({ network: "hardhatMainnet", override: { chainId: 11155111 } });
      const otherClient = await other.viem.getPublicClient();
      expect(await otherClient.getChainId()).to.equal(11155111);
      // Public chains have CreateX and the deterministic deployer already; this in-process chain gets the same code.
      const createXCode = await (await conn.viem.getPublicClient()).getCode({ address: CREATEX });
      await other.networkHelpers.setCode(CREATEX, createXCode!);
      await other.networkHelpers.setCode(DETERMINISTIC_DEPLOYER, DETERMINISTIC_DEPLOYER_CODE);
      await other.ignition.deploy(EntryPointModule);

      const { implementation, factory } = await other.ignition.deploy(StoplineModule, {
        strategy: "create2",
        parameters: parametersFile("sepolia"),
      });

      expect([implementation.address, factory.address]).to.deep.equal([deployed.implementation, deployed.factory]);
      expect(await factory.read.implementation()).to.equal(deployed.implementation);
    });
  });

  describe("module guards (in-process chain)", function () {
    it("refuses to deploy Stopline where the entryPoint parameter has no code, before deploying anything", async function () {
      const conn = await network.create();
      const client = await conn.viem.getPublicClient();
      const implementationAddress = predictCreateX(
        STOPLINE_SALT,
        await creationCode("AgentAccount", [{ type: "address" }], [ENTRY_POINT_ADDRESS]),
      );

      const failure = await conn.ignition
        .deploy(StoplineModule, { strategy: "create2", parameters: parametersFile("localhost") })
        .then(
          () => undefined,
          (error: Error) => error,
        );

      expect(failure?.message).to.match(
        /Stopline#EntryPointHasCode\/1: Static call failed with error: Invalid data returned/,
      );
      expect(await client.getCode({ address: implementationAddress })).to.equal(undefined);
    });

    it("requires the entryPoint parameter: there is no default", async function () {
      const conn = await network.create();
      await conn.networkHelpers.setCode(DETERMINISTIC_DEPLOYER, DETERMINISTIC_DEPLOYER_CODE);
      await conn.ignition.deploy(EntryPointModule);

      const failure = await conn.ignition.deploy(StoplineModule, { strategy: "create2" }).then(
        () => undefined,
        (error: Error) => error,
      );

      expect(failure?.message).to.match(
        /Stopline#AgentAccount: HHE10725: Module parameter 'entryPoint' requires a value but was given none/,
      );
    });

    it("fails the EntryPoint module when the deterministic deployer is missing", async function () {
      const conn = await network.create();
      const failure = await conn.ignition.deploy(EntryPointModule).then(
        () => undefined,
        (error: Error) => error,
      );

      expect(failure?.message).to.match(
        /EntryPoint#EntryPointHasCode\/1: Static call failed with error: Invalid data returned/,
      );
      expect(await (await conn.viem.getPublicClient()).getCode({ address: ENTRY_POINT_ADDRESS })).to.equal(undefined);
    });
  });
});
