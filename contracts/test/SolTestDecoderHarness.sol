// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Execution} from "@openzeppelin/contracts/interfaces/draft-IERC7579.sol";
import {AgentPolicy} from "../interfaces/IAgentGuardrails.sol";
import {AgentStorage} from "../libraries/AgentStorage.sol";
import {CallDecoder} from "../libraries/CallDecoder.sol";
import {PolicyRules} from "../libraries/PolicyRules.sol";

/// @title SolTestDecoderHarness
/// @notice Test-only: exposes CallDecoder over one agent kept in this contract's own storage (the same ERC-7201
///         namespace the account uses), so that a fuzz test can compare its classification with SPEC section 3's table.
///         This contract plays the account: `address(this)` is what the decoder refuses as "the account itself".
contract SolTestDecoderHarness {
    /// @notice The agent every call is decoded for.
    bytes32 public constant AGENT_ID = bytes32(uint256(1));
    /// @notice Stands in for the EntryPoint (any address the decoder must refuse as a target).
    address public immutable entryPoint;

    constructor(address entryPoint_) {
        entryPoint = entryPoint_;
    }

    /// @notice Grants the harness's agent `policy` (validated exactly as a real grant).
    function configure(AgentPolicy calldata policy) external {
        PolicyRules.validate(policy, address(this), entryPoint);
        PolicyRules.store(AgentStorage.layout().agents[AGENT_ID], policy, true);
    }

    /// @notice CallDecoder.decode for one call of the agent's batch (what validation and `checkAgentCalls` read).
    function decode(
        address target,
        uint256 value,
        bytes calldata data
    ) external view returns (bytes memory violation, CallDecoder.Payment memory p) {
        return CallDecoder.decode(AgentStorage.layout().agents[AGENT_ID], AGENT_ID, target, value, data, entryPoint);
    }

    /// @notice CallDecoder.paymentOf: what execution re-reads from a call that passed `decode`.
    function paymentOf(
        address target,
        uint256 value,
        bytes calldata data
    ) external view returns (CallDecoder.Payment memory) {
        return CallDecoder.paymentOf(AgentStorage.layout().agents[AGENT_ID], target, value, data);
    }

    /// @notice CallDecoder.selectorOf of the first `len` bytes of `data`: the calldata right after the slice holds the
    ///         rest of `data`, so a decoder reading past the end of short calldata would pick those bytes up.
    function selectorOfPrefix(bytes calldata data, uint256 len) external pure returns (bytes4) {
        return CallDecoder.selectorOf(data[:len]);
    }

    /// @notice Every call of `calls` as Solidity's own calldata accessors read it (`calls[i].target`, `.value`,
    ///         `.callData`): the reference CallDecoder.read must match, reverts included.
    function readWithSolidity(
        Execution[] calldata calls
    ) external pure returns (address[] memory targets, uint256[] memory values, bytes[] memory data) {
        (targets, values, data) = (new address[](calls.length), new uint256[](calls.length), new bytes[](calls.length));
        for (uint256 i; i < calls.length; ++i) {
            Execution calldata c = calls[i];
            (targets[i], values[i], data[i]) = (c.target, c.value, c.callData);
        }
    }

    /// @notice Every call of `calls` as CallDecoder.read reads it into an entry (what the account executes).
    function readWithDecoder(
        Execution[] calldata calls
    ) external pure returns (address[] memory targets, uint256[] memory values, bytes[] memory data) {
        (targets, values, data) = (new address[](calls.length), new uint256[](calls.length), new bytes[](calls.length));
        uint256 e;
        assembly ("memory-safe") {
            e := mload(0x40)
            mstore(0x40, add(e, 0x120))
        }
        for (uint256 i; i < calls.length; ++i) {
            CallDecoder.read(calls, i, e);
            (targets[i], values[i], data[i]) = CallDecoder.callOf(e);
        }
    }
}
