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
    /// @param t0 the first word of the token's TokenState (from CallDecoder.classify)
    /// @return violation the refusal, empty (unallocated) when the payment passes
    function checkPerPayment(
        bytes32 agentId,
        address token,
        uint256 t0,
        uint256 amount
    ) internal pure returns (bytes memory violation) {
        uint256 listed = (t0 >> AgentStorage.FLAGS_SHIFT) & AgentStorage.LISTED;
        uint256 cap;
        assembly ("memory-safe") {
            // perPayment (low 128 bits of t0), UNLIMITED (2^128 - 1) read as type(uint256).max
            cap := and(t0, 0xffffffffffffffffffffffffffffffff)
            if eq(cap, 0xffffffffffffffffffffffffffffffff) {
                cap := not(0)
            }
        }
        if (listed == 0) return abi.encodeWithSelector(IAgentGuardrails.TokenNotAllowed.selector, agentId, token);
        if (amount > cap) {
            return abi.encodeWithSelector(IAgentGuardrails.PerPaymentCapExceeded.selector, agentId, token, amount, cap);
        }
    }

    /// @notice What the token's counters hold for the period ending at `end` (a stale period counts as nothing).
    function counters(
        AgentStorage.TokenState storage ts,
        uint256 end
    ) internal view returns (uint128 inPeriod, uint128 inLifetime) {
        uint256 spentSlot = AgentStorage.TOKEN_SPENT_SLOT;
        uint256 t0;
        uint256 w2;
        assembly ("memory-safe") {
            // plain reads: slot 0 (period tag) and slot 2 (counters) of the TokenState
            t0 := sload(ts.slot)
            w2 := sload(add(ts.slot, spentSlot))
        }
        (uint256 inP, uint256 inL) = _counters(t0, w2, end);
        // both <= MAX_COUNT < 2^128
        return (uint128(inP), uint128(inL));
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
        uint256 capsSlot = AgentStorage.TOKEN_CAPS_SLOT;
        uint256 caps;
        assembly ("memory-safe") {
            // a plain read: slot 1 (caps) of the TokenState
            caps := sload(add(ts.slot, capsSlot))
        }
        (uint256 failed, uint256 left, uint256 newP, uint256 newL) = _fit(caps, spentP, spentL, amount);
        if (failed != 0) return (_violation(failed, agentId, token, amount, left, end), 0, 0);
        return (violation, uint128(newP), uint128(newL));
    }

    /// @notice Step 8 for one payment and its effect: the period cap, then the lifetime cap, against the counters as
    ///         they are now (earlier payments of the batch already charged); then the counters are written (one SSTORE,
    ///         plus the period tag in a new period) and the payment is logged with the running totals.
    /// @dev The same rule as `counters` + `evaluate` (which the views use), in one assembly block: this is the payment
    ///      path. The spend harness and the invariant tests compare the two.
    /// @param t0 the TokenState's first word as it is now (the caller may pass the one it read, if nothing wrote it since)
    /// @return violation the refusal (nothing written), empty (unallocated) when the payment was charged
    function spend(
        AgentStorage.TokenState storage ts,
        uint256 t0,
        bytes32 agentId,
        address token,
        address merchant,
        uint256 amount,
        uint256 end
    ) internal returns (bytes memory violation) {
        uint256 failed;
        uint256 left;
        bytes32 topic = IAgentGuardrails.AgentPaid.selector;
        assembly ("memory-safe") {
            let caps := sload(add(ts.slot, 1)) // perPeriod (low 128 bits), lifetime (high)
            let w2 := sload(add(ts.slot, 2)) // spentInPeriod (low 128 bits), spentLifetimePlusOne (high)
            // the period counter counts only if tagged with this period (periodEnd, bits 128-167 of t0; both
            // truncated to 40 bits); the lifetime counter is stored plus one (0 before the token was ever listed)
            let tag := and(end, 0xffffffffff)
            let sameTag := eq(and(shr(128, t0), 0xffffffffff), tag)
            let spentP := mul(sameTag, and(w2, 0xffffffffffffffffffffffffffffffff))
            let stored := shr(128, w2)
            let spentL := sub(stored, iszero(iszero(stored)))
            // what a cap leaves after its counter, without branches: cap - spent floored at 0 (the wrapped difference
            // of cap <= spent is multiplied by 0), or all ones for UNLIMITED (2^128 - 1; 0 - 1 = all ones)
            let capP := and(caps, 0xffffffffffffffffffffffffffffffff)
            let leftP := or(
                mul(gt(capP, spentP), sub(capP, spentP)),
                sub(0, eq(capP, 0xffffffffffffffffffffffffffffffff))
            )
            let capL := shr(128, caps)
            let leftL := or(
                mul(gt(capL, spentL), sub(capL, spentL)),
                sub(0, eq(capL, 0xffffffffffffffffffffffffffffffff))
            )
            // the period cap first: failed = 1 over it, else 2 over the lifetime cap, else 0; left = the failing cap's
            let overP := gt(amount, leftP)
            failed := or(overP, shl(1, and(iszero(overP), gt(amount, leftL))))
            left := xor(leftL, mul(overP, xor(leftP, leftL)))
            if iszero(failed) {
                // counter + amount saturating at MAX_COUNT = 2^128 - 2: counters are <= MAX_COUNT, so MAX_COUNT -
                // counter does not underflow; below it the sum stays below MAX_COUNT, and a wrapped sum of a huge
                // amount is multiplied by 0
                let maxCount := 0xfffffffffffffffffffffffffffffffe
                let satP := iszero(lt(amount, sub(maxCount, spentP)))
                let newP := or(mul(satP, maxCount), mul(iszero(satP), add(spentP, amount)))
                let satL := iszero(lt(amount, sub(maxCount, spentL)))
                let newL := or(mul(satL, maxCount), mul(iszero(satL), add(spentL, amount)))
                // newL <= MAX_COUNT, so newL + 1 fits its 128 bits: one word for both counters
                sstore(add(ts.slot, 2), or(newP, shl(128, add(newL, 1))))
                // a new period: tag the counter with it (end truncated to 40 bits: unique until year 36812)
                if iszero(sameTag) {
                    sstore(ts.slot, or(and(t0, not(shl(128, 0xffffffffff))), shl(128, tag)))
                }
                // emit AgentPaid(agentId, token, merchant, amount, newP, newL), encoded past the free memory pointer
                let m := mload(0x40)
                mstore(m, amount)
                mstore(add(m, 0x20), newP)
                mstore(add(m, 0x40), newL)
                log4(m, 0x60, topic, agentId, shr(96, shl(96, token)), shr(96, shl(96, merchant)))
            }
        }
        if (failed != 0) return _violation(failed, agentId, token, amount, left, end);
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
        return (AgentStorage.fromStored(ts.perPayment), leftOf(ts.perPeriod, spentP), leftOf(ts.lifetime, spentL), end);
    }

    /// @dev Counters from the words: the period counter counts only if tagged with the period ending at `end` (both
    ///      truncated to 40 bits); the lifetime counter is stored plus one (0 before the token was ever listed).
    function _counters(
        uint256 t0,
        uint256 w2,
        uint256 end
    ) private pure returns (uint256 inPeriod, uint256 inLifetime) {
        uint256 tagShift = AgentStorage.PERIOD_END_SHIFT;
        assembly ("memory-safe") {
            if eq(and(shr(tagShift, t0), 0xffffffffff), and(end, 0xffffffffff)) {
                inPeriod := and(w2, 0xffffffffffffffffffffffffffffffff)
            }
            let stored := shr(128, w2)
            // stored != 0 in the subtraction
            if stored {
                inLifetime := sub(stored, 1)
            }
        }
    }

    /// @dev The period cap (low half of `caps`), then the lifetime cap (high half), for `amount` on top of counters
    ///      spentP and spentL (both <= MAX_COUNT).
    /// @return failed 0 when it fits, 1 over the period cap, 2 over the lifetime cap
    /// @return left what the failing cap had left
    /// @return newP the period counter after the payment (saturating at MAX_COUNT)
    /// @return newL the lifetime counter after the payment (saturating at MAX_COUNT)
    function _fit(
        uint256 caps,
        uint256 spentP,
        uint256 spentL,
        uint256 amount
    ) private pure returns (uint256 failed, uint256 left, uint256 newP, uint256 newL) {
        uint256 unlimited = AgentStorage.UNLIMITED;
        uint256 maxCount = AgentStorage.MAX_COUNT;
        assembly ("memory-safe") {
            // what a cap leaves after its counter: everything for UNLIMITED, else cap - spent floored at 0 (the
            // wrapped difference of cap <= spent is multiplied by 0)
            let cap := and(caps, unlimited)
            left := not(0)
            if iszero(eq(cap, unlimited)) {
                left := mul(gt(cap, spentP), sub(cap, spentP))
            }
            failed := gt(amount, left)
            if iszero(failed) {
                cap := shr(128, caps)
                left := not(0)
                if iszero(eq(cap, unlimited)) {
                    left := mul(gt(cap, spentL), sub(cap, spentL))
                }
                if gt(amount, left) {
                    failed := 2
                }
            }
            if iszero(failed) {
                // counter + amount saturating at MAX_COUNT: counters are <= MAX_COUNT, so MAX_COUNT - counter does
                // not underflow, and when amount is below it the sum stays below MAX_COUNT (no overflow)
                newP := maxCount
                if lt(amount, sub(maxCount, spentP)) {
                    newP := add(spentP, amount)
                }
                newL := maxCount
                if lt(amount, sub(maxCount, spentL)) {
                    newL := add(spentL, amount)
                }
            }
        }
    }

    /// @dev The refusal `_fit` found: PeriodCapExceeded (failed == 1) or LifetimeCapExceeded (failed == 2).
    function _violation(
        uint256 failed,
        bytes32 agentId,
        address token,
        uint256 amount,
        uint256 left,
        uint256 end
    ) private pure returns (bytes memory) {
        if (failed == 1) {
            return
                abi.encodeWithSelector(IAgentGuardrails.PeriodCapExceeded.selector, agentId, token, amount, left, end);
        }
        return abi.encodeWithSelector(IAgentGuardrails.LifetimeCapExceeded.selector, agentId, token, amount, left);
    }

    /// @notice What a stored cap leaves after `spent`: type(uint256).max for UNLIMITED, else cap - spent floored at 0.
    function leftOf(uint128 cap, uint128 spent) internal pure returns (uint256) {
        if (cap == AgentStorage.UNLIMITED) return type(uint256).max;
        unchecked {
            return cap > spent ? cap - spent : 0;
        }
    }
}
