import { createRequire } from "node:module";

import hardhatEthers from "@nomicfoundation/hardhat-ethers";
import hardhatIgnitionViem from "@nomicfoundation/hardhat-ignition-viem";
import hardhatKeystore from "@nomicfoundation/hardhat-keystore";
import hardhatMocha from "@nomicfoundation/hardhat-mocha";
import hardhatNetworkHelpers from "@nomicfoundation/hardhat-network-helpers";
import hardhatTypechain from "@nomicfoundation/hardhat-typechain";
import hardhatViem from "@nomicfoundation/hardhat-viem";
import hardhatViemAssertions from "@nomicfoundation/hardhat-viem-assertions";
import { configVariable, defineConfig } from "hardhat/config";

const require = createRequire(import.meta.url);

// The solc version is pinned twice on purpose: here and as the exact version of the `solc` npm package,
// whose WebAssembly build Hardhat runs (nothing is downloaded).
const SOLC_VERSION = "0.8.30";
const SOLC = {
  version: SOLC_VERSION,
  path: require.resolve("solc/soljson.js"),
  settings: {
    evmVersion: "prague",
    optimizer: { enabled: true, runs: 1000 },
    viaIR: true,
    // No metadata hash in the bytecode: the deployed code (and so every create2 address) then depends only on the code,
    // not on comments or on which other files shared the compilation job (the production profile builds each file alone).
    metadata: { bytecodeHash: "none" },
  },
};

export default defineConfig({
  plugins: [
    hardhatViem,
    hardhatViemAssertions,
    hardhatMocha,
    hardhatNetworkHelpers,
    hardhatEthers,
    hardhatTypechain,
    hardhatIgnitionViem,
    hardhatKeystore,
  ],
  solidity: {
    // `hardhat ignition deploy` builds with the "production" profile, which does not inherit the default profile's
    // settings: both are spelled out the same so that what is deployed is byte for byte what the tests ran.
    profiles: { default: SOLC, production: SOLC },
  },
  paths: {
    ignition: "deploy",
  },
  ignition: {
    // create2 deployments (`--strategy create2`) go through CreateX with this salt: a zero-address prefix and a 0x00 flag
    // byte (no sender or chain protection, so the address is the same on every chain), then "stopline-v1" in ASCII.
    strategyConfig: { create2: { salt: "0x00000000000000000000000000000000000000000073746f706c696e652d7631" } },
  },
  test: {
    solidity: {
      // The CI profile by default (256 fuzz runs, 256 invariant runs of 32 calls); `npm run test:deep` raises all
      // three through the environment (see docs/auditing.md)
      fuzz: { runs: Number(process.env.STOPLINE_FUZZ_RUNS ?? 256) },
      invariant: {
        runs: Number(process.env.STOPLINE_INVARIANT_RUNS ?? 256),
        depth: Number(process.env.STOPLINE_INVARIANT_DEPTH ?? 32),
      },
    },
  },
  typechain: {
    outDir: "types/ethers",
  },
  networks: {
    hardhatMainnet: { type: "edr-simulated", chainType: "l1", hardfork: "prague" },
    localhost: { type: "http", url: "http://127.0.0.1:8545" },
    // `npm run demo -- --rpc-url <url>`: scripts/demo.mjs sets STOPLINE_DEMO_RPC_URL and runs the demo on this network,
    // with the node's own unlocked accounts (anvil, `npx hardhat node`).
    demo: { type: "http", url: configVariable("STOPLINE_DEMO_RPC_URL") },
    custom: {
      type: "http",
      url: configVariable("STOPLINE_RPC_URL"),
      accounts: [configVariable("STOPLINE_DEPLOYER_KEY")],
    },
  },
});
