// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {TimeWindow} from "../contracts/libraries/TimeWindow.sol";
import {SolTestBase} from "./SolTestBase.t.sol";

/// @notice The clock rules of SPEC sections 1 and 2: the anchored period schedule and the hour of the week.
contract TimeWindowTest is SolTestBase {
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
}
