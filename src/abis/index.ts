export {
  ENTRY_POINT_V08_ADDRESS,
  PERMIT2_ADDRESS,
  agentAccountAbi,
  agentAccountFactoryAbi,
  entryPointV08Abi,
  testUsdcAbi,
} from "./generated.js";
