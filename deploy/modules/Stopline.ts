// The Stopline implementation (AgentAccount, which deploys its AgentAdmin in its constructor) and the account factory.
//
// Deploy with `--strategy create2`: every contract then goes through the CreateX factory with the salt set in
// hardhat.config.ts (`ignition.strategyConfig.create2.salt`), so its address is a function of the salt and the creation code
// only: the same compiled contracts and the same `entryPoint` parameter give the same implementation and factory addresses on
// every chain. See docs/deploying.md.
import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

import { DEAD_ACCOUNT, entryPointArtifact } from "./EntryPoint.js";

export default buildModule("Stopline", (m) => {
  // Required, no default: the EntryPoint is baked into the implementation's code (an immutable), so it must be chosen
  // deliberately per network (deploy/parameters/<network>.json).
  const entryPointAddress = m.getParameter<string>("entryPoint");

  // Refuse to deploy against an address without an EntryPoint: getNonce on an address without code returns no data and
  // Ignition stops before sending the first deployment.
  const entryPoint = m.contractAt("EntryPoint", entryPointArtifact, entryPointAddress);
  const entryPointCheck = m.staticCall(entryPoint, "getNonce", [DEAD_ACCOUNT, 0n], 0, { id: "EntryPointHasCode" });

  const implementation = m.contract("AgentAccount", [entryPointAddress], { after: [entryPointCheck] });
  const factory = m.contract("AgentAccountFactory", [implementation]);
  return { implementation, factory };
});
