// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Execution} from "@openzeppelin/contracts/interfaces/draft-IERC7579.sol";
import {AgentAccount} from "../contracts/AgentAccount.sol";
import {AgentAccountFactory} from "../contracts/AgentAccountFactory.sol";
import {AgentPolicy, TokenLimit} from "../contracts/interfaces/IAgentGuardrails.sol";
import {TestUSDC} from "../contracts/tokens/TestUSDC.sol";
import {SolTestBase} from "./SolTestBase.t.sol";

/// @notice Drives one real account and the real EIP-3009 test USDC through random mixes of x402 lane payments (signed
///         by the agent's current key, a retired key or a stranger, for any slot, value, recipient and window), ordinary
///         payments, lane openings by the key or the owner, updates that switch the lane off and on, key rotations,
///         pauses and time jumps across period boundaries. It books what left the account per agent and period from
///         the account's balance, not from its counters.
// solhint-disable-next-line max-states-count
contract SolTestLaneHandler is SolTestBase {
    uint256 internal constant N = 2; // agents
    uint256 internal constant R = 3; // recipients: 0 and 1 are merchants of both agents, 2 never is
    address internal constant ENTRY_POINT = address(0xE7E7);
    uint256 internal constant OWNER_PK = 0x0A11CE;
    uint256 internal constant STRANGER_PK = 0x57A4;
    uint256 internal constant PERIOD = 1 days;
    uint256 internal constant PER_PAYMENT = 50e6;
    uint256 internal constant PER_PERIOD = 120e6;
    uint256 internal constant LIFETIME = 700e6;
    uint32 internal constant LANE_COUNT = 4;
    uint256 internal constant LANE_MAX = 20e6;
    bytes32 internal constant TRANSFER_WITH_AUTHORIZATION_TYPEHASH = keccak256(
        "TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"
    );

    AgentAccount public immutable account;
    TestUSDC public immutable usdc;
    address public immutable owner;

    bytes32[N] public agentIds;
    address[R] public recipients;
    mapping(uint256 agent => uint256[]) internal _keyPks; // every key the agent had; the current one last
    mapping(uint256 agent => bool) public laneOn;
    bool public paused;
    uint256 internal _nextPk = 0xC0C0;
    uint256 internal _nonceSalt;

    // ---- the books, from the account's balance
    mapping(uint256 agent => uint256) public movedLifetime;
    mapping(uint256 agent => mapping(uint256 periodEnd => uint256)) public movedInPeriod;

    // ---- breaches (each must stay 0) and coverage counters
    uint256 public periodBreaches;
    uint256 public lifetimeBreaches;
    uint256 public forbiddenLanePays; // paused, retired or foreign key, non-merchant, over laneMax, outside the window
    uint256 public viewMismatches; // checkLanePayment and the settlement disagree
    uint256 public lanePays;
    uint256 public laneRefusals;
    uint256 public openings;

    constructor() {
        owner = vm.addr(OWNER_PK);
        AgentAccount implementation = new AgentAccount(ENTRY_POINT);
        AgentAccountFactory factory = new AgentAccountFactory(address(implementation));
        account = AgentAccount(payable(factory.createAccount(owner, 0)));
        usdc = new TestUSDC(address(this));
        usdc.mint(address(account), 1e15);
        for (uint256 r; r < R; ++r) recipients[r] = address(uint160(0x4E0000 + r));
        for (uint256 a; a < N; ++a) {
            agentIds[a] = bytes32((uint256(0x1A9E) << 192) | (a + 1));
            _keyPks[a].push(_nextPk++);
            laneOn[a] = true;
            vm.prank(owner);
            account.grantAgent(agentIds[a], vm.addr(_keyPks[a][0]), _policy(true));
        }
    }

    // ================================================================ handler actions

    /// @notice A lane payment settled through the token by anyone: usually well formed and signed by the agent's
    ///         current key; sometimes for a slot out of range, a value over laneMax, a non-merchant, a window that
    ///         outlives the period, or signed by a retired key or a stranger.
    function lanePay(uint256 agentSeed, uint256 slotSeed, uint256 valueSeed, uint256 shapeSeed) external {
        uint256 a = agentSeed % N;
        bytes32 id = agentIds[a];
        uint256 t = block.timestamp;
        (uint256 p, uint256 slots, ) = account.lane(id, address(usdc));
        uint256 period = account.lanePeriodOf(id, t - 1);
        uint256 shape = shapeSeed % 10;
        uint256 pk = _keyPks[a][_keyPks[a].length - 1];
        if (shape == 1 && _keyPks[a].length > 1) pk = _keyPks[a][0];
        if (shape == 2) pk = STRANGER_PK;
        address to = recipients[shape == 3 ? 2 : (shapeSeed >> 8) % 2];
        uint256 i = _bound(slotSeed, 0, slots + 1);
        uint256 value = _bound(valueSeed, 1, LANE_MAX + 3e6);
        uint256 validAfter = t - 1;
        uint256 validBefore = shape == 4 ? period + 60 : period;
        bytes32 nonce = account.laneNonce(id, address(usdc), period, i);
        bytes memory signature = _sign(pk, id, i, to, value, validAfter, validBefore, nonce);

        bytes memory violation = account.checkLanePayment(id, address(usdc), i, to, value, validAfter, validBefore);
        bool currentKey = pk == _keyPks[a][_keyPks[a].length - 1];
        uint256 before = usdc.balanceOf(address(account));
        bool settled;
        try usdc.transferWithAuthorization(address(account), to, value, validAfter, validBefore, nonce, signature) {
            settled = true;
        } catch {}
        // the view explains the account's answer: a payment by the current key inside the token's own window settles
        // exactly when checkLanePayment finds nothing wrong
        if (currentKey && validBefore > block.timestamp && settled != (violation.length == 0)) ++viewMismatches;
        if (settled) {
            ++lanePays;
            uint256 moved = before - usdc.balanceOf(address(account));
            bool forbidden =
                paused ||
                    pk != _keyPks[a][_keyPks[a].length - 1] ||
                    !laneOn[a] ||
                    to == recipients[2] ||
                    value > LANE_MAX ||
                    validBefore > period ||
                    p != period ||
                    i >= slots;
            if (forbidden) ++forbiddenLanePays;
            _book(a, moved);
        } else {
            ++laneRefusals;
        }
    }

    /// @notice An ordinary payment by the agent's current key (it opens the lane too, after its own amount).
    function pay(uint256 agentSeed, uint256 amountSeed, uint256 recipientSeed) external {
        uint256 a = agentSeed % N;
        Execution[] memory calls = new Execution[](1);
        calls[0] = Execution(
            address(usdc),
            0,
            abi.encodeCall(usdc.transfer, (recipients[recipientSeed % 2], _bound(amountSeed, 1, PER_PAYMENT)))
        );
        uint256 before = usdc.balanceOf(address(account));
        vm.prank(vm.addr(_keyPks[a][_keyPks[a].length - 1]));
        try account.executeAsAgent(agentIds[a], calls) {
            _book(a, before - usdc.balanceOf(address(account)));
        } catch {}
    }

    /// @notice The agent's key or the owner opens the lane for the current period.
    function openLane(uint256 agentSeed, bool byOwner) external {
        uint256 a = agentSeed % N;
        vm.prank(byOwner ? owner : vm.addr(_keyPks[a][_keyPks[a].length - 1]));
        try account.openLane(agentIds[a], address(usdc)) {
            ++openings;
        } catch {}
    }

    /// @notice The owner switches the agent's lane off (which closes and settles it; one time in three) or on again.
    function setLane(uint256 agentSeed, uint256 onSeed) external {
        uint256 a = agentSeed % N;
        bool on = onSeed % 3 != 0;
        vm.prank(owner);
        account.updatePolicy(agentIds[a], _policy(on));
        laneOn[a] = on;
    }

    function rotateKey(uint256 agentSeed) external {
        uint256 a = agentSeed % N;
        uint256 pk = _nextPk++;
        vm.prank(owner);
        account.rotateAgentKey(agentIds[a], vm.addr(pk));
        _keyPks[a].push(pk);
    }

    /// @notice Pauses agents one time in four, else unpauses them.
    function pause(uint256 onSeed) external {
        bool on = onSeed % 4 == 0;
        vm.prank(owner);
        if (on) account.pauseAgents();
        else account.unpauseAgents();
        paused = on;
    }

    /// @notice Moves the clock by 1 minute to 30 hours: within a period, to its last seconds, or across boundaries.
    function warp(uint256 seed) external {
        vm.warp(block.timestamp + _bound(seed, 60, 30 hours));
    }

    // ================================================================ helpers

    function _book(uint256 a, uint256 moved) private {
        uint256 end = account.lanePeriodOf(agentIds[a], block.timestamp);
        movedLifetime[a] += moved;
        movedInPeriod[a][end] += moved;
        if (movedInPeriod[a][end] > PER_PERIOD) ++periodBreaches;
        if (movedLifetime[a] > LIFETIME) ++lifetimeBreaches;
    }

    function _sign(
        uint256 pk,
        bytes32 id,
        uint256 i,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce
    ) private view returns (bytes memory) {
        bytes32 digest = keccak256(
            abi.encodePacked(
                hex"1901",
                usdc.DOMAIN_SEPARATOR(),
                keccak256(
                    abi.encode(
                        TRANSFER_WITH_AUTHORIZATION_TYPEHASH,
                        address(account),
                        to,
                        value,
                        validAfter,
                        validBefore,
                        nonce
                    )
                )
            )
        );
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, digest);
        return
            abi.encodePacked(
                bytes4(0x4c414e45),
                abi.encode(address(usdc), id, i, to, value, validAfter, validBefore, v, r, s)
            );
    }

    function _policy(bool lane) private view returns (AgentPolicy memory p) {
        p.validAfter = 0;
        p.validUntil = type(uint48).max;
        p.period = uint32(PERIOD);
        p.activeHours = type(uint168).max;
        p.maxCallsPerPeriod = type(uint32).max;
        p.gasBudget = 0;
        p.mandate = keccak256("pay for API calls over x402");
        p.limits = new TokenLimit[](1);
        p.limits[0] = TokenLimit(
            address(usdc),
            PER_PAYMENT,
            PER_PERIOD,
            LIFETIME,
            lane ? LANE_COUNT : 0,
            lane ? LANE_MAX : 0
        );
        p.merchants = new address[](2);
        p.merchants[0] = recipients[0];
        p.merchants[1] = recipients[1];
    }

    function agentCount() external pure returns (uint256) {
        return N;
    }
}

/// @notice Invariants of the x402 lane, over the handler's random sequences.
contract SolTestLaneInvariants is SolTestBase {
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    SolTestLaneHandler internal handler;

    function setUp() public {
        // a Wednesday at 10:00 UTC, so that periods are whole UTC days well away from the start
        vm.warp(1_800_057_600 + 10 hours);
        handler = new SolTestLaneHandler();
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    function targetSelectors() public view returns (FuzzSelector[] memory targets) {
        bytes4[] memory selectors = new bytes4[](10);
        // lane payments three times as often as the rest, openings twice
        selectors[0] = SolTestLaneHandler.lanePay.selector;
        selectors[1] = SolTestLaneHandler.lanePay.selector;
        selectors[2] = SolTestLaneHandler.lanePay.selector;
        selectors[3] = SolTestLaneHandler.pay.selector;
        selectors[4] = SolTestLaneHandler.openLane.selector;
        selectors[5] = SolTestLaneHandler.openLane.selector;
        selectors[6] = SolTestLaneHandler.setLane.selector;
        selectors[7] = SolTestLaneHandler.rotateKey.selector;
        selectors[8] = SolTestLaneHandler.pause.selector;
        selectors[9] = SolTestLaneHandler.warp.selector;
        targets = new FuzzSelector[](1);
        targets[0] = FuzzSelector(address(handler), selectors);
    }

    /// @notice Lane and ordinary payments together never move more than the period cap in a period, nor more than
    ///         the lifetime cap ever, measured from the account's balance.
    function invariant_laneAndOrdinaryPaymentsStayWithinTheCaps() public view {
        vm.assertEq(handler.periodBreaches(), 0, "more than perPeriod left the account in one period");
        vm.assertEq(handler.lifetimeBreaches(), 0, "more than the lifetime cap left the account");
    }

    /// @notice No lane payment settles while paused, with a retired or foreign key, to a non-merchant, above
    ///         laneMax, past its period, for a slot out of range, or with the lane closed.
    function invariant_noForbiddenLanePaymentSettles() public view {
        vm.assertEq(handler.forbiddenLanePays(), 0, "a lane payment that the policy forbids settled");
    }

    /// @notice checkLanePayment explains every refusal of a payment signed by the current key, and finds nothing
    ///         wrong with every one that settles.
    function invariant_checkLanePaymentAgreesWithSettlement() public view {
        vm.assertEq(handler.viewMismatches(), 0, "checkLanePayment disagreed with the token's settlement");
    }

    /// @notice The counters never fall below what actually left the account: a hold is charged before a lane payment
    ///         can settle, and only unused slots are given back. And they never pass the caps.
    function invariant_countersCoverWhatLeftTheAccount() public view {
        AgentAccount account = handler.account();
        for (uint256 a; a < handler.agentCount(); ++a) {
            bytes32 id = handler.agentIds(a);
            (uint256 inPeriod, uint256 inLifetime) = account.spent(id, address(handler.usdc()));
            uint256 end = account.lanePeriodOf(id, block.timestamp);
            vm.assertGe(inLifetime, handler.movedLifetime(a), "lifetime counter below what left the account");
            vm.assertGe(inPeriod, handler.movedInPeriod(a, end), "period counter below what left this period");
            vm.assertLe(inLifetime, 700e6, "lifetime counter above the cap");
            vm.assertLe(inPeriod, 120e6, "period counter above the cap");
        }
    }
}

/// @notice The handler is not vacuous: its well-formed lane payment settles, and its malformed ones are refused.
contract SolTestLaneHandlerCheck is SolTestBase {
    function test_theHandlersLanePaymentsSettleOrAreRefusedAsTheyShould() public {
        vm.warp(1_800_057_600 + 10 hours);
        SolTestLaneHandler h = new SolTestLaneHandler();
        h.openLane(0, false);
        vm.assertEq(h.openings(), 1, "the key opened the lane");
        h.lanePay(0, 0, 10e6, 0);
        vm.assertEq(h.lanePays(), 1, "a well-formed lane payment settled");
        h.lanePay(0, 1, 10e6, 3); // to the non-merchant
        h.lanePay(0, 1, 10e6, 4); // a window past the period
        h.lanePay(0, 1, 10e6, 2); // signed by a stranger
        h.lanePay(0, 1, 21e6, 0); // over laneMax
        h.lanePay(1, 0, 10e6, 0); // agent 1's lane is not open
        vm.assertEq(h.laneRefusals(), 5, "every malformed payment was refused");
        vm.assertEq(h.lanePays(), 1, "nothing else settled");
        vm.assertEq(h.movedLifetime(0), 10e6, "booked from the balance");
    }
}
