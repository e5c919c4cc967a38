// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";
import {IAgentGuardrails} from "../interfaces/IAgentGuardrails.sol";
import {AgentStorage} from "./AgentStorage.sol";

/// @title SpendLimits
/// @notice Per-token caps: per payment (checked in validation and at execution), per period and per lifetime (checked
///         and charged at execution, before any external call). Payments of one token in a batch add up.
library SpendLimits {
    using EnumerableSet for EnumerableSet.AddressSet;

    /// @notice The listed tokens (address(0) = ETH), in listing order.
    function tokens(AgentStorage.Agent storage a) internal view returns (address[] memory) {
        return a.tokens.values();
    }

    /// @notice Step 3 of SPEC section 3 for one payment: the token must be listed and the amount within the per-payment cap.
    function checkPerPayment(
        AgentStorage.Agent storage a,
        bytes32 agentId,
        address token,
        uint256 amount
    ) internal view returns (bytes memory) {
        AgentStorage.TokenState storage ts = a.token[token];
        if (ts.flags & AgentStorage.LISTED == 0) {
            return abi.encodeWithSelector(IAgentGuardrails.TokenNotAllowed.selector, agentId, token);
        }
        uint256 cap = AgentStorage.fromStored(ts.perPayment);
        if (amount > cap) {
            return abi.encodeWithSelector(IAgentGuardrails.PerPaymentCapExceeded.selector, agentId, token, amount, cap);
        }
        return "";
    }

    /// @notice What the token's counters hold for the period ending at `end` (a stale period counts as nothing).
    function counters(
        AgentStorage.TokenState storage ts,
        uint256 end
    ) internal view returns (uint128 inPeriod, uint128 inLifetime) {
        inPeriod = ts.periodEnd == uint40(end) ? ts.spentInPeriod : 0;
        inLifetime = AgentStorage.spentLifetime(ts);
    }

    /// @notice Step 8 for one payment of `amount`, given what was spent before it: the period cap, then the lifetime cap.
    /// @return violation the refusal, empty if the payment fits
    /// @return newPeriod the period counter after the payment
    /// @return newLifetime the lifetime counter after the payment
    function evaluate(
        AgentStorage.TokenState storage ts,
        bytes32 agentId,
        address token,
        uint256 amount,
        uint128 spentP,
        uint128 spentL,
        uint256 end
    ) internal view returns (bytes memory violation, uint128 newPeriod, uint128 newLifetime) {
        uint256 left = _left(ts.perPeriod, spentP);
        if (amount > left) {
            return (
                abi.encodeWithSelector(IAgentGuardrails.PeriodCapExceeded.selector, agentId, token, amount, left, end),
                0,
                0
            );
        }
        left = _left(ts.lifetime, spentL);
        if (amount > left) {
            return (
                abi.encodeWithSelector(IAgentGuardrails.LifetimeCapExceeded.selector, agentId, token, amount, left),
                0,
                0
            );
        }
        return ("", AgentStorage.addSaturating(spentP, amount), AgentStorage.addSaturating(spentL, amount));
    }

    /// @notice Writes a payment's counters (evaluated just before) and logs it with the running totals.
    function commit(
        AgentStorage.TokenState storage ts,
        bytes32 agentId,
        address token,
        address merchant,
        uint256 amount,
        uint128 newPeriod,
        uint128 newLifetime,
        uint256 end
    ) internal {
        ts.spentInPeriod = newPeriod;
        unchecked {
            // newLifetime <= MAX_COUNT = 2^128 - 2
            ts.spentLifetimePlusOne = newLifetime + 1;
        }
        // a new period: tag the counter with it (end truncated to 40 bits: unique until year 36812)
        if (ts.periodEnd != uint40(end)) ts.periodEnd = uint40(end);
        emit IAgentGuardrails.AgentPaid(agentId, token, merchant, amount, newPeriod, newLifetime);
    }

    /// @notice What is left for `token` now: (perPayment, inPeriod, inLifetime, periodResetsAt); zeros if unlisted.
    function remaining(
        AgentStorage.Agent storage a,
        address token,
        uint256 end
    ) internal view returns (uint256 perPayment, uint256 inPeriod, uint256 inLifetime, uint256 resetsAt) {
        AgentStorage.TokenState storage ts = a.token[token];
        if (ts.flags & AgentStorage.LISTED == 0) return (0, 0, 0, 0);
        (uint128 spentP, uint128 spentL) = counters(ts, end);
        return (AgentStorage.fromStored(ts.perPayment), _left(ts.perPeriod, spentP), _left(ts.lifetime, spentL), end);
    }

    function _left(uint128 cap, uint128 spent) private pure returns (uint256) {
        if (cap == AgentStorage.UNLIMITED) return type(uint256).max;
        unchecked {
            return cap > spent ? cap - spent : 0;
        }
    }
}
