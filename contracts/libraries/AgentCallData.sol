// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Execution} from "@openzeppelin/contracts/interfaces/draft-IERC7579.sol";
import {IAgentGuardrails} from "../interfaces/IAgentGuardrails.sol";

/// @title AgentCallData
/// @notice Reads the arguments of `executeAsAgent(bytes32 agentId, Execution[] calls)` out of a UserOperation's
///         callData exactly as Solidity's ABI decoder reads them when the EntryPoint later calls the account with the
///         same bytes: the array's offset is taken from the head, its length word and element offsets must lie inside
///         the data (checked here for the array, and by Solidity's calldata accessors for each element), so
///         validation and execution see the same calls (THREATS class 5).
library AgentCallData {
    /// @param data the callData, selector included
    function decode(bytes calldata data) internal pure returns (bytes32 agentId, Execution[] calldata calls) {
        // selector (4) + agentId (32) + offset (32)
        if (data.length < 68) revert IAgentGuardrails.MalformedAgentCallData();
        uint256 offset;
        assembly ("memory-safe") {
            agentId := calldataload(add(data.offset, 4))
            offset := calldataload(add(data.offset, 36))
        }
        uint256 argsLength = data.length - 4;
        // the length word must fit, then `length` element offsets after it
        if (offset > argsLength || argsLength - offset < 32) revert IAgentGuardrails.MalformedAgentCallData();
        uint256 length;
        assembly ("memory-safe") {
            length := calldataload(add(add(data.offset, 4), offset))
        }
        if (length > (argsLength - offset - 32) / 32) revert IAgentGuardrails.MalformedAgentCallData();
        assembly ("memory-safe") {
            calls.offset := add(add(add(data.offset, 4), offset), 32)
            calls.length := length
        }
    }
}
