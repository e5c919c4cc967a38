// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";
import {IAgentGuardrails} from "../interfaces/IAgentGuardrails.sol";
import {AgentStorage} from "./AgentStorage.sol";
import {Payment} from "./CallDecoder.sol";

/// @title SpendLimits
/// @notice Per-token caps: per payment (checked in validation), per period and per lifetime (checked and charged at
///         execution, before any external call). Payments of one token in a batch add up.
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
        Payment memory p
    ) internal view returns (bytes memory) {
        AgentStorage.TokenState storage ts = a.token[p.token];
        if (!ts.listed) return abi.encodeWithSelector(IAgentGuardrails.TokenNotAllowed.selector, agentId, p.token);
        uint256 cap = AgentStorage.fromStored(ts.perPayment);
        if (p.amount > cap) {
            return
                abi.encodeWithSelector(
                    IAgentGuardrails.PerPaymentCapExceeded.selector,
                    agentId,
                    p.token,
                    p.amount,
                    cap
                );
        }
        return "";
    }

    /// @notice Step 8 of SPEC section 3: each payment in batch order against the period cap, then the lifetime cap.
    /// @param end the end of the current period (TimeWindow.currentPeriodEnd)
    /// @return violation the first refusal, empty if none
    /// @return inPeriod the token's period counter after each payment
    /// @return inLifetime the token's lifetime counter after each payment
    function check(
        AgentStorage.Agent storage a,
        bytes32 agentId,
        Payment[] memory ps,
        uint256 end
    ) internal view returns (bytes memory violation, uint128[] memory inPeriod, uint128[] memory inLifetime) {
        uint256 n = ps.length;
        inPeriod = new uint128[](n);
        inLifetime = new uint128[](n);
        for (uint256 i; i < n; ++i) {
            Payment memory p = ps[i];
            AgentStorage.TokenState storage ts = a.token[p.token];
            uint128 spentP;
            uint128 spentL;
            bool seen;
            // an earlier payment of the same token in this batch already carries the running totals
            for (uint256 j = i; j > 0; --j) {
                if (ps[j - 1].token == p.token) {
                    (spentP, spentL, seen) = (inPeriod[j - 1], inLifetime[j - 1], true);
                    break;
                }
            }
            if (!seen) {
                spentP = ts.periodEnd == end ? ts.spentInPeriod : 0;
                spentL = ts.spentLifetime;
            }
            (violation, inPeriod[i], inLifetime[i]) = _charge(ts, agentId, p, spentP, spentL, end);
            if (violation.length != 0) return (violation, inPeriod, inLifetime);
        }
    }

    /// @dev One payment against the period cap, then the lifetime cap; returns the counters after it.
    function _charge(
        AgentStorage.TokenState storage ts,
        bytes32 agentId,
        Payment memory p,
        uint128 spentP,
        uint128 spentL,
        uint256 end
    ) private view returns (bytes memory violation, uint128 newP, uint128 newL) {
        uint256 left = _left(ts.perPeriod, spentP);
        if (p.amount > left) {
            return (
                abi.encodeWithSelector(
                    IAgentGuardrails.PeriodCapExceeded.selector,
                    agentId,
                    p.token,
                    p.amount,
                    left,
                    end
                ),
                0,
                0
            );
        }
        left = _left(ts.lifetime, spentL);
        if (p.amount > left) {
            return (
                abi.encodeWithSelector(IAgentGuardrails.LifetimeCapExceeded.selector, agentId, p.token, p.amount, left),
                0,
                0
            );
        }
        return ("", AgentStorage.addSaturating(spentP, p.amount), AgentStorage.addSaturating(spentL, p.amount));
    }

    /// @notice Writes what `check` computed and logs each payment with its running totals.
    function commit(
        AgentStorage.Agent storage a,
        bytes32 agentId,
        Payment[] memory ps,
        uint128[] memory inPeriod,
        uint128[] memory inLifetime,
        uint256 end
    ) internal {
        for (uint256 i; i < ps.length; ++i) {
            Payment memory p = ps[i];
            AgentStorage.TokenState storage ts = a.token[p.token];
            ts.spentInPeriod = inPeriod[i];
            ts.spentLifetime = inLifetime[i];
            // end fits 48 bits until year 8.9 million
            if (ts.periodEnd != end) ts.periodEnd = uint48(end);
            emit IAgentGuardrails.AgentPaid(agentId, p.token, p.merchant, p.amount, inPeriod[i], inLifetime[i]);
        }
    }

    /// @notice What is left for `token` now: (perPayment, inPeriod, inLifetime, periodResetsAt); zeros if unlisted.
    function remaining(
        AgentStorage.Agent storage a,
        address token,
        uint256 end
    ) internal view returns (uint256 perPayment, uint256 inPeriod, uint256 inLifetime, uint256 resetsAt) {
        AgentStorage.TokenState storage ts = a.token[token];
        if (!ts.listed) return (0, 0, 0, 0);
        perPayment = AgentStorage.fromStored(ts.perPayment);
        uint128 spentP = ts.periodEnd == end ? ts.spentInPeriod : 0;
        inPeriod = _left(ts.perPeriod, spentP);
        inLifetime = _left(ts.lifetime, ts.spentLifetime);
        resetsAt = end;
    }

    function _left(uint128 cap, uint128 spent) private pure returns (uint256) {
        if (cap == AgentStorage.UNLIMITED) return type(uint256).max;
        return cap > spent ? cap - spent : 0;
    }
}
