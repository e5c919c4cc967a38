// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAgentGuardrails} from "../interfaces/IAgentGuardrails.sol";
import {AgentStorage} from "./AgentStorage.sol";

/// @title GasBudget
/// @notice Gas is spending: validation charges a UserOperation's maximum cost (the EntryPoint's required prefund) to the
///         agent's lifetime gas budget, in wei. The charge is final (SPEC section 3, the Sodium class in THREATS).
library GasBudget {
    function remaining(AgentStorage.Agent storage a) internal view returns (uint256) {
        uint128 budget = a.gasBudget;
        if (budget == AgentStorage.UNLIMITED) return type(uint256).max;
        uint128 charged = a.gasCharged;
        unchecked {
            return charged >= budget ? 0 : budget - charged;
        }
    }

    /// @notice Charges `required` wei or reverts with GasBudgetExceeded (validation may revert: the EntryPoint reports it
    ///         as FailedOpWithRevert and the account pays nothing).
    function charge(AgentStorage.Agent storage a, bytes32 agentId, uint256 required) internal {
        uint256 slot;
        uint256 w;
        uint256 gasSlot = AgentStorage.AGENT_GAS_SLOT;
        assembly ("memory-safe") {
            // gasCharged (low 128 bits) and gasBudget (high 128 bits): one read, one write
            slot := add(a.slot, gasSlot)
            w := sload(slot)
        }
        uint128 charged = uint128(w);
        uint128 budget = uint128(w >> 128);
        uint256 left;
        if (budget == AgentStorage.UNLIMITED) {
            left = type(uint256).max;
        } else {
            unchecked {
                // budget > charged in the subtraction
                left = charged >= budget ? 0 : budget - charged;
            }
        }
        if (required > left) revert IAgentGuardrails.GasBudgetExceeded(agentId, required, left);
        uint256 newCharged = AgentStorage.addSaturating(charged, required);
        uint256 after_;
        unchecked {
            // required <= left; left is max for an unlimited budget
            after_ = left == type(uint256).max ? left : left - required;
        }
        bytes32 topic = IAgentGuardrails.AgentGasCharged.selector;
        assembly ("memory-safe") {
            // gasBudget (high half) kept, gasCharged (low half) replaced; newCharged <= MAX_COUNT fits 128 bits
            sstore(slot, or(and(w, not(0xffffffffffffffffffffffffffffffff)), newCharged))
            // emit AgentGasCharged(agentId, required, after_), encoded past the free memory pointer
            let m := mload(0x40)
            mstore(m, required)
            mstore(add(m, 0x20), after_)
            log2(m, 0x40, topic, agentId)
        }
    }
}
