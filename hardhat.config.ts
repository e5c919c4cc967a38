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
    version: SOLC_VERSION,
    path: require.resolve("solc/soljson.js"),
    settings: {
      evmVersion: "prague",
      optimizer: { enabled: true, runs: 1000 },
      viaIR: true,
    },
  },
  paths: {
    ignition: "deploy",
  },
  test: {
    solidity: {
      fuzz: { runs: 1000 },
    },
  },
  typechain: {
    outDir: "types/ethers",
  },
  networks: {
    hardhatMainnet: { type: "edr-simulated", chainType: "l1", hardfork: "prague" },
    localhost: { type: "http", url: "http://127.0.0.1:8545" },
    custom: {
      type: "http",
      url: configVariable("STOPLINE_RPC_URL"),
      accounts: [configVariable("STOPLINE_DEPLOYER_KEY")],
    },
  },
});
