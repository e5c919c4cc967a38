// `npm run coverage` runs Hardhat with this file (`--config hardhat.coverage.config.ts --coverage`): the project's
// config with the instrumented build written under coverage/ instead of artifacts/ and cache/, so a coverage run never
// leaves instrumented (larger, costlier) bytecode where `npm run bench`, the deploy scripts or the next test run read it.
import { defineConfig } from "hardhat/config";

import config from "./hardhat.config.js";

export default defineConfig({
  ...config,
  paths: { ...config.paths, artifacts: "coverage/artifacts", cache: "coverage/cache" },
  // Test helpers (mocks, harnesses, the Solidity tests' tokens) are not product code: not instrumented, not reported.
  coverage: { skipFiles: ["contracts/test/**"] },
});
