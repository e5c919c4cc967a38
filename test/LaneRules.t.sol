// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AgentStorage} from "../contracts/libraries/AgentStorage.sol";
import {LaneRules} from "../contracts/libraries/LaneRules.sol";
import {SolTestBase} from "./SolTestBase.t.sol";

/// @notice The lane's arithmetic (SPEC section 7): how many slots an opening reserves, what it charges, and the
///         floored subtraction that gives unused holds back.
contract LaneRulesTest is SolTestBase {
    mapping(uint256 => AgentStorage.TokenState) internal _ts;

    uint128 internal constant UNLIMITED = type(uint128).max;
    uint256 internal constant MAX_CAP = 2 ** 128 - 2;

    function testFuzz_subFloor_isTheFlooredDifference(uint128 a, uint256 b) public pure {
        uint128 got = AgentStorage.subFloor(a, b);
        if (b >= a) vm.assertEq(got, 0, "floored at 0");
        else vm.assertEq(got, a - b, "the difference");
    }

    /// @notice slots = min(laneCount, room / laneMax), room being what both caps leave; the hold fits the room and
    ///         lands in both counters (saturating).
    function testFuzz_plan_reservesWhatTheCapsLeave(
        uint256 perPeriod,
        uint256 lifetime,
        uint128 inP,
        uint128 inL,
        uint32 laneCount,
        uint256 laneMax
    ) public {
        perPeriod = _bound(perPeriod, 0, MAX_CAP + 1); // MAX_CAP + 1 stands for unlimited
        lifetime = _bound(lifetime, perPeriod > MAX_CAP ? 0 : perPeriod, MAX_CAP + 1);
        laneCount = uint32(_bound(laneCount, 1, 256));
        laneMax = _bound(laneMax, 1, MAX_CAP);
        inP = uint128(_bound(inP, 0, MAX_CAP));
        inL = uint128(_bound(inL, inP, MAX_CAP));
        AgentStorage.TokenState storage ts = _ts[0];
        ts.perPeriod = perPeriod > MAX_CAP ? UNLIMITED : uint128(perPeriod);
        ts.lifetime = lifetime > MAX_CAP ? UNLIMITED : uint128(lifetime);
        ts.laneCount = laneCount;
        ts.laneMax = uint128(laneMax);

        LaneRules.Opening memory o = LaneRules.plan(ts, bytes32(uint256(1)), address(0xBEEF), inP, inL);

        uint256 leftP = perPeriod > MAX_CAP ? type(uint256).max : (perPeriod > inP ? perPeriod - inP : 0);
        uint256 leftL = lifetime > MAX_CAP ? type(uint256).max : (lifetime > inL ? lifetime - inL : 0);
        uint256 room = leftP < leftL ? leftP : leftL;
        uint256 expected = room / laneMax < laneCount ? room / laneMax : laneCount;
        vm.assertEq(o.slots, expected, "slots = min(laneCount, room / laneMax)");
        vm.assertEq(o.laneMax, laneMax, "the hold's laneMax");
        vm.assertEq(o.settledPeriod, 0, "nothing to settle");
        vm.assertEq(o.givenBack, 0, "nothing given back");
        uint256 hold = o.slots * laneMax;
        vm.assertLe(hold, room, "the hold fits what both caps leave");
        vm.assertEq(o.newP, AgentStorage.addSaturating(inP, hold), "period counter + hold");
        vm.assertEq(o.newL, AgentStorage.addSaturating(inL, hold), "lifetime counter + hold");
        // a hold never takes a counter past its cap (a counter may already be past a cap the owner lowered since)
        if (hold != 0 && perPeriod <= MAX_CAP) vm.assertLe(o.newP, perPeriod, "never past the period cap");
        if (hold != 0 && lifetime <= MAX_CAP) vm.assertLe(o.newL, lifetime, "never past the lifetime cap");
    }

    /// @notice The nonce is keccak256(abi.encode(account, agentId, token, period, i)), distinct per slot and period.
    function testFuzz_nonce_isBoundToAccountAgentTokenPeriodAndSlot(
        address account,
        bytes32 agentId,
        address token,
        uint256 period,
        uint256 i
    ) public pure {
        period = _bound(period, 0, type(uint256).max - 1);
        i = _bound(i, 0, type(uint256).max - 1);
        bytes32 n = LaneRules.nonce(account, agentId, token, period, i);
        vm.assertEq(n, keccak256(abi.encode(account, agentId, token, period, i)), "the SPEC's derivation");
        vm.assertTrue(n != LaneRules.nonce(account, agentId, token, period, i + 1), "another slot");
        vm.assertTrue(n != LaneRules.nonce(account, agentId, token, period + 1, i), "another period");
    }
}
