// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {Execution} from "@openzeppelin/contracts/interfaces/draft-IERC7579.sol";
import {AgentAccount} from "../contracts/AgentAccount.sol";
import {AgentAccountFactory} from "../contracts/AgentAccountFactory.sol";
import {AgentPolicy, TokenLimit} from "../contracts/interfaces/IAgentGuardrails.sol";
import {SolTestToken} from "../contracts/test/SolTestToken.sol";
import {SolTestBase} from "./SolTestBase.t.sol";

/// @notice Drives one real account (implementation, factory proxy, OpenZeppelin ERC-20, no EntryPoint: a plain address
///         stands in for it) through random mixes of agent payments (direct and as validated UserOperations), owner cap
///         updates, key rotations, revocations, pauses and time jumps. It measures what every recipient actually
///         received and keeps ghost books of it, per agent, token and period, against the caps in force at the time.
// solhint-disable-next-line max-states-count
contract SolTestAgentHandler is SolTestBase {
    uint256 internal constant N = 3; // agents
    uint256 internal constant R = 6; // recipients: 0-3 merchants, 4-5 never merchants
    uint256 internal constant T = 2; // 0 = the ERC-20, 1 = ETH
    address internal constant ENTRY_POINT = address(0xE7E7);
    address internal constant ETH = address(0);
    uint256 internal constant OWNER_PK = 0x0A11CE;
    uint256 internal constant GUARDIAN_PK = 0x6A4D;
    uint256 internal constant SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    AgentAccount public immutable account;
    SolTestToken public immutable token;
    address public immutable owner;
    address public immutable guardian;

    bytes32[N] public agentIds;
    address[R] public recipients;
    mapping(uint256 agent => mapping(address recipient => bool)) public isMerchantOf;
    mapping(uint256 agent => uint256[]) internal _keyPks; // every key the agent ever had; the current one last
    mapping(address key => bool) public retired;
    uint256 internal _nextPk = 0xB0B0;
    uint256 internal _opCount;

    // ---- the books: policy in force, schedule, and what merchants received
    mapping(uint256 agent => uint48) internal _validAfter;
    mapping(uint256 agent => uint168) internal _activeHours;
    mapping(uint256 agent => uint32) internal _maxCalls;
    mapping(uint256 agent => uint256) public anchor;
    mapping(uint256 agent => uint256) public period;
    mapping(uint256 agent => mapping(uint256 t => uint256)) public perPayment;
    mapping(uint256 agent => mapping(uint256 t => uint256)) public perPeriod;
    mapping(uint256 agent => mapping(uint256 t => uint256)) public lifetime;
    mapping(uint256 agent => mapping(uint256 t => uint256)) public maxLifetimeEver;
    mapping(uint256 agent => mapping(uint256 t => bool)) public listed;
    mapping(uint256 agent => bool) public revoked;
    bool public paused;
    mapping(uint256 agent => mapping(uint256 t => uint256)) public paidLifetime;
    mapping(uint256 agent => mapping(uint256 t => mapping(uint256 end => uint256))) public paidInPeriod;

    // ---- breaches (each must stay 0) and coverage counters
    uint256 public lifetimeBreaches;
    uint256 public periodBreaches;
    uint256 public perPaymentBreaches;
    uint256 public revokedPays;
    uint256 public retiredKeyPays;
    uint256 public wrongKeyPays;
    uint256 public pausedPays;
    uint256 public nonMerchantReceipts;
    uint256 public partialBatches;
    uint256 public ownerRefusedWrongly;
    uint256 public successfulBatches;
    uint256 public refusedBatches;
    uint256 public userOpBatches;

    constructor() {
        owner = vm.addr(OWNER_PK);
        guardian = vm.addr(GUARDIAN_PK);
        AgentAccount implementation = new AgentAccount(ENTRY_POINT);
        AgentAccountFactory factory = new AgentAccountFactory(address(implementation));
        account = AgentAccount(payable(factory.createAccount(owner, 0)));
        token = new SolTestToken();
        token.mint(address(account), 1e30);
        vm.deal(address(account), 1e30);
        vm.prank(owner);
        account.setGuardian(guardian);

        for (uint256 r; r < R; ++r) recipients[r] = address(uint160(0x3E0000 + r));
        // business hours (08:00-19:59 UTC, every day) for agent 1
        uint168 business;
        for (uint256 d; d < 7; ++d) for (uint256 h = 8; h < 20; ++h) business |= uint168(uint256(1) << (d * 24 + h));
        for (uint256 a; a < N; ++a) {
            agentIds[a] = bytes32((uint256(0xA6E47) << 192) | (a + 1));
            isMerchantOf[a][recipients[a]] = true;
            isMerchantOf[a][recipients[a + 1]] = true;
            _validAfter[a] = uint48(a == 2 ? block.timestamp + 2 days : block.timestamp);
            _activeHours[a] = a == 1 ? business : type(uint168).max;
            _maxCalls[a] = a == 0 ? 4 : type(uint32).max;
            anchor[a] = _validAfter[a];
            period[a] = 1 days;
            (perPayment[a][0], perPeriod[a][0], lifetime[a][0]) = (100e6, 250e6, 1_000e6);
            (perPayment[a][1], perPeriod[a][1], lifetime[a][1]) = (1 ether, 3 ether, 10 ether);
            maxLifetimeEver[a][0] = lifetime[a][0];
            maxLifetimeEver[a][1] = lifetime[a][1];
            (listed[a][0], listed[a][1]) = (true, true);
            _keyPks[a].push(_nextPk++);
            vm.prank(owner);
            account.grantAgent(agentIds[a], vm.addr(_keyPks[a][0]), _policy(a, 1 days));
        }
    }

    // ================================================================ handler actions

    /// @notice An agent batch sent directly by a key: usually the agent's current key, sometimes one it retired,
    ///         another agent's key or a stranger.
    function pay(uint256 agentSeed, uint256 keySeed, uint256 callSeed, uint256 amountSeed) external {
        uint256 a = agentSeed % N;
        address key = vm.addr(_pickKeyPk(a, keySeed));
        Execution[] memory calls = _calls(a, callSeed, amountSeed);
        (uint256[R] memory tokBefore, uint256[R] memory ethBefore) = _balances();
        vm.prank(key);
        bool ok;
        try account.executeAsAgent(agentIds[a], calls) {
            ok = true;
        } catch {}
        _settle(a, key, ok, calls, tokBefore, ethBefore);
    }

    /// @notice An agent UserOperation: validated as the EntryPoint would (dropped on a revert, a failed signature or
    ///         a closed validity window), then, possibly after an owner or guardian action earlier in the same bundle,
    ///         executed by the EntryPoint.
    function payViaUserOp(
        uint256 agentSeed,
        uint256 keySeed,
        uint256 callSeed,
        uint256 amountSeed,
        uint256 between
    ) external {
        uint256 a = agentSeed % N;
        uint256 pk = _pickKeyPk(a, keySeed);
        Execution[] memory calls = _calls(a, callSeed, amountSeed);
        PackedUserOperation memory op = PackedUserOperation({
            sender: address(account),
            nonce: (uint256(uint192(uint256(agentIds[a]))) << 64) | _opCount,
            initCode: "",
            callData: abi.encodeCall(AgentAccount.executeAsAgent, (agentIds[a], calls)),
            accountGasLimits: bytes32(0),
            preVerificationGas: 0,
            gasFees: bytes32(0), // a zero max cost: the gas budget is not what this test is about
            paymasterAndData: "",
            signature: ""
        });
        bytes32 userOpHash = keccak256(abi.encode("SolTest userOp", _opCount++));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, userOpHash);
        op.signature = abi.encodePacked(r, s, v);

        vm.prank(ENTRY_POINT);
        try account.validateUserOp(op, userOpHash, 0) returns (uint256 validationData) {
            if (!_entryPointAccepts(validationData)) return;
        } catch {
            return;
        }
        // an earlier op of the same bundle: rotation, revocation or pause of this very agent
        uint256 b = between % 8;
        if (b == 1) rotateKey(a, 0);
        if (b == 2) revoke(a, 0);
        if (b == 3) pause(between >> 8);

        (uint256[R] memory tokBefore, uint256[R] memory ethBefore) = _balances();
        vm.prank(ENTRY_POINT);
        bool ok;
        try account.executeAsAgent(agentIds[a], calls) {
            ok = true;
            ++userOpBatches;
        } catch {}
        _settle(a, vm.addr(pk), ok, calls, tokBefore, ethBefore);
    }

    /// @notice The owner sets new caps, sometimes a new period, and sometimes unlists one of the two tokens (its
    ///         counters stay; listing it again later must not hand out a fresh budget).
    function updateCaps(uint256 agentSeed, uint256[6] calldata caps, uint256 periodChoice) external {
        uint256 a = agentSeed % N;
        uint256[T] memory pp;
        uint256[T] memory pe;
        uint256[T] memory lt;
        for (uint256 t; t < T; ++t) {
            uint256 unit = t == 0 ? 1e6 : 1e16;
            lt[t] = _bound(caps[3 * t], 0, 2_000) * unit;
            pe[t] = _bound(caps[3 * t + 1], 0, lt[t]);
            pp[t] = _bound(caps[3 * t + 2], 0, pe[t]);
        }
        uint256 choice = periodChoice % 6;
        uint256 newPeriod = period[a];
        if (choice == 0) newPeriod = 1 hours;
        if (choice == 1) newPeriod = 1 days;
        if (choice == 2) newPeriod = 3 days + 7;
        uint256 listing = (periodChoice >> 8) % 6; // 0: the ERC-20 only, 1: ETH only, else both
        bool[T] memory list = [listing != 1, listing != 0];

        AgentPolicy memory p = _policy(a, newPeriod);
        TokenLimit[] memory limits = new TokenLimit[](listing <= 1 ? 1 : 2);
        uint256 n;
        for (uint256 t; t < T; ++t) {
            if (list[t]) limits[n++] = TokenLimit(tokenOf(t), pp[t], pe[t], lt[t], 0, 0);
        }
        p.limits = limits;
        vm.prank(owner);
        try account.updatePolicy(agentIds[a], p) {
            if (newPeriod != period[a]) {
                // re-anchored at the end of the current period (SPEC section 2)
                anchor[a] = _end(a);
                period[a] = newPeriod;
            }
            for (uint256 t; t < T; ++t) {
                listed[a][t] = list[t];
                // an unlisted token may pay nothing: caps of zero in the books
                (perPayment[a][t], perPeriod[a][t], lifetime[a][t]) = list[t] ? (pp[t], pe[t], lt[t]) : (0, 0, 0);
                if (lifetime[a][t] > maxLifetimeEver[a][t]) maxLifetimeEver[a][t] = lifetime[a][t];
            }
        } catch {
            if (!revoked[a]) ++ownerRefusedWrongly;
        }
    }

    /// @notice The owner rotates an agent's key to a fresh one; the old key is retired.
    function rotateKey(uint256 agentSeed, uint256) public {
        uint256 a = agentSeed % N;
        uint256 pk = _nextPk++;
        address oldKey = vm.addr(_keyPks[a][_keyPks[a].length - 1]);
        vm.prank(owner);
        try account.rotateAgentKey(agentIds[a], vm.addr(pk)) {
            retired[oldKey] = true;
            _keyPks[a].push(pk);
        } catch {
            if (!revoked[a]) ++ownerRefusedWrongly;
        }
    }

    /// @notice The owner or the guardian revokes an agent (one call in four, so agents live a while).
    function revoke(uint256 agentSeed, uint256 seed) public {
        if (seed % 4 != 0) return;
        uint256 a = agentSeed % N;
        vm.prank(seed & 4 == 0 ? owner : guardian);
        try account.revokeAgent(agentIds[a]) {
            revoked[a] = true;
        } catch {
            if (!revoked[a]) ++ownerRefusedWrongly;
        }
    }

    /// @notice The owner or the guardian pauses every agent.
    function pause(uint256 seed) public {
        vm.prank(seed % 2 == 0 ? owner : guardian);
        try account.pauseAgents() {
            paused = true;
        } catch {
            ++ownerRefusedWrongly;
        }
    }

    /// @notice The owner unpauses.
    function unpause() external {
        vm.prank(owner);
        try account.unpauseAgents() {
            paused = false;
        } catch {
            ++ownerRefusedWrongly;
        }
    }

    /// @notice Time passes: up to three days.
    function warp(uint256 secondsLater) external {
        vm.warp(block.timestamp + _bound(secondsLater, 1, 3 days));
    }

    // ================================================================ views for the invariants

    /// @notice The end of agent `a`'s current period, from the books (anchor, period), by plain division.
    function currentEnd(uint256 a) external view returns (uint256) {
        return _end(a);
    }

    function tokenOf(uint256 t) public view returns (address) {
        return t == 0 ? address(token) : ETH;
    }

    // ================================================================ internals

    function _end(uint256 a) internal view returns (uint256) {
        uint256 t = block.timestamp;
        if (t < anchor[a]) return anchor[a];
        return anchor[a] + ((t - anchor[a]) / period[a] + 1) * period[a];
    }

    /// @dev The agent's policy as the books hold it, both tokens listed (the grant, and the base of an update, which
    ///      sets its own limits).
    function _policy(uint256 a, uint256 period_) internal view returns (AgentPolicy memory p) {
        TokenLimit[] memory limits = new TokenLimit[](T);
        for (uint256 t; t < T; ++t) {
            limits[t] = TokenLimit(tokenOf(t), perPayment[a][t], perPeriod[a][t], lifetime[a][t], 0, 0);
        }
        address[] memory merchants = new address[](2);
        merchants[0] = recipients[a];
        merchants[1] = recipients[a + 1];
        p = AgentPolicy({
            validAfter: _validAfter[a],
            validUntil: type(uint48).max,
            period: uint32(period_),
            activeHours: _activeHours[a],
            maxCallsPerPeriod: _maxCalls[a],
            gasBudget: 1 ether,
            mandate: keccak256(abi.encode("SolTest mandate", a)),
            limits: limits,
            merchants: merchants
        });
    }

    /// @dev Mostly the agent's current key; sometimes one it retired, another agent's current key, or a stranger.
    function _pickKeyPk(uint256 a, uint256 seed) internal view returns (uint256) {
        uint256[] storage pks = _keyPks[a];
        uint256 k = seed % 8;
        if (k == 5 && pks.length > 1) return pks[(seed >> 8) % (pks.length - 1)];
        if (k == 6) {
            uint256[] storage other = _keyPks[(a + 1 + ((seed >> 8) % (N - 1))) % N];
            return other[other.length - 1];
        }
        if (k == 7) return _bound(uint256(keccak256(abi.encode("stranger", seed))), 1, SECP256K1_N - 1);
        return pks[pks.length - 1];
    }

    /// @dev One or two payments of the ERC-20 or ETH, mostly to the agent's merchants, of amounts around its
    ///      per-payment cap.
    function _calls(uint256 a, uint256 seed, uint256 amountSeed) internal view returns (Execution[] memory calls) {
        calls = new Execution[](seed % 3 == 0 ? 2 : 1);
        for (uint256 i; i < calls.length; ++i) {
            uint256 s = uint256(keccak256(abi.encode(seed, i)));
            uint256 t = s % 2;
            address to = s % 8 < 6 ? recipients[a + ((s >> 8) % 2)] : recipients[(s >> 8) % R];
            uint256 cap = perPayment[a][t];
            uint256 raw = uint256(keccak256(abi.encode(amountSeed, i)));
            uint256 amount = (s >> 16) % 4 == 0 ? _bound(raw, 0, 2 * cap + 1) : _bound(raw, 0, cap);
            calls[i] =
                t == 0
                    ? Execution(address(token), 0, abi.encodeCall(IERC20.transfer, (to, amount)))
                    : Execution(to, amount, "");
        }
    }

    function _balances() internal view returns (uint256[R] memory tok, uint256[R] memory eth) {
        for (uint256 r; r < R; ++r) {
            tok[r] = token.balanceOf(recipients[r]);
            eth[r] = recipients[r].balance;
        }
    }

    /// @dev The v0.8 EntryPoint's reading of validationData: no aggregator (1 = bad signature), and
    ///      validAfter < now <= validUntil (validUntil 0 = forever).
    function _entryPointAccepts(uint256 validationData) internal view returns (bool) {
        if (uint160(validationData) != 0) return false;
        uint256 validUntil = uint48(validationData >> 160);
        uint256 validAfter = uint48(validationData >> 208);
        if (validUntil == 0) validUntil = type(uint48).max;
        return block.timestamp <= validUntil && block.timestamp > validAfter;
    }

    /// @dev Books what the batch actually moved (balance deltas of every recipient) and flags every breach.
    function _settle(
        uint256 a,
        address key,
        bool ok,
        Execution[] memory calls,
        uint256[R] memory tokBefore,
        uint256[R] memory ethBefore
    ) internal {
        uint256[T] memory received;
        bool moved;
        for (uint256 r; r < R; ++r) {
            uint256 dTok = token.balanceOf(recipients[r]) - tokBefore[r];
            uint256 dEth = recipients[r].balance - ethBefore[r];
            if (dTok == 0 && dEth == 0) continue;
            moved = true;
            if (!isMerchantOf[a][recipients[r]]) ++nonMerchantReceipts;
            received[0] += dTok;
            received[1] += dEth;
        }
        if (!ok) {
            ++refusedBatches;
            if (moved) ++partialBatches; // all or nothing
            return;
        }
        ++successfulBatches;
        if (revoked[a]) ++revokedPays;
        if (retired[key]) ++retiredKeyPays;
        if (!revoked[a] && key != vm.addr(_keyPks[a][_keyPks[a].length - 1])) ++wrongKeyPays;
        if (paused) ++pausedPays;
        for (uint256 i; i < calls.length; ++i) {
            (uint256 t, uint256 amount) = calls[i].target == address(token)
                ? (0, _transferAmount(calls[i].callData))
                : (1, calls[i].value);
            if (amount > perPayment[a][t]) ++perPaymentBreaches;
        }
        uint256 end = _end(a);
        for (uint256 t; t < T; ++t) {
            uint256 inPeriod = paidInPeriod[a][t][end];
            uint256 ever = paidLifetime[a][t];
            // what this batch paid must fit what was left, under the caps in force now
            if (received[t] > (perPeriod[a][t] > inPeriod ? perPeriod[a][t] - inPeriod : 0)) ++periodBreaches;
            if (received[t] > (lifetime[a][t] > ever ? lifetime[a][t] - ever : 0)) ++lifetimeBreaches;
            paidInPeriod[a][t][end] = inPeriod + received[t];
            paidLifetime[a][t] = ever + received[t];
        }
    }

    function _transferAmount(bytes memory data) internal pure returns (uint256 amount) {
        assembly ("memory-safe") {
            amount := mload(add(data, 0x44))
        }
    }
}

/// @notice The stateful invariants of the account's guardrails, checked after every handler call.
contract AgentAccountInvariantTest is SolTestBase {
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    SolTestAgentHandler internal handler;

    function setUp() public {
        vm.warp(1_704_067_200 + 9 hours); // Monday 2024-01-01 09:00 UTC
        handler = new SolTestAgentHandler();
    }

    /// @notice Only the handler is called, and only its actions.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    function targetSelectors() public view returns (FuzzSelector[] memory targets) {
        bytes4[] memory selectors = new bytes4[](8);
        selectors[0] = SolTestAgentHandler.pay.selector;
        selectors[1] = SolTestAgentHandler.payViaUserOp.selector;
        selectors[2] = SolTestAgentHandler.updateCaps.selector;
        selectors[3] = SolTestAgentHandler.rotateKey.selector;
        selectors[4] = SolTestAgentHandler.revoke.selector;
        selectors[5] = SolTestAgentHandler.pause.selector;
        selectors[6] = SolTestAgentHandler.unpause.selector;
        selectors[7] = SolTestAgentHandler.warp.selector;
        targets = new FuzzSelector[](1);
        targets[0] = FuzzSelector(address(handler), selectors);
    }

    function invariant_merchantsNeverReceiveMoreThanTheLifetimeCap() public view {
        vm.assertEq(handler.lifetimeBreaches(), 0, "a batch paid more than the lifetime cap left");
        for (uint256 a; a < 3; ++a) {
            for (uint256 t; t < 2; ++t) {
                vm.assertLe(
                    handler.paidLifetime(a, t),
                    handler.maxLifetimeEver(a, t),
                    "paid more than any cap ever set"
                );
            }
        }
    }

    function invariant_noPeriodPaysMoreThanPerPeriod() public view {
        vm.assertEq(handler.periodBreaches(), 0, "a batch paid more than the period's cap left");
        vm.assertEq(handler.perPaymentBreaches(), 0, "a payment above the per-payment cap");
    }

    /// @notice The account's own counters equal what merchants actually received (per period on the anchored,
    ///         re-anchored schedule, and ever), and `remaining` resets when the books say the period ends.
    function invariant_countersMatchWhatMerchantsReceived() public view {
        AgentAccount account = handler.account();
        for (uint256 a; a < 3; ++a) {
            bytes32 id = handler.agentIds(a);
            uint256 end = handler.currentEnd(a);
            for (uint256 t; t < 2; ++t) {
                address tok = handler.tokenOf(t);
                (uint256 inPeriod, uint256 inLifetime) = account.spent(id, tok);
                vm.assertEq(inPeriod, handler.paidInPeriod(a, t, end), "spent in period = received this period");
                vm.assertEq(inLifetime, handler.paidLifetime(a, t), "spent in lifetime = received ever");
                if (!handler.revoked(a) && handler.listed(a, t)) {
                    (, , , uint256 resetsAt) = account.remaining(id, tok);
                    vm.assertEq(resetsAt, end, "periodResetsAt = the books' period end");
                }
            }
        }
    }

    function invariant_revokedAgentNeverPaysAgain() public view {
        vm.assertEq(handler.revokedPays(), 0, "a revoked agent paid");
    }

    function invariant_retiredOrForeignKeyNeverPays() public view {
        vm.assertEq(handler.retiredKeyPays(), 0, "a retired key paid");
        vm.assertEq(handler.wrongKeyPays(), 0, "a key that is not the agent's current key paid");
    }

    function invariant_noPaymentWhilePaused() public view {
        vm.assertEq(handler.pausedPays(), 0, "a payment happened while agents were paused");
    }

    function invariant_onlyMerchantsReceiveAndRefusalsMoveNothing() public view {
        vm.assertEq(handler.nonMerchantReceipts(), 0, "a non-merchant received funds from an agent batch");
        vm.assertEq(handler.partialBatches(), 0, "a refused batch moved funds");
        vm.assertEq(handler.ownerRefusedWrongly(), 0, "an owner or guardian action was refused");
    }
}
