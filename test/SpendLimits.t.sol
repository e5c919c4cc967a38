// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {SolTestSpendHarness} from "../contracts/test/SolTestSpendHarness.sol";
import {AgentPolicy, TokenLimit, IAgentGuardrails} from "../contracts/interfaces/IAgentGuardrails.sol";
import {SolTestBase} from "./SolTestBase.t.sol";

/// @notice SpendLimits under random sequences of payments and time jumps: a payment is accepted exactly when SPEC
///         section 3 says so, counters never pass their caps, and the saturating counters never wrap.
contract SpendLimitsTest is SolTestBase {
    uint256 internal constant MAX_CAP = 2 ** 128 - 2;
    /// @dev Where counters saturate (AgentStorage.MAX_COUNT): the largest real cap, so a saturated counter exhausts any.
    uint256 internal constant SATURATED = 2 ** 128 - 2;
    uint256 internal constant UNLIMITED = type(uint256).max;
    uint256 internal constant START = 1_700_000_000;
    address internal constant TOKEN = address(0x70CE1);
    address internal constant ETH = address(0);
    address internal constant UNLISTED = address(0xBAD);
    address internal constant MERCHANT = address(0x3E1);
    uint256 internal constant STEPS = 12;

    SolTestSpendHarness internal harness;
    bytes32 internal agentId;
    uint256 internal period;

    /// @dev The model: per token, what it paid in the period ending at `end`, and ever.
    struct Model {
        uint256 cap; // perPayment
        uint256 perPeriod;
        uint256 lifetime;
        uint256 end;
        uint256 inPeriod;
        uint256 inLifetime;
    }

    mapping(address token => Model) internal model;

    function setUp() public {
        vm.warp(START);
        harness = new SolTestSpendHarness();
        agentId = harness.AGENT_ID();
    }

    // ---------------------------------------------------------------- helpers

    function _configure(uint256 period_, TokenLimit[] memory limits) internal {
        address[] memory merchants = new address[](1);
        merchants[0] = MERCHANT;
        harness.configure(
            AgentPolicy({
                validAfter: uint48(START),
                validUntil: type(uint48).max,
                period: uint32(period_),
                activeHours: type(uint168).max,
                maxCallsPerPeriod: type(uint32).max,
                gasBudget: 0,
                mandate: bytes32(0),
                limits: limits,
                merchants: merchants
            })
        );
        period = period_;
        for (uint256 i; i < limits.length; ++i) {
            Model storage m = model[limits[i].token];
            (m.cap, m.perPeriod, m.lifetime) = (limits[i].perPayment, limits[i].perPeriod, limits[i].lifetime);
        }
    }

    /// @dev The end of the current period by plain division (anchor = START, the grant's validAfter).
    function _end() internal view returns (uint256) {
        return START + ((block.timestamp - START) / period + 1) * period;
    }

    function _left(uint256 cap, uint256 used) internal pure returns (uint256) {
        if (cap == UNLIMITED) return UNLIMITED;
        return cap > used ? cap - used : 0;
    }

    function _saturatingAdd(uint256 a, uint256 b) internal pure returns (uint256) {
        if (b >= SATURATED) return SATURATED;
        uint256 s = a + b; // a <= 2^128 - 2 and b < 2^128 - 2: no overflow
        return s > SATURATED ? SATURATED : s;
    }

    /// @dev What SPEC says a batch does: the first refusal (per-payment caps of the whole batch first, then each payment
    ///      against the period and lifetime caps, payments of one token adding up), or "" and the model moves.
    function _expectBatch(SolTestSpendHarness.Pay[] memory ps) internal returns (bytes memory) {
        for (uint256 i; i < ps.length; ++i) {
            Model storage m = model[ps[i].token];
            if (ps[i].token == UNLISTED) {
                return abi.encodeWithSelector(IAgentGuardrails.TokenNotAllowed.selector, agentId, UNLISTED);
            }
            if (ps[i].amount > m.cap) {
                return
                    abi.encodeWithSelector(
                        IAgentGuardrails.PerPaymentCapExceeded.selector,
                        agentId,
                        ps[i].token,
                        ps[i].amount,
                        m.cap
                    );
            }
        }
        uint256 end = _end();
        uint256[] memory p = new uint256[](ps.length);
        uint256[] memory lt = new uint256[](ps.length);
        for (uint256 i; i < ps.length; ++i) {
            Model storage m = model[ps[i].token];
            // running totals: an earlier payment of the same token in this batch, else storage
            (p[i], lt[i]) = (m.end == end ? m.inPeriod : 0, m.inLifetime);
            for (uint256 j; j < i; ++j) if (ps[j].token == ps[i].token) (p[i], lt[i]) = (p[j], lt[j]);
            uint256 leftP = _left(m.perPeriod, p[i]);
            if (ps[i].amount > leftP) {
                return
                    abi.encodeWithSelector(
                        IAgentGuardrails.PeriodCapExceeded.selector,
                        agentId,
                        ps[i].token,
                        ps[i].amount,
                        leftP,
                        end
                    );
            }
            uint256 leftL = _left(m.lifetime, lt[i]);
            if (ps[i].amount > leftL) {
                return
                    abi.encodeWithSelector(
                        IAgentGuardrails.LifetimeCapExceeded.selector,
                        agentId,
                        ps[i].token,
                        ps[i].amount,
                        leftL
                    );
            }
            (p[i], lt[i]) = (_saturatingAdd(p[i], ps[i].amount), _saturatingAdd(lt[i], ps[i].amount));
        }
        for (uint256 i; i < ps.length; ++i) {
            Model storage m = model[ps[i].token];
            (m.end, m.inPeriod, m.inLifetime) = (end, p[i], lt[i]);
        }
        return "";
    }

    function _checkCounters(address token) internal view {
        Model storage m = model[token];
        (uint256 inPeriod, uint256 inLifetime) = harness.spent(token);
        vm.assertEq(inPeriod, m.end == _end() ? m.inPeriod : 0, "spent in period = the model");
        vm.assertEq(inLifetime, m.inLifetime, "spent in lifetime = the model");
        if (m.perPeriod != UNLIMITED) vm.assertLe(inPeriod, m.perPeriod, "spentInPeriod <= perPeriod");
        if (m.lifetime != UNLIMITED) vm.assertLe(inLifetime, m.lifetime, "spentLifetime <= lifetime");
        (, uint256 leftP, uint256 leftL, uint256 resetsAt) = harness.remaining(token);
        vm.assertEq(leftP, _left(m.perPeriod, inPeriod), "remaining in period");
        vm.assertEq(leftL, _left(m.lifetime, inLifetime), "remaining in lifetime");
        vm.assertEq(resetsAt, _end(), "resets at the end of the current period");
    }

    /// @dev perPayment <= perPeriod <= lifetime, scaled so that small and huge caps are both exercised.
    function _caps(uint256 a, uint256 b, uint256 c, uint256 scale) internal pure returns (uint256, uint256, uint256) {
        uint256 unit = [uint256(1), 1e6, 1e18, 2 ** 100][scale % 4];
        uint256 lifetime = _bound(c, 0, 10_000) * unit;
        if (lifetime > MAX_CAP) lifetime = MAX_CAP;
        uint256 perPeriod = _bound(b, 0, lifetime);
        uint256 perPayment = _bound(a, 0, perPeriod);
        return (perPayment, perPeriod, lifetime);
    }

    function _amount(Model storage m, uint256 raw, uint256 mode) internal view returns (uint256) {
        mode %= 5;
        if (mode == 0) return _bound(raw, 0, m.cap);
        if (mode == 1) return m.cap;
        if (mode == 2) return _bound(raw, 0, m.cap / 3 + 1);
        if (mode == 3) return _bound(raw, m.cap, m.cap + 2); // at and just over the per-payment cap
        return raw;
    }

    // ---------------------------------------------------------------- fuzz

    /// @notice Random batches (one or two payments, of the token, ETH or an unlisted token) at random times: each batch
    ///         is refused with exactly SPEC's error or accepted, and the counters match a model that never lets
    ///         spentInPeriod pass perPeriod or spentLifetime pass lifetime.
    function testFuzz_payments_neverExceedPeriodOrLifetimeCap(
        uint256[3] calldata tokenCaps,
        uint256[3] calldata ethCaps,
        uint8 scale,
        uint32 period_,
        uint256[STEPS] calldata amounts,
        uint32[STEPS] calldata gaps,
        uint16[STEPS] calldata choices
    ) public {
        period_ = uint32(_bound(period_, 1, 30 days));
        TokenLimit[] memory limits = new TokenLimit[](2);
        (uint256 a, uint256 b, uint256 c) = _caps(tokenCaps[0], tokenCaps[1], tokenCaps[2], scale);
        limits[0] = TokenLimit(TOKEN, a, b, c, 0, 0);
        (a, b, c) = _caps(ethCaps[0], ethCaps[1], ethCaps[2], scale >> 2);
        limits[1] = TokenLimit(ETH, a, b, c, 0, 0);
        _configure(period_, limits);

        for (uint256 i; i < STEPS; ++i) {
            uint256 ch = choices[i];
            // time: stay, or jump up to two periods ahead
            if (ch & 1 == 1) vm.warp(block.timestamp + _bound(gaps[i], 1, 2 * uint256(period_)));
            SolTestSpendHarness.Pay[] memory ps = new SolTestSpendHarness.Pay[](ch & 2 == 2 ? 2 : 1);
            for (uint256 k; k < ps.length; ++k) {
                uint256 sel = (ch >> (2 + 5 * k)) & 31;
                address token = sel % 9 == 8 ? UNLISTED : (sel & 1 == 0 ? TOKEN : ETH);
                uint256 raw = uint256(keccak256(abi.encode(amounts[i], k)));
                ps[k] = SolTestSpendHarness.Pay(token, _amount(model[token], raw, sel >> 1));
            }
            bytes memory want = _expectBatch(ps);
            bytes memory got = harness.pay(ps);
            vm.assertEq(got, want, "the batch's verdict");
            _checkCounters(TOKEN);
            _checkCounters(ETH);
        }
    }

    /// @notice Payments of one token in a batch add up: a batch whose payments each fit the per-payment cap but together
    ///         pass the period's room is refused with the breaking payment's amount and the room left just before it,
    ///         and nothing of the batch is charged.
    function testFuzz_batch_paymentsOfOneTokenAddUp(uint256 perPeriod, uint256 spentBefore, uint8 n) public {
        perPeriod = _bound(perPeriod, 2, 1e12);
        uint256 perPayment = perPeriod / 2 + 1;
        TokenLimit[] memory limits = new TokenLimit[](1);
        limits[0] = TokenLimit(TOKEN, perPayment, perPeriod, 10 * perPeriod, 0, 0);
        _configure(1 days, limits);
        spentBefore = _bound(spentBefore, 0, perPayment);
        SolTestSpendHarness.Pay[] memory first = new SolTestSpendHarness.Pay[](1);
        first[0] = SolTestSpendHarness.Pay(TOKEN, spentBefore);
        vm.assertEq(harness.pay(first), "", "the first payment fits");

        // n payments of perPayment each: the first that does not fit the period's room breaks the batch
        uint256 count = _bound(n, 2, 6);
        SolTestSpendHarness.Pay[] memory ps = new SolTestSpendHarness.Pay[](count);
        for (uint256 i; i < count; ++i) ps[i] = SolTestSpendHarness.Pay(TOKEN, perPayment);
        uint256 room = perPeriod - spentBefore;
        uint256 fit = room / perPayment; // payments that fit before the breaking one
        if (fit >= count) return; // (cannot happen: 2 * perPayment > perPeriod)
        vm.assertEq(
            harness.pay(ps),
            abi.encodeWithSelector(
                IAgentGuardrails.PeriodCapExceeded.selector,
                agentId,
                TOKEN,
                perPayment,
                room - fit * perPayment,
                START + 1 days
            ),
            "PeriodCapExceeded(amount of the breaking payment, room just before it)"
        );
        (uint256 inPeriod, uint256 inLifetime) = harness.spent(TOKEN);
        vm.assertEq(inPeriod, spentBefore, "nothing of the refused batch is charged (period)");
        vm.assertEq(inLifetime, spentBefore, "nothing of the refused batch is charged (lifetime)");
    }

    /// @notice With unlimited caps every payment passes, and the counters add up saturating at 2^128 - 2: they never
    ///         wrap around to a small number, whatever the amounts.
    function testFuzz_unlimitedCaps_countersSaturateAndNeverWrap(
        uint256[STEPS] calldata amounts,
        uint16 hugeMask,
        uint32[STEPS] calldata gaps
    ) public {
        TokenLimit[] memory limits = new TokenLimit[](1);
        limits[0] = TokenLimit(TOKEN, UNLIMITED, UNLIMITED, UNLIMITED, 0, 0);
        _configure(1 hours, limits);
        uint256 lastLifetime;
        for (uint256 i; i < STEPS; ++i) {
            if (gaps[i] % 3 == 0) vm.warp(block.timestamp + (gaps[i] % 2 hours));
            // mostly amounts near 2^127, sometimes anything up to 2^256 - 1
            uint256 amount = (hugeMask >> i) & 1 == 1 ? amounts[i] : _bound(amounts[i], 0, 2 ** 127);
            SolTestSpendHarness.Pay[] memory ps = new SolTestSpendHarness.Pay[](1);
            ps[0] = SolTestSpendHarness.Pay(TOKEN, amount);
            vm.assertEq(_expectBatch(ps), "", "unlimited: always passes");
            vm.assertEq(harness.pay(ps), "", "unlimited: always passes");
            (uint128 rawP, uint128 rawL) = harness.rawCounters(TOKEN);
            vm.assertEq(rawP, model[TOKEN].inPeriod, "period counter = saturating sum");
            vm.assertEq(rawL, model[TOKEN].inLifetime, "lifetime counter = saturating sum");
            vm.assertGe(rawL, lastLifetime, "the lifetime counter never goes down (no wrap)");
            vm.assertGe(rawL, amount >= SATURATED ? SATURATED : amount, "the counter holds at least the payment");
            lastLifetime = rawL;
            _checkCounters(TOKEN);
        }
    }

    /// @notice A counter saturated under unlimited caps stays exhausted for any real cap set later: the next payment is
    ///         refused with nothing left in the period, and, next period, with nothing left in the lifetime.
    function testFuzz_saturatedCounter_staysExhaustedForAnyRealCap(uint256 huge, uint256 cap, uint256 amount) public {
        TokenLimit[] memory limits = new TokenLimit[](1);
        limits[0] = TokenLimit(TOKEN, UNLIMITED, UNLIMITED, UNLIMITED, 0, 0);
        _configure(1 days, limits);
        huge = _bound(huge, SATURATED, UNLIMITED);
        SolTestSpendHarness.Pay[] memory ps = new SolTestSpendHarness.Pay[](1);
        ps[0] = SolTestSpendHarness.Pay(TOKEN, huge);
        vm.assertEq(harness.pay(ps), "", "unlimited: passes");
        ps[0].amount = _bound(amount, 0, UNLIMITED);
        vm.assertEq(harness.pay(ps), "", "unlimited: passes again");
        (uint128 rawP, uint128 rawL) = harness.rawCounters(TOKEN);
        vm.assertEq(rawP, SATURATED, "period counter saturated, not wrapped");
        vm.assertEq(rawL, SATURATED, "lifetime counter saturated, not wrapped");

        cap = _bound(cap, 1, MAX_CAP);
        limits[0] = TokenLimit(TOKEN, cap, cap, cap, 0, 0);
        _configure(1 days, limits);
        amount = _bound(amount, 1, cap);
        ps[0].amount = amount;
        vm.assertEq(
            harness.pay(ps),
            abi.encodeWithSelector(
                IAgentGuardrails.PeriodCapExceeded.selector,
                agentId,
                TOKEN,
                amount,
                0,
                START + 1 days
            ),
            "nothing left in the period"
        );
        vm.warp(START + 1 days);
        vm.assertEq(
            harness.pay(ps),
            abi.encodeWithSelector(IAgentGuardrails.LifetimeCapExceeded.selector, agentId, TOKEN, amount, 0),
            "nothing left in the lifetime"
        );
        (rawP, rawL) = harness.rawCounters(TOKEN);
        vm.assertEq(rawL, SATURATED, "still saturated");
    }

    /// @notice addSaturating is a + b capped at 2^128 - 2, for every a <= 2^128 - 2 (what counters hold) and every b.
    function testFuzz_addSaturating_isTheCappedSum(uint128 a, uint256 b) public view {
        a = uint128(_bound(a, 0, SATURATED));
        uint256 want = b >= SATURATED - a ? SATURATED : uint256(a) + b;
        vm.assertEq(harness.addSaturating(a, b), want, "capped sum");
        vm.assertGe(harness.addSaturating(a, b), a, "never below a");
    }
}
