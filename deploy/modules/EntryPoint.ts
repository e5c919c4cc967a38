// Local chains only: puts ERC-4337 EntryPoint v0.8 at its canonical address, exactly the way it got there on public chains
// (the @account-abstraction/contracts@0.8.0 creation code sent through the deterministic deployer with the canonical salt).
//
// The deterministic deployer (0x4e59b448..., Arachnid's CREATE2 proxy) must already have code: anvil predeploys it; on a
// Hardhat node, set it first (docs/deploying.md shows the hardhat_setCode call). Without it, the module fails at its
// EntryPointHasCode check. On a chain where the EntryPoint already exists (every public chain), the deployer's CREATE2
// collides and reverts, so the module fails at gas estimation and sends nothing: it is never needed there and cannot do harm.
import { createRequire } from "node:module";

import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import type { Abi, Hex } from "viem";

const require = createRequire(import.meta.url);

type LinkReferences = Record<string, Record<string, { start: number; length: number }[]>>;
type HardhatArtifact = {
  _format: string;
  contractName: string;
  sourceName: string;
  inputSourceName?: string;
  abi: Abi;
  bytecode: Hex;
  deployedBytecode: Hex;
  linkReferences: LinkReferences;
  deployedLinkReferences: LinkReferences;
  immutableReferences?: Record<string, { start: number; length: number }[]>;
};

const packageArtifact = require("@account-abstraction/contracts/artifacts/EntryPoint.json") as HardhatArtifact;
/**
 * The package's artifact (ABI and creation code of EntryPoint v0.8), relabelled in the Hardhat 3 artifact format: Ignition
 * stores it in the deployment folder, and `hardhat ignition deploy` refuses a folder holding a Hardhat 2 artifact.
 */
export const entryPointArtifact: HardhatArtifact = {
  ...packageArtifact,
  _format: "hh3-artifact-1",
  inputSourceName: packageArtifact.sourceName,
  immutableReferences: {},
};

/** Canonical EntryPoint v0.8 address: CREATE2(deterministic deployer, ENTRY_POINT_SALT, the package's creation code). */
export const ENTRY_POINT_ADDRESS = "0x4337084D9E255Ff0702461CF8895CE9E3b5Ff108";
/** Arachnid's deterministic deployment proxy: calldata = salt (32 bytes) ++ creation code. */
export const DETERMINISTIC_DEPLOYER = "0x4e59b44847b379578588920ca78fbf26c0b4956c";
/** The salt EntryPoint v0.8 was deployed with on every public chain. */
export const ENTRY_POINT_SALT = "0x0a59dbff790c23c976a548690c27297883cc66b4c67024f9117b0238995e35e9";
/** Any address: the modules call EntryPoint.getNonce(DEAD_ACCOUNT, 0) to prove that the EntryPoint has code. */
export const DEAD_ACCOUNT = "0x000000000000000000000000000000000000dEaD";

export default buildModule("EntryPoint", (m) => {
  const create = m.send(
    "DeployEntryPointV08",
    DETERMINISTIC_DEPLOYER,
    0n,
    ENTRY_POINT_SALT + entryPointArtifact.bytecode.slice(2),
  );
  const entryPoint = m.contractAt("EntryPoint", entryPointArtifact, ENTRY_POINT_ADDRESS, { after: [create] });
  // Without the deterministic deployer the send above is a plain transfer that succeeds and creates nothing: fail here
  // (getNonce on an address without code returns no data) rather than report an EntryPoint that is not there.
  m.staticCall(entryPoint, "getNonce", [DEAD_ACCOUNT, 0n], 0, { id: "EntryPointHasCode" });
  return { entryPoint };
});
