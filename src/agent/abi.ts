// The agent module's ABIs come from the generated set (never hand-copied).
export { agentAccountAbi, entryPointV08Abi, ENTRY_POINT_V08_ADDRESS } from "../abis/index.js";
