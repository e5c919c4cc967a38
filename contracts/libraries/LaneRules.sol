// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAgentGuardrails} from "../interfaces/IAgentGuardrails.sol";
import {AgentStorage} from "./AgentStorage.sol";
import {SpendLimits} from "./SpendLimits.sol";

/// @title LaneRules
/// @notice The x402 lane of SPEC section 7: signature payments (EIP-3009 `transferWithAuthorization` with the account as
///         payer) under the same caps as ordinary payments. Opening the lane for a period reserves `slots * laneMax` in
///         both counters at once, like a card hold; the agent may then sign at most `slots` payments with the nonces of
///         that period. The next opening (or a closing) asks the token which of those nonces were used and gives the rest
///         back to the lifetime counter.
library LaneRules {
    /// @dev EIP-3009's struct type, as the token hashes it.
    bytes32 internal constant TRANSFER_WITH_AUTHORIZATION_TYPEHASH = keccak256(
        "TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"
    );

    /// @dev Gas for each `authorizationState` call of a settlement: a token must not be able to make a revocation or
    ///      an update run out of gas. A call that fails (out of gas included) counts its nonce as used.
    uint256 internal constant SETTLE_CALL_GAS = 30_000;

    /// @notice Nonce `i` of the lane of (`account`, `agentId`, `token`) in the period ending at `period`.
    function nonce(
        address account,
        bytes32 agentId,
        address token,
        uint256 period,
        uint256 i
    ) internal pure returns (bytes32) {
        return keccak256(abi.encode(account, agentId, token, period, i));
    }

    /// @notice Whether the token marked `n` used by this account; a call that fails or answers oddly counts as used.
    function isUsed(address token, bytes32 n) internal view returns (bool used) {
        uint256 gasCap = SETTLE_CALL_GAS;
        assembly ("memory-safe") {
            // authorizationState(address(this), n), encoded past the free memory pointer (not allocated: nothing
            // else uses that memory before this block ends); the answer lands in the scratch space
            let m := mload(0x40)
            mstore(m, 0xe94a010200000000000000000000000000000000000000000000000000000000)
            mstore(add(m, 0x04), address())
            mstore(add(m, 0x24), n)
            mstore(0, 1)
            let ok := staticcall(gasCap, token, m, 0x44, 0, 0x20)
            used := or(or(iszero(ok), lt(returndatasize(), 0x20)), iszero(eq(mload(0), 0)))
        }
    }

    /// @notice How many of the nonces `0 .. slots-1` of `period` the token marked used.
    function usedCount(
        bytes32 agentId,
        address token,
        uint256 period,
        uint256 slots
    ) internal view returns (uint256 used) {
        for (uint256 i; i < slots; ++i) {
            if (isUsed(token, nonce(address(this), agentId, token, period, i))) ++used;
        }
    }

    /// @notice What settling the lane's last hold gives back: its period (0 if it held no slot), the nonces used in it,
    ///         and `(slots - used) * laneMax` of that hold.
    function settlement(
        AgentStorage.TokenState storage ts,
        bytes32 agentId,
        address token
    ) internal view returns (uint256 settledPeriod, uint256 used, uint256 givenBack) {
        uint256 slots = ts.laneSlots;
        if (slots == 0) return (0, 0, 0);
        settledPeriod = ts.lanePeriod;
        used = usedCount(agentId, token, settledPeriod, slots);
        unchecked {
            // used <= slots <= 256 and laneHoldMax < 2^128
            givenBack = (slots - used) * ts.laneHoldMax;
        }
    }

    /// @notice What opening the lane does to the counters `inP` (of the period being opened) and `inL`: the previous
    ///         hold is settled into the lifetime counter, then `slots = min(laneCount, room / laneMax)` are reserved,
    ///         `room` being what both caps leave.
    function plan(
        AgentStorage.TokenState storage ts,
        bytes32 agentId,
        address token,
        uint128 inP,
        uint128 inL
    ) internal view returns (Opening memory o) {
        (o.settledPeriod, o.used, o.givenBack) = settlement(ts, agentId, token);
        inL = AgentStorage.subFloor(inL, o.givenBack);
        uint256 room = SpendLimits.leftOf(ts.perPeriod, inP);
        uint256 leftL = SpendLimits.leftOf(ts.lifetime, inL);
        if (leftL < room) room = leftL;
        o.laneMax = ts.laneMax;
        uint256 slots = ts.laneCount;
        // laneMax != 0 whenever laneCount != 0 (policy validation)
        if (slots != 0 && room / o.laneMax < slots) slots = room / o.laneMax;
        o.slots = slots;
        unchecked {
            // slots <= 256, laneMax < 2^128
            uint256 hold = slots * o.laneMax;
            o.newP = AgentStorage.addSaturating(inP, hold);
            o.newL = AgentStorage.addSaturating(inL, hold);
        }
    }

    struct Opening {
        uint256 settledPeriod;
        uint256 used;
        uint256 givenBack;
        uint256 slots;
        uint256 laneMax;
        uint128 newP;
        uint128 newL;
    }

    /// @notice Opens the lane for the period ending at `period` (the current one); nothing if it already is (or was
    ///         closed in it). The caller has checked that the token is listed with its lane on.
    function open(AgentStorage.TokenState storage ts, bytes32 agentId, address token, uint256 period) internal {
        if (ts.lanePeriod == period) return;
        (uint128 inP, uint128 inL) = SpendLimits.counters(ts, period);
        Opening memory o = plan(ts, agentId, token, inP, inL);
        ts.periodEnd = uint40(period);
        ts.spentInPeriod = o.newP;
        ts.spentLifetimePlusOne = o.newL + 1;
        ts.lanePeriod = uint48(period);
        // o.slots <= 256 fits 16 bits, laneMax < 2^128
        ts.laneSlots = uint16(o.slots);
        ts.laneHoldMax = uint128(o.laneMax);
        emit IAgentGuardrails.LaneOpened(
            agentId,
            token,
            period,
            o.slots,
            o.laneMax,
            o.settledPeriod,
            o.used,
            o.givenBack
        );
    }

    /// @notice Closes the lane in the period ending at `period` (the current one): settles the last hold into the
    ///         lifetime counter, keeps the period counter as it is, and leaves no slot until the next period opens.
    ///         Nothing for a lane never opened, or already closed in this period.
    function close(AgentStorage.TokenState storage ts, bytes32 agentId, address token, uint256 period) internal {
        uint256 last = ts.lanePeriod;
        if (last == 0 || (last == period && ts.laneSlots == 0)) return;
        (uint256 settledPeriod, uint256 used, uint256 givenBack) = settlement(ts, agentId, token);
        if (givenBack != 0) {
            // the token was listed when the lane opened, so the stored counter is at least 1
            ts.spentLifetimePlusOne = AgentStorage.subFloor(ts.spentLifetimePlusOne - 1, givenBack) + 1;
        }
        ts.lanePeriod = uint48(period);
        ts.laneSlots = 0;
        ts.laneHoldMax = 0;
        emit IAgentGuardrails.LaneClosed(agentId, token, settledPeriod, used, givenBack);
    }
}
