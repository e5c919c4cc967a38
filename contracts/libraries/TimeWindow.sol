// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAgentGuardrails} from "../interfaces/IAgentGuardrails.sol";
import {AgentStorage} from "./AgentStorage.sol";

/// @title TimeWindow
/// @notice The clock rules: validity window, weekly active hours, and the fixed-period schedule.
/// @dev Never used in UserOperation validation (ERC-7562 bans TIMESTAMP there): the validity window reaches the
///      EntryPoint through validationData, the rest is enforced at execution.
library TimeWindow {
    /// @notice Hour of the week, UTC, Monday 00:00-00:59 = 0 (1970-01-01 was a Thursday, hence the 72).
    function hourOfWeek(uint256 timestamp) internal pure returns (uint256) {
        return (timestamp / 3600 + 72) % 168;
    }

    /// @notice End (exclusive, unix seconds) of the period containing `t`. Window n is [anchor + n*period,
    ///         anchor + (n+1)*period); any time before `anchor` belongs to a period that ends at `anchor` (this is how an
    ///         update that changes `period` keeps the current period until its end: it re-anchors there).
    function periodEnd(uint256 anchor, uint256 period, uint256 t) internal pure returns (uint256 end) {
        assembly ("memory-safe") {
            end := anchor
            if iszero(lt(t, anchor)) {
                // period > 0 for every granted agent (policy validation); a zero period panics as Solidity's `%` does
                if iszero(period) {
                    mstore(0, 0x4e487b7100000000000000000000000000000000000000000000000000000000) // Panic(uint256)
                    mstore(4, 0x12) // division or modulo by zero
                    revert(0, 0x24)
                }
                // t >= anchor in the subtraction; t - x + period with x < period cannot overflow for 64-bit times and
                // 32-bit periods (the unchecked arithmetic this replaces)
                end := add(sub(t, mod(sub(t, anchor), period)), period)
            }
        }
    }

    function currentPeriodEnd(AgentStorage.Agent storage a) internal view returns (uint256) {
        return periodEnd(a.anchor, a.period, block.timestamp);
    }

    /// @notice Whether now is inside the validity window (inclusive at both ends; unix seconds).
    function isValid(uint256 validAfter, uint256 validUntil) internal view returns (bool) {
        uint256 t = block.timestamp;
        return t >= validAfter && t <= validUntil;
    }

    /// @notice Step 5 of SPEC section 3: the validity window, inclusive at both ends.
    /// @return violation the refusal, empty (unallocated) inside the window
    function checkValidity(
        bytes32 agentId,
        uint256 validAfter,
        uint256 validUntil
    ) internal view returns (bytes memory violation) {
        uint256 t = block.timestamp;
        if (t < validAfter) {
            return abi.encodeWithSelector(IAgentGuardrails.AgentNotYetValid.selector, agentId, validAfter);
        }
        if (t > validUntil) {
            return abi.encodeWithSelector(IAgentGuardrails.AgentExpired.selector, agentId, validUntil);
        }
    }

    /// @notice Step 6: the current hour of the week must be allowed (`anyHour` skips reading the mask).
    function checkActiveHours(
        AgentStorage.Agent storage a,
        bytes32 agentId,
        bool anyHour
    ) internal view returns (bytes memory violation) {
        if (anyHour) return violation;
        uint256 h = hourOfWeek(block.timestamp);
        if ((a.activeHours >> h) & 1 == 0) {
            return abi.encodeWithSelector(IAgentGuardrails.OutsideActiveHours.selector, agentId, h);
        }
    }
}
