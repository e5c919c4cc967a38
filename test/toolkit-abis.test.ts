// The toolkit's ABIs are generated from the build (scripts/gen-abis.ts) and committed: this fails when the committed
// copy is stale, and when the interface gains an error the decoder does not know.
import { readFileSync } from "node:fs";

import { expect } from "chai";
import { getAddress } from "viem";

import { GENERATED_FILE, renderAbis } from "../scripts/gen-abis.js";
import {
  ENTRY_POINT_V08_ADDRESS,
  GuardrailViolationError,
  PERMIT2_ADDRESS,
  agentAccountAbi,
  toGuardrailError,
} from "../src/index.js";
import { STOPLINE_ERRORS } from "../src/errors/decode.js";
import { ENTRY_POINT_ADDRESS, PERMIT2 } from "./helpers/stopline.js";

describe("toolkit: generated ABIs", function () {
  it("are what scripts/gen-abis.ts renders from the current build (run `npm run gen:abis` if not)", async function () {
    expect(readFileSync(GENERATED_FILE, "utf8")).to.equal(await renderAbis());
  });

  it("pin the canonical EntryPoint v0.8 and Permit2 addresses", function () {
    expect(ENTRY_POINT_V08_ADDRESS).to.equal(ENTRY_POINT_ADDRESS);
    expect(PERMIT2_ADDRESS).to.equal(PERMIT2);
    expect(getAddress(ENTRY_POINT_V08_ADDRESS)).to.equal(ENTRY_POINT_V08_ADDRESS);
  });

  it("cover every error of IAgentGuardrails, each with its own error class", function () {
    const artifact = JSON.parse(
      readFileSync("artifacts/contracts/interfaces/IAgentGuardrails.sol/IAgentGuardrails.json", "utf8"),
    ) as { abi: { type: string; name: string }[] };
    const declared = artifact.abi.filter((x) => x.type === "error").map((x) => x.name);
    expect([...STOPLINE_ERRORS].sort()).to.deep.equal([...declared].sort());
    for (const name of declared) {
      expect(
        agentAccountAbi.some((x) => x.type === "error" && x.name === name),
        name,
      ).to.equal(true);
      const e = toGuardrailError({ name, message: "m" });
      expect(e.name, name).to.equal(`${name}Error`);
      expect(e).to.be.instanceOf(GuardrailViolationError);
    }
  });
});
