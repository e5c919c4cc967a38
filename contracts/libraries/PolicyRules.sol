// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";
import {AgentPolicy, TokenLimit, IAgentGuardrails} from "../interfaces/IAgentGuardrails.sol";
import {AgentStorage} from "./AgentStorage.sol";
import {CallDecoder} from "./CallDecoder.sol";
import {CallLimit} from "./CallLimit.sol";
import {MerchantAllowlist} from "./MerchantAllowlist.sol";
import {TimeWindow} from "./TimeWindow.sol";

/// @title PolicyRules
/// @notice Validates a policy (SPEC section 2) and writes it into an agent's storage, keeping the agent's counters.
library PolicyRules {
    using EnumerableSet for EnumerableSet.AddressSet;

    /// @dev Largest cap or budget other than "unlimited" (type(uint256).max).
    uint256 internal constant MAX_CAP = 2 ** 128 - 2;

    function _invalid(string memory reason) private pure {
        revert IAgentGuardrails.InvalidPolicy(reason);
    }

    function _checkCap(uint256 cap) private pure {
        if (cap > MAX_CAP && cap != type(uint256).max)
            _invalid("cap above 2^128-2 (use type(uint256).max for unlimited)");
    }

    /// @dev The x402 lane of a token (SPEC section 7): at most 256 slots of 0 < laneMax <= perPayment, on an ERC-20.
    function _checkLane(TokenLimit calldata lim) private pure {
        if (lim.token == address(0)) _invalid("a lane needs an ERC-20 token, not ETH");
        if (lim.laneCount > MAX_LANE_SLOTS) _invalid("laneCount above 256");
        if (lim.laneMax == 0 || lim.laneMax > lim.perPayment)
            _invalid("laneMax must be above 0 and at most perPayment");
        if (lim.laneMax > MAX_CAP) _invalid("laneMax above 2^128-2");
    }

    /// @dev Most lane slots a token may have per period.
    uint256 internal constant MAX_LANE_SLOTS = 256;

    /// @notice Reverts with InvalidPolicy(reason) unless `p` is a valid policy for the account `self`.
    function validate(AgentPolicy calldata p, address self, address entryPoint) internal pure {
        if (p.validUntil <= p.validAfter) _invalid("validUntil must be after validAfter");
        if (p.period == 0) _invalid("period must be greater than 0");
        if (p.activeHours == 0) _invalid("activeHours must allow at least one hour");
        _checkCap(p.gasBudget);
        TokenLimit[] calldata limits = p.limits;
        for (uint256 i; i < limits.length; ++i) {
            TokenLimit calldata lim = limits[i];
            address t = lim.token;
            if (t == self || t == entryPoint || t == CallDecoder.PERMIT2) {
                _invalid("token may not be the account, the EntryPoint or Permit2");
            }
            for (uint256 j; j < i; ++j) {
                if (limits[j].token == t) _invalid("token listed twice");
            }
            _checkCap(lim.perPayment);
            _checkCap(lim.perPeriod);
            _checkCap(lim.lifetime);
            if (lim.perPayment > lim.perPeriod) _invalid("perPayment must not exceed perPeriod");
            if (lim.perPeriod > lim.lifetime) _invalid("perPeriod must not exceed lifetime");
            if (lim.laneCount != 0) _checkLane(lim);
        }
        address[] calldata merchants = p.merchants;
        for (uint256 i; i < merchants.length; ++i) {
            address m = merchants[i];
            if (m == address(0)) _invalid("merchant may not be the zero address");
            if (m == self || m == entryPoint || m == CallDecoder.PERMIT2) {
                _invalid("merchant may not be the account, the EntryPoint or Permit2");
            }
            for (uint256 j; j < limits.length; ++j) {
                if (limits[j].token == m) _invalid("merchant may not be a listed token");
            }
        }
    }

    /// @notice Writes `p` for a new agent (anchor = validAfter) or over an existing one (counters kept; a new period
    ///         takes effect from the end of the current period; a newly introduced call limit counts from now).
    function store(AgentStorage.Agent storage a, AgentPolicy calldata p, bool isNew) internal {
        a.validAfter = p.validAfter;
        a.validUntil = p.validUntil;
        a.gasBudget = AgentStorage.toStored(p.gasBudget);
        a.mandate = p.mandate;

        uint32 period = a.period;
        uint48 anchor = a.anchor;
        if (isNew) {
            period = p.period;
            anchor = p.validAfter;
        } else if (period != p.period) {
            // re-anchor at the end of the current period: what was spent in it stays charged until then
            anchor = uint48(TimeWindow.currentPeriodEnd(a));
            period = p.period;
        }
        bool limited = p.maxCallsPerPeriod != CallLimit.UNLIMITED;
        if (!isNew && limited && a.maxCallsPerPeriod == CallLimit.UNLIMITED) {
            // a call limit where there was none: counting starts now
            a.callsInPeriod = 0;
            a.callsPeriodEnd = 0;
        }
        a.maxCallsPerPeriod = p.maxCallsPerPeriod;
        uint8 flags =
            (p.activeHours == type(uint168).max ? AgentStorage.ANY_HOUR : 0) | (limited ? AgentStorage.CALL_LIMIT : 0);
        a.activeHours = p.activeHours;
        a.period = period;
        a.anchor = anchor;
        a.flags = flags;

        // tokens: unlist the old ones (their counters and period tag stay), then list the new ones with a copy of the
        // schedule and flags
        address[] memory old = a.tokens.values();
        for (uint256 i; i < old.length; ++i) {
            AgentStorage.TokenState storage ts = a.token[old[i]];
            ts.flags = 0;
            ts.perPayment = 0;
            ts.perPeriod = 0;
            ts.lifetime = 0;
            ts.laneCount = 0;
            ts.laneMax = 0;
        }
        a.tokens.clear();
        TokenLimit[] calldata limits = p.limits;
        for (uint256 i; i < limits.length; ++i) {
            TokenLimit calldata lim = limits[i];
            AgentStorage.TokenState storage ts = a.token[lim.token];
            ts.perPayment = AgentStorage.toStored(lim.perPayment);
            bool lane = lim.laneCount != 0;
            ts.flags = flags | AgentStorage.LISTED | (lane ? AgentStorage.LANE : 0);
            ts.period = period;
            ts.anchor = anchor;
            ts.perPeriod = AgentStorage.toStored(lim.perPeriod);
            ts.lifetime = AgentStorage.toStored(lim.lifetime);
            // with the lane off, laneMax means nothing and is not kept (checked only when the lane is on)
            ts.laneCount = lim.laneCount;
            ts.laneMax = lane ? uint128(lim.laneMax) : 0;
            // a non-zero counter slot from the start: the first payment pays no fresh-slot cost
            if (ts.spentLifetimePlusOne == 0) ts.spentLifetimePlusOne = 1;
            a.tokens.add(lim.token);
        }
        if (!MerchantAllowlist.replace(a, p.merchants)) revert IAgentGuardrails.InvalidPolicy("merchant listed twice");
    }
}
