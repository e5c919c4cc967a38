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
        uint256 left = remaining(a);
        if (required > left) revert IAgentGuardrails.GasBudgetExceeded(agentId, required, left);
        a.gasCharged = AgentStorage.addSaturating(a.gasCharged, required);
        unchecked {
            // required <= left; left is max for an unlimited budget
            emit IAgentGuardrails.AgentGasCharged(
                agentId,
                required,
                left == type(uint256).max ? left : left - required
            );
        }
    }
}
