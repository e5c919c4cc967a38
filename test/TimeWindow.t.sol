// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IAgentGuardrails} from "../contracts/interfaces/IAgentGuardrails.sol";
import {AgentStorage} from "../contracts/libraries/AgentStorage.sol";
import {TimeWindow} from "../contracts/libraries/TimeWindow.sol";
import {SolTestBase} from "./SolTestBase.t.sol";

/// @notice The clock rules of SPEC sections 1 and 2: the anchored period schedule, the hour of the week, the weekly
///         active-hours mask and the validity window. The mask and window checks read an agent kept in this test
///         contract's own storage, at the account's storage location.
contract TimeWindowTest is SolTestBase {
    bytes32 internal constant ID = bytes32(uint256(0xA6E27));
    /// @dev 1970-01-05 00:00:00 UTC, the first Monday of the epoch: hour-of-week 0.
    uint256 internal constant FIRST_MONDAY = 4 days;
    /// @dev 2024-01-01 00:00:00 UTC, also a Monday.
    uint256 internal constant MONDAY_2024 = 1_704_067_200;
    uint256 internal constant WEEK = 7 days;

    // ---------------------------------------------------------------- periodEnd

    /// @notice At or after the anchor, the period containing t is [end - period, end): end > t, end - period <= t, and
    ///         end lies on the anchored grid (end - anchor is a positive multiple of period).
    function testFuzz_periodEnd_containsTAndLiesOnTheAnchoredGrid(uint48 anchor, uint32 period, uint64 t) public pure {
        period = uint32(_bound(period, 1, type(uint32).max));
        t = uint64(_bound(t, anchor, type(uint64).max));
        uint256 end = TimeWindow.periodEnd(anchor, period, t);
        vm.assertGe(end, uint256(t) + 1, "end > t");
        vm.assertLe(end - period, t, "end - period <= t");
        vm.assertEq((end - anchor) % period, 0, "end - anchor is a multiple of period");
        vm.assertGe(end - anchor, period, "the first period ends one period after the anchor");
        // the same end by plain division
        vm.assertEq(end, uint256(anchor) + ((uint256(t) - anchor) / period + 1) * period, "window index");
    }

    /// @notice Before the anchor, the current "period" ends at the anchor (how a re-anchored schedule keeps the
    ///         current period until its end).
    function testFuzz_periodEnd_beforeTheAnchorEndsAtTheAnchor(uint48 anchor, uint32 period, uint48 t) public pure {
        vm.assume(anchor > 0);
        period = uint32(_bound(period, 1, type(uint32).max));
        t = uint48(_bound(t, 0, uint256(anchor) - 1));
        vm.assertEq(TimeWindow.periodEnd(anchor, period, t), anchor, "ends at the anchor");
    }

    /// @notice Every second of a window has the same end, the window's last second included, and the next second
    ///         starts the next window (one period later).
    function testFuzz_periodEnd_isConstantInsideAWindowAndStepsByOnePeriod(
        uint48 anchor,
        uint32 period,
        uint64 t
    ) public pure {
        period = uint32(_bound(period, 1, type(uint32).max));
        t = uint64(_bound(t, anchor, type(uint64).max - 2 * uint256(type(uint32).max)));
        uint256 end = TimeWindow.periodEnd(anchor, period, t);
        vm.assertEq(TimeWindow.periodEnd(anchor, period, end - period), end, "first second of the window");
        vm.assertEq(TimeWindow.periodEnd(anchor, period, end - 1), end, "last second of the window");
        vm.assertEq(TimeWindow.periodEnd(anchor, period, end), end + period, "the next window");
    }

    /// @notice The schedule never goes back: a later time never has an earlier period end.
    function testFuzz_periodEnd_isMonotonic(uint48 anchor, uint32 period, uint64 t, uint64 dt) public pure {
        period = uint32(_bound(period, 1, type(uint32).max));
        t = uint64(_bound(t, 0, type(uint64).max / 2));
        dt = uint64(_bound(dt, 0, type(uint64).max / 2));
        vm.assertLe(
            TimeWindow.periodEnd(anchor, period, t),
            TimeWindow.periodEnd(anchor, period, uint256(t) + dt),
            "monotonic"
        );
    }

    // ---------------------------------------------------------------- hourOfWeek

    /// @notice 1970-01-05 00:00 UTC (a Monday) is hour 0, and so is every Monday 00:00-00:59 after it.
    function testFuzz_hourOfWeek_mondayMidnightIsHourZero(uint32 weeks_, uint16 second) public pure {
        uint256 t = FIRST_MONDAY + uint256(weeks_) * WEEK + (second % 3600);
        vm.assertEq(TimeWindow.hourOfWeek(t), 0, "Monday 00:xx is hour 0");
        vm.assertEq(TimeWindow.hourOfWeek(MONDAY_2024 + (second % 3600)), 0, "2024-01-01 00:xx is hour 0");
        vm.assertEq(TimeWindow.hourOfWeek(FIRST_MONDAY - 1), 167, "Sunday 23:59 is hour 167");
        vm.assertEq(TimeWindow.hourOfWeek(0), 72, "1970-01-01 00:00 (a Thursday) is hour 72");
    }

    /// @notice Every 3600 s the hour advances by one, modulo 168; within an hour it does not change.
    function testFuzz_hourOfWeek_advancesByOneEachHour(uint64 t, uint16 second) public pure {
        uint256 h = TimeWindow.hourOfWeek(t);
        vm.assertLe(h, 167, "h < 168");
        vm.assertEq(TimeWindow.hourOfWeek(uint256(t) + 3600), (h + 1) % 168, "one hour later");
        uint256 hourStart = uint256(t) - (uint256(t) % 3600);
        vm.assertEq(TimeWindow.hourOfWeek(hourStart + (second % 3600)), h, "same hour");
    }

    /// @notice From the first Monday on, h counts whole hours since Monday 00:00 UTC, modulo one week.
    function testFuzz_hourOfWeek_countsHoursSinceMondayMidnight(uint64 t) public pure {
        t = uint64(_bound(t, FIRST_MONDAY, type(uint64).max));
        vm.assertEq(TimeWindow.hourOfWeek(t), ((uint256(t) - FIRST_MONDAY) / 3600) % 168, "hours since Monday 00:00");
    }

    // ---------------------------------------------------------------- periodEnd at the boundaries

    /// @notice Window k of the grid, second by second at its edges: anchor - 1 ends at the anchor; the anchor starts
    ///         window 0; anchor + k*period - 1 is the last second of window k-1 and anchor + k*period the first of k.
    function testFuzz_periodEnd_atTheGridEdges(uint48 anchor, uint32 period, uint32 k) public pure {
        anchor = uint48(_bound(anchor, 1, type(uint48).max));
        period = uint32(_bound(period, 1, type(uint32).max));
        uint256 a = anchor;
        uint256 p = period;
        uint256 n = _bound(k, 1, type(uint32).max);
        vm.assertEq(TimeWindow.periodEnd(a, p, a - 1), a, "anchor - 1: ends at the anchor");
        vm.assertEq(TimeWindow.periodEnd(a, p, 0), a, "any time before the anchor: ends at the anchor");
        vm.assertEq(TimeWindow.periodEnd(a, p, a), a + p, "anchor: window 0");
        vm.assertEq(TimeWindow.periodEnd(a, p, a + n * p - 1), a + n * p, "anchor + k*period - 1: window k-1");
        vm.assertEq(TimeWindow.periodEnd(a, p, a + n * p), a + (n + 1) * p, "anchor + k*period: window k");
        vm.assertEq(TimeWindow.periodEnd(a, p, a + n * p + p - 1), a + (n + 1) * p, "last second of window k");
    }

    /// @notice A one-second period: every second is its own window.
    function testFuzz_periodEnd_oneSecondPeriods(uint48 anchor, uint64 t) public pure {
        t = uint64(_bound(t, anchor, type(uint64).max));
        vm.assertEq(TimeWindow.periodEnd(anchor, 1, t), uint256(t) + 1, "t + 1");
    }

    /// @notice A period change re-anchors the schedule at the end of the current period (PolicyRules.store): until
    ///         then the current period keeps its end, from then on the new grid runs from the new anchor.
    function testFuzz_periodEnd_reanchoredScheduleKeepsTheCurrentPeriod(
        uint48 anchor,
        uint32 period,
        uint32 newPeriod,
        uint64 updateAt,
        uint64 later,
        uint32 k
    ) public pure {
        period = uint32(_bound(period, 1, type(uint32).max));
        newPeriod = uint32(_bound(newPeriod, 1, type(uint32).max));
        updateAt = uint64(_bound(updateAt, anchor, type(uint48).max));
        uint256 newAnchor = TimeWindow.periodEnd(anchor, period, updateAt);
        vm.assertGe(newAnchor, uint256(updateAt) + 1, "the new anchor is after the update");
        vm.assertLe(newAnchor - updateAt, period, "within one old period of the update");
        // between the update and the new anchor: the same period end under both schedules
        uint256 t = _bound(later, updateAt, newAnchor - 1);
        vm.assertEq(TimeWindow.periodEnd(newAnchor, newPeriod, t), newAnchor, "new schedule: ends at the new anchor");
        vm.assertEq(TimeWindow.periodEnd(anchor, period, t), newAnchor, "old schedule: the same end");
        // from the new anchor on: the new grid
        uint256 kk = _bound(k, 0, type(uint32).max);
        uint256 s = newAnchor + kk * newPeriod;
        vm.assertEq(TimeWindow.periodEnd(newAnchor, newPeriod, s), s + newPeriod, "first second of a new window");
        vm.assertEq(TimeWindow.periodEnd(newAnchor, newPeriod, s + newPeriod - 1), s + newPeriod, "its last second");
    }

    /// @notice An external entry point so that a test can expect periodEnd's revert.
    function periodEndOf(uint256 anchor, uint256 period, uint256 t) external pure returns (uint256) {
        return TimeWindow.periodEnd(anchor, period, t);
    }

    /// @notice A zero period (never stored: policy validation refuses it) panics like Solidity's `%` at or after the
    ///         anchor, and before the anchor the answer is still the anchor.
    function testFuzz_periodEnd_zeroPeriodPanicsFromTheAnchorOn(uint48 anchor, uint64 t) public {
        vm.assertEq(this.periodEndOf(uint256(anchor) + 1, 0, anchor), uint256(anchor) + 1, "before the anchor");
        t = uint64(_bound(t, anchor, type(uint64).max));
        vm.expectRevert(abi.encodeWithSignature("Panic(uint256)", 0x12));
        this.periodEndOf(anchor, 0, t);
    }

    // ---------------------------------------------------------------- the active-hours mask

    function _agent() internal view returns (AgentStorage.Agent storage) {
        return AgentStorage.layout().agents[ID];
    }

    function _outside(uint256 h) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(IAgentGuardrails.OutsideActiveHours.selector, ID, h);
    }

    // The checks below read block.timestamp. Each runs in a call of its own (`this.…`), after the warp: inside one
    // function the optimizer may keep the first timestamp it read, since it cannot change within a transaction.

    /// @notice TimeWindow.checkActiveHours on the stored agent, at the current (warped) time.
    function activeHoursNow(bool anyHour) external view returns (bytes memory) {
        return TimeWindow.checkActiveHours(_agent(), ID, anyHour);
    }

    /// @notice TimeWindow.checkValidity and isValid at the current (warped) time.
    function validityNow(uint256 validAfter, uint256 validUntil) external view returns (bytes memory, bool) {
        return (TimeWindow.checkValidity(ID, validAfter, validUntil), TimeWindow.isValid(validAfter, validUntil));
    }

    function _hoursAt(uint256 t) internal returns (bytes memory) {
        vm.warp(t);
        return this.activeHoursNow(false);
    }

    /// @notice Every hour of a week (0..167), at its first (:00:00) and last (:59:59) second: the check passes exactly
    ///         when bit h of the mask is set, and otherwise refuses with OutsideActiveHours(agentId, h). The week
    ///         wraps from Sunday 23:59:59 (h = 167) to Monday 00:00:00 (h = 0).
    function testFuzz_activeHours_everyHourOfTheWeek(uint168 mask, uint32 weeks_) public {
        _agent().activeHours = mask;
        uint256 monday = MONDAY_2024 + uint256(weeks_) * WEEK;
        for (uint256 h; h < 168; ++h) {
            bytes memory expected = (mask >> h) & 1 == 1 ? bytes("") : _outside(h);
            vm.assertEq(_hoursAt(monday + h * 3600), expected, "at hh:00:00");
            vm.assertEq(_hoursAt(monday + h * 3600 + 3599), expected, "at hh:59:59");
        }
        // Sunday 23:59:59, then Monday 00:00:00 of the next week
        bytes memory sunday = (mask >> 167) & 1 == 1 ? bytes("") : _outside(167);
        vm.assertEq(_hoursAt(monday + WEEK - 1), sunday, "Sunday 23:59:59");
        vm.assertEq(_hoursAt(monday + WEEK), mask & 1 == 1 ? bytes("") : _outside(0), "Monday 00:00:00");
    }

    /// @notice A mask of one hour allows exactly the 3600 seconds of that hour, every week, at any time.
    function testFuzz_activeHours_singleHourMask(uint8 hour, uint64 t) public {
        uint256 h = _bound(hour, 0, 167);
        _agent().activeHours = uint168(uint256(1) << h);
        uint256 now_ = TimeWindow.hourOfWeek(t);
        vm.assertEq(_hoursAt(t), now_ == h ? bytes("") : _outside(now_), "only hour h");
        // the hour's first and last second pass, the seconds around them do not
        uint256 start = MONDAY_2024 + h * 3600;
        vm.assertEq(_hoursAt(start), bytes(""), "first second");
        vm.assertEq(_hoursAt(start + 3599), bytes(""), "last second");
        vm.assertEq(_hoursAt(start - 1), _outside((h + 167) % 168), "the second before");
        vm.assertEq(_hoursAt(start + 3600), _outside((h + 1) % 168), "the second after");
    }

    /// @notice With `anyHour` (the account's flag for a full mask) the mask is not read: never a refusal, even with
    ///         an empty mask in storage.
    function testFuzz_activeHours_anyHourSkipsTheMask(uint168 mask, uint64 t) public {
        _agent().activeHours = mask;
        vm.warp(t);
        vm.assertEq(this.activeHoursNow(true), bytes(""), "anyHour");
    }

    // ---------------------------------------------------------------- the validity window

    function _validity(uint256 validAfter, uint256 validUntil, uint256 t) internal pure returns (bytes memory) {
        if (t < validAfter) return abi.encodeWithSelector(IAgentGuardrails.AgentNotYetValid.selector, ID, validAfter);
        if (t > validUntil) return abi.encodeWithSelector(IAgentGuardrails.AgentExpired.selector, ID, validUntil);
        return "";
    }

    /// @notice The window is inclusive at both ends: refused with AgentNotYetValid before validAfter and AgentExpired
    ///         after validUntil, and isValid agrees with checkValidity at every time, the four edges included.
    function testFuzz_validity_inclusiveAtBothEnds(uint48 validAfter, uint48 validUntil, uint48 t) public {
        uint256[5] memory times = [uint256(t), validAfter, validUntil, uint256(validUntil) + 1, validAfter];
        if (validAfter > 0) times[4] = uint256(validAfter) - 1;
        for (uint256 i; i < times.length; ++i) {
            vm.warp(times[i]);
            (bytes memory v, bool valid) = this.validityNow(validAfter, validUntil);
            vm.assertEq(v, _validity(validAfter, validUntil, times[i]), "checkValidity");
            vm.assertEq(valid, v.length == 0, "isValid agrees");
        }
    }

    /// @notice Anywhere inside the window (both edges included) the check passes and isValid holds.
    function testFuzz_validity_passesInsideTheWindow(uint48 validAfter, uint48 validUntil, uint48 t) public {
        validUntil = uint48(_bound(validUntil, validAfter, type(uint48).max));
        vm.warp(_bound(t, validAfter, validUntil));
        (bytes memory v, bool valid) = this.validityNow(validAfter, validUntil);
        vm.assertEq(v, "", "no refusal");
        vm.assertTrue(valid, "isValid");
    }
}
