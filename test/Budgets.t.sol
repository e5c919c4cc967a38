// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IAgentGuardrails} from "../contracts/interfaces/IAgentGuardrails.sol";
import {AgentStorage} from "../contracts/libraries/AgentStorage.sol";
import {CallLimit} from "../contracts/libraries/CallLimit.sol";
import {GasBudget} from "../contracts/libraries/GasBudget.sol";
import {SpendLimits} from "../contracts/libraries/SpendLimits.sol";
import {SolTestBase} from "./SolTestBase.t.sol";

/// @notice The gas budget (GasBudget) and the call limit (CallLimit) at the edges of their arithmetic, on an agent kept
///         in this test contract's own storage at the account's storage location: a finite budget of up to 2^128 - 2
///         wei, the unlimited sentinel, charges up to 2^256 - 1, and call counts across period boundaries; and the
///         per-payment cap read from a token's packed state word.
contract BudgetsTest is SolTestBase {
    bytes32 internal constant ID = bytes32(uint256(0xB0D6E7));
    uint256 internal constant MAX_CAP = 2 ** 128 - 2;
    /// @dev AgentStorage.MAX_COUNT: where the charged counter saturates.
    uint256 internal constant MAX_COUNT = 2 ** 128 - 2;
    uint128 internal constant UNLIMITED = type(uint128).max;

    function _agent() internal view returns (AgentStorage.Agent storage) {
        return AgentStorage.layout().agents[ID];
    }

    /// @notice GasBudget.charge on the stored agent (external, so that a test can expect its revert).
    function charge(uint256 required) external {
        GasBudget.charge(_agent(), ID, required);
    }

    /// @dev A charge mostly around what is left (just under, exactly, just over), sometimes anything up to 2^256 - 1.
    function _required(uint256 seed, uint256 left) internal pure returns (uint256) {
        uint256 pick = seed % 4;
        if (pick == 0) return seed;
        if (left == type(uint256).max) return type(uint256).max - (seed % 3);
        return _bound(seed, left == 0 ? 0 : left - 1, left + 1);
    }

    // ---------------------------------------------------------------- GasBudget

    /// @notice A finite budget: a charge passes exactly when it fits what is left (budget - charged, floored at 0),
    ///         then the charged counter grows by it and `remaining` shrinks by it; a charge that does not fit reverts
    ///         with GasBudgetExceeded(agentId, required, left) and changes nothing.
    function testFuzz_gasBudget_finiteBudgetChargesExactlyWhatFits(
        uint128 budget,
        uint128 charged,
        uint256 seed
    ) public {
        budget = uint128(_bound(budget, 0, MAX_CAP));
        charged = uint128(_bound(charged, 0, MAX_COUNT));
        _agent().gasBudget = budget;
        _agent().gasCharged = charged;
        uint256 left = charged >= budget ? 0 : budget - charged;
        vm.assertEq(GasBudget.remaining(_agent()), left, "remaining before");
        uint256 required = _required(seed, left);
        if (required > left) {
            vm.expectRevert(abi.encodeWithSelector(IAgentGuardrails.GasBudgetExceeded.selector, ID, required, left));
            this.charge(required);
            vm.assertEq(_agent().gasCharged, charged, "nothing charged");
            vm.assertEq(GasBudget.remaining(_agent()), left, "remaining unchanged");
        } else {
            this.charge(required);
            vm.assertEq(_agent().gasCharged, uint256(charged) + required, "charged + required");
            vm.assertEq(GasBudget.remaining(_agent()), left - required, "remaining - required");
        }
        vm.assertEq(_agent().gasBudget, budget, "the budget itself never changes");
    }

    /// @notice The unlimited sentinel: every charge passes, up to 2^256 - 1, `remaining` stays type(uint256).max, and
    ///         the charged counter adds up saturating at 2^128 - 2 without ever wrapping.
    function testFuzz_gasBudget_unlimitedAlwaysPassesAndSaturates(uint128 charged, uint256[4] calldata seeds) public {
        charged = uint128(_bound(charged, 0, MAX_COUNT));
        _agent().gasBudget = UNLIMITED;
        _agent().gasCharged = charged;
        uint256 expected = charged;
        for (uint256 i; i < seeds.length; ++i) {
            uint256 required = _required(seeds[i], type(uint256).max);
            this.charge(required);
            expected = required >= MAX_COUNT - expected ? MAX_COUNT : expected + required;
            vm.assertEq(_agent().gasCharged, expected, "saturating sum");
            vm.assertEq(GasBudget.remaining(_agent()), type(uint256).max, "still unlimited");
            vm.assertEq(_agent().gasBudget, UNLIMITED, "still the sentinel");
        }
    }

    /// @notice The largest finite budget (2^128 - 2) is not the sentinel: it runs out.
    function testFuzz_gasBudget_largestFiniteBudgetRunsOut(uint256 first) public {
        _agent().gasBudget = uint128(MAX_CAP);
        first = _bound(first, 0, MAX_CAP);
        this.charge(first);
        this.charge(MAX_CAP - first);
        vm.assertEq(GasBudget.remaining(_agent()), 0, "spent to the last wei");
        vm.expectRevert(abi.encodeWithSelector(IAgentGuardrails.GasBudgetExceeded.selector, ID, 1, 0));
        this.charge(1);
        this.charge(0);
        vm.assertEq(_agent().gasCharged, MAX_CAP, "charged the whole budget");
    }

    // ---------------------------------------------------------------- CallLimit

    /// @notice A limited agent, over random batches and period changes: a batch of n calls passes exactly when the
    ///         calls already counted in the current period (none after a boundary) plus n stay within the limit;
    ///         otherwise CallLimitExceeded(agentId, limit, periodEnd), and nothing is counted.
    function testFuzz_callLimit_countsCallsPerPeriod(uint32 limit, uint8[10] calldata sizes, uint8 boundaries) public {
        limit = uint32(_bound(limit, 0, 12));
        _agent().maxCallsPerPeriod = limit;
        uint256 end = 1_700_000_000;
        uint256 counted;
        uint256 countedEnd;
        for (uint256 i; i < sizes.length; ++i) {
            if ((boundaries >> (i % 8)) & 1 == 1) end += 1 days;
            uint256 n = sizes[i] % 6;
            (bytes memory v, uint256 newCount) = CallLimit.check(_agent(), ID, n, end);
            uint256 used = countedEnd == end ? counted : 0;
            if (used + n > limit) {
                vm.assertEq(
                    v,
                    abi.encodeWithSelector(IAgentGuardrails.CallLimitExceeded.selector, ID, limit, end),
                    "over the limit"
                );
            } else {
                vm.assertEq(v, "", "within the limit");
                vm.assertEq(newCount, used + n, "the period's count after the batch");
                CallLimit.consume(_agent(), newCount, end);
                (counted, countedEnd) = (newCount, end);
            }
            vm.assertEq(_agent().callsInPeriod, counted, "stored count");
            vm.assertEq(_agent().callsPeriodEnd, countedEnd, "stored period end");
            vm.assertLe(_agent().callsInPeriod, limit, "never above the limit");
        }
    }

    /// @notice The largest real limit (2^32 - 2) counts like any other, right up to its edge.
    function testFuzz_callLimit_largestRealLimit(uint32 used, uint256 n, uint48 end) public {
        uint256 limit = uint256(type(uint32).max) - 1;
        used = uint32(_bound(used, 0, limit));
        n = _bound(n, 0, 2 ** 33);
        _agent().maxCallsPerPeriod = uint32(limit);
        _agent().callsInPeriod = used;
        _agent().callsPeriodEnd = end;
        (bytes memory v, uint256 newCount) = CallLimit.check(_agent(), ID, n, end);
        if (uint256(used) + n > limit) {
            vm.assertEq(v, abi.encodeWithSelector(IAgentGuardrails.CallLimitExceeded.selector, ID, limit, end), "over");
        } else {
            vm.assertEq(v, "", "within");
            vm.assertEq(newCount, uint256(used) + n, "count");
        }
    }

    /// @notice Without a limit (the sentinel 2^32 - 1) nothing is ever refused or counted, whatever is stored.
    function testFuzz_callLimit_unlimitedNeverCounts(uint32 stored, uint48 storedEnd, uint256 n, uint256 end) public {
        _agent().maxCallsPerPeriod = CallLimit.UNLIMITED;
        _agent().callsInPeriod = stored;
        _agent().callsPeriodEnd = storedEnd;
        (bytes memory v, uint256 newCount) = CallLimit.check(_agent(), ID, n, end);
        vm.assertEq(v, "", "never refused");
        vm.assertEq(newCount, 0, "not counted");
    }

    // ---------------------------------------------------------------- stored caps

    /// @notice Caps are stored in 128 bits: every real cap (0 .. 2^128 - 2) round-trips unchanged, type(uint256).max
    ///         becomes the sentinel 2^128 - 1 and reads back as type(uint256).max; nothing else is stored as the
    ///         sentinel (policy validation refuses 2^128 - 1 .. 2^256 - 2, see test/SpendLimits.t.sol).
    function testFuzz_storedCaps_roundTrip(uint256 cap) public pure {
        cap = _bound(cap, 0, MAX_CAP);
        uint128 stored = AgentStorage.toStored(cap);
        vm.assertEq(stored, cap, "stored as is");
        vm.assertTrue(stored != UNLIMITED, "a real cap is never the sentinel");
        vm.assertEq(AgentStorage.fromStored(stored), cap, "read back");
        vm.assertEq(AgentStorage.toStored(type(uint256).max), UNLIMITED, "unlimited -> sentinel");
        vm.assertEq(AgentStorage.fromStored(UNLIMITED), type(uint256).max, "sentinel -> unlimited");
        vm.assertEq(AgentStorage.fromStored(uint128(MAX_CAP)), MAX_CAP, "the largest real cap");
    }

    // ---------------------------------------------------------------- the per-payment cap

    /// @dev A token's first state word as the account stores it: flags above bit 168, perPayment in the low 128 bits.
    function _t0(uint256 flags, uint128 storedCap, uint256 junk) internal pure returns (uint256) {
        // bits 128..167 (period and part of the anchor) and above the flags byte hold other data: random here
        uint256 middle = (junk << 128) & (((uint256(1) << 40) - 1) << 128);
        uint256 high = (junk >> 40) << 176;
        return high | (flags << AgentStorage.FLAGS_SHIFT) | middle | storedCap;
    }

    /// @notice Any amount up to 2^256 - 1 against any stored cap: the sentinel 2^128 - 1 lets every amount through;
    ///         a real cap (up to 2^128 - 2) refuses exactly the amounts above it with PerPaymentCapExceeded(agentId,
    ///         token, amount, cap); an unlisted token is refused with TokenNotAllowed whatever the amount.
    function testFuzz_perPayment_capEdges(
        uint128 storedCap,
        uint256 amountSeed,
        uint256 junk,
        address token
    ) public pure {
        uint256 cap = storedCap == UNLIMITED ? type(uint256).max : storedCap;
        uint256[7] memory amounts = [
            amountSeed,
            cap == 0 ? 0 : cap - 1,
            cap,
            cap == type(uint256).max ? cap : cap + 1,
            MAX_CAP,
            uint256(UNLIMITED),
            type(uint256).max
        ];
        // the other flag bits (ANY_HOUR, CALL_LIMIT, ...) set at random
        uint256 otherFlags = uint256(keccak256(abi.encode(junk))) & 0xfe;
        uint256 listed = _t0(AgentStorage.LISTED | otherFlags, storedCap, junk);
        uint256 unlisted = _t0(otherFlags, storedCap, junk);
        for (uint256 i; i < amounts.length; ++i) {
            uint256 amount = amounts[i];
            bytes memory want =
                amount > cap
                    ? abi.encodeWithSelector(IAgentGuardrails.PerPaymentCapExceeded.selector, ID, token, amount, cap)
                    : bytes("");
            vm.assertEq(SpendLimits.checkPerPayment(ID, token, listed, amount), want, "listed token");
            vm.assertEq(
                SpendLimits.checkPerPayment(ID, token, unlisted, amount),
                abi.encodeWithSelector(IAgentGuardrails.TokenNotAllowed.selector, ID, token),
                "unlisted token"
            );
        }
    }
}
