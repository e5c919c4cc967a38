// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAgentGuardrails} from "../interfaces/IAgentGuardrails.sol";
import {AgentStorage} from "./AgentStorage.sol";

/// @title CallLimit
/// @notice At most `maxCallsPerPeriod` calls per period (each call of a batch counts). Unlimited agents are not counted,
///         so an update that introduces a limit starts counting from the update (SPEC section 2).
library CallLimit {
    uint32 internal constant UNLIMITED = type(uint32).max;

    /// @return violation empty when `n` more calls fit in the period ending at `end`
    /// @return newCount the period's count after these calls (meaningless when limited == false)
    function check(
        AgentStorage.Agent storage a,
        bytes32 agentId,
        uint256 n,
        uint256 end
    ) internal view returns (bytes memory violation, uint256 newCount) {
        uint256 limit = a.maxCallsPerPeriod;
        if (limit == UNLIMITED) return ("", 0);
        uint256 used = a.callsPeriodEnd == end ? a.callsInPeriod : 0;
        newCount = used + n;
        if (newCount > limit)
            violation = abi.encodeWithSelector(IAgentGuardrails.CallLimitExceeded.selector, agentId, limit, end);
    }

    function consume(AgentStorage.Agent storage a, uint256 newCount, uint256 end) internal {
        // newCount <= limit < 2^32; end fits 48 bits until year 8.9 million
        a.callsInPeriod = uint32(newCount);
        a.callsPeriodEnd = uint48(end);
    }
}
