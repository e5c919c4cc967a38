// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AgentPolicy} from "../interfaces/IAgentGuardrails.sol";
import {AgentStorage} from "../libraries/AgentStorage.sol";
import {PolicyRules} from "../libraries/PolicyRules.sol";
import {SpendLimits} from "../libraries/SpendLimits.sol";
import {TimeWindow} from "../libraries/TimeWindow.sol";

/// @title SolTestSpendHarness
/// @notice Test-only: one agent in this contract's own storage and the account's spending steps in the account's order
///         (per-payment cap of every payment; then, at the period end read from the first payment's token state, each
///         payment against the period and lifetime caps, committed one by one; all or nothing).
contract SolTestSpendHarness {
    /// @notice One payment of `amount` of `token` (address(0) = ETH).
    struct Pay {
        address token;
        uint256 amount;
    }

    bytes32 public constant AGENT_ID = bytes32(uint256(1));
    address private constant _ENTRY_POINT = address(0xE7E7);
    address private constant _MERCHANT = address(0x3E1);

    function _agent() private view returns (AgentStorage.Agent storage) {
        return AgentStorage.layout().agents[AGENT_ID];
    }

    /// @notice Grants (first call) or updates (later calls) the agent's policy, validated as the account does.
    function configure(AgentPolicy calldata policy) external {
        PolicyRules.validate(policy, address(this), _ENTRY_POINT);
        AgentStorage.Agent storage a = _agent();
        PolicyRules.store(a, policy, a.validUntil == 0);
    }

    /// @notice One batch: returns the refusal (and nothing of the batch is charged) or "" (everything is charged).
    function pay(Pay[] calldata batch) external returns (bytes memory violation) {
        try this.payOrRevert(batch) {
            return "";
        } catch (bytes memory reason) {
            return reason;
        }
    }

    /// @notice The batch itself; reverts with the refusal. Only for `pay`.
    function payOrRevert(Pay[] calldata batch) external {
        require(msg.sender == address(this), "only pay");
        AgentStorage.Agent storage a = _agent();
        for (uint256 i; i < batch.length; ++i) {
            uint256 t0 = AgentStorage.load(AgentStorage.tokenSlot(a, batch[i].token));
            _revertIf(SpendLimits.checkPerPayment(AGENT_ID, batch[i].token, t0, batch[i].amount));
        }
        if (batch.length == 0) return;
        AgentStorage.TokenState storage first = a.token[batch[0].token];
        uint256 end = TimeWindow.periodEnd(first.anchor, first.period, block.timestamp);
        for (uint256 i; i < batch.length; ++i) {
            AgentStorage.TokenState storage ts = a.token[batch[i].token];
            uint256 t0 = AgentStorage.load(AgentStorage.tokenSlot(a, batch[i].token));
            _revertIf(SpendLimits.spend(ts, t0, AGENT_ID, batch[i].token, _MERCHANT, batch[i].amount, end));
        }
    }

    /// @notice As the account's `spent` view: what was paid in the current period and ever (token units).
    function spent(address token) external view returns (uint256 inPeriod, uint256 inLifetime) {
        AgentStorage.Agent storage a = _agent();
        return SpendLimits.counters(a.token[token], TimeWindow.currentPeriodEnd(a));
    }

    /// @notice The stored counters as they are (no period roll-over applied).
    function rawCounters(address token) external view returns (uint128 spentInPeriod, uint128 spentLifetime) {
        AgentStorage.TokenState storage ts = _agent().token[token];
        // the lifetime counter does not depend on the period
        (, spentLifetime) = SpendLimits.counters(ts, 0);
        return (ts.spentInPeriod, spentLifetime);
    }

    /// @notice As the account's `remaining` view.
    function remaining(address token) external view returns (uint256, uint256, uint256, uint256) {
        AgentStorage.Agent storage a = _agent();
        return SpendLimits.remaining(a, token, TimeWindow.currentPeriodEnd(a));
    }

    /// @notice AgentStorage.addSaturating, exposed.
    function addSaturating(uint128 a, uint256 b) external pure returns (uint128) {
        return AgentStorage.addSaturating(a, b);
    }

    function _revertIf(bytes memory violation) private pure {
        if (violation.length != 0) {
            assembly ("memory-safe") {
                revert(add(violation, 0x20), mload(violation))
            }
        }
    }
}
