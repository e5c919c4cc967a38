// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {Execution} from "@openzeppelin/contracts/interfaces/draft-IERC7579.sol";
import {AgentAccount} from "../contracts/AgentAccount.sol";
import {AgentAccountFactory} from "../contracts/AgentAccountFactory.sol";
import {AgentPolicy, TokenLimit} from "../contracts/interfaces/IAgentGuardrails.sol";
import {AdversaryFeeToken} from "../contracts/test/Adversaries.sol";
import {SolTestToken} from "../contracts/test/SolTestToken.sol";
import {SolTestBase} from "./SolTestBase.t.sol";

/// @notice The storage-reading cheatcode (served by Hardhat's EDR at the standard address, like SolTestBase's).
interface ISolTestVmLoad {
    function load(address target, bytes32 slot) external view returns (bytes32);
}

/// @notice Drives one real account through random sequences of everything that can happen to it: owner actions
///         (grant, update, rotate, revoke, pause, unpause, guardian change, upgrade), attempts by non-owners at those
///         actions, agent batches (transfers and approves of two tokens, one of them fee-on-transfer, ETH to merchants
///         and non-merchants, ETH with calldata, malformed calldata, self-calls, raw garbage after the selector) sent
///         directly or as validated UserOperations that carry a gas price, merchants pulling their allowances, and time
///         jumps that land on period boundaries, hour edges and validity edges. Four agent slots, three granted at the
///         start.
/// @dev What an agent moved is measured, not read from the account: per batch, what left the account (its balance
///      delta) plus every allowance the account gave that grew. The books hold it per agent, token and period
///      (on the schedule the books compute themselves), against the caps in force when it moved.
// solhint-disable-next-line max-states-count
contract SolTestGuardrailHandler is SolTestBase {
    uint256 internal constant N = 4; // agent slots
    uint256 internal constant R = 7; // recipients: agent a's merchants are a and a + 1; 5 and 6 never are
    uint256 internal constant T = 3; // 0 = plain ERC-20, 1 = fee-on-transfer ERC-20, 2 = ETH
    address internal constant ENTRY_POINT = address(0xE7E7);
    address internal constant ETH = address(0);
    uint256 internal constant OWNER_PK = 0x0A11CE;
    uint256 internal constant STRANGER_PK = 0x57A4;
    uint256 internal constant SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;
    bytes32 internal constant IMPLEMENTATION_SLOT = 0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc;
    // each UserOperation's gas limits: 100k verification, 100k call, 50k pre-verification
    uint256 internal constant OP_GAS = 250_000;

    AgentAccount public immutable account;
    AgentAccount public immutable implementation;
    AgentAccount public immutable otherImplementation;
    SolTestToken public immutable tokenA;
    AdversaryFeeToken public immutable tokenB;
    address public immutable owner;

    bytes32[N] public agentIds;
    address[R] public recipients;
    address[2] public guardians;
    uint256[2] internal _guardianPks;

    // ---- what only the owner (or the guardian) may change, as the books last saw it after their own actions
    address public guardianNow;
    bytes32 public implementationNow;
    mapping(uint256 agent => bytes32) public agentHash; // keccak256 of getAgent's answer
    bool public paused;

    // ---- each agent's policy as the books hold it
    mapping(uint256 agent => bool) public granted;
    mapping(uint256 agent => bool) public revoked;
    mapping(uint256 agent => uint256[]) internal _keyPks; // every key the agent had; the current one last
    mapping(address key => bool) public retired;
    uint256 internal _nextPk = 0xC0C0;
    mapping(uint256 agent => uint48) public validAfter;
    mapping(uint256 agent => uint48) public validUntil;
    mapping(uint256 agent => uint168) public activeHours;
    mapping(uint256 agent => uint32) public maxCalls;
    mapping(uint256 agent => uint256) public anchor;
    mapping(uint256 agent => uint256) public period;
    mapping(uint256 agent => mapping(uint256 t => bool)) public listed;
    mapping(uint256 agent => mapping(uint256 t => uint256)) public perPayment;
    mapping(uint256 agent => mapping(uint256 t => uint256)) public perPeriod;
    mapping(uint256 agent => mapping(uint256 t => uint256)) public lifetime;
    mapping(uint256 agent => uint256) public gasBudget;

    // ---- the ghost books: measured movements, and the largest caps ever in force to hold them against
    mapping(uint256 agent => mapping(uint256 t => uint256)) public movedEver;
    mapping(uint256 agent => mapping(uint256 t => mapping(uint256 end => uint256))) public movedInPeriod;
    mapping(uint256 agent => mapping(uint256 t => uint256)) public maxLifetimeEver;
    mapping(uint256 agent => mapping(uint256 t => mapping(uint256 end => uint256))) public maxPeriodCapIn;
    mapping(uint256 agent => mapping(uint256 end => uint256)) public callsInPeriod;
    mapping(uint256 agent => uint256) public gasCharged; // the max cost of every op whose validation passed
    mapping(uint256 agent => uint256) public maxBudgetEver;
    uint256[2] public allowanceGranted; // every allowance increase, per ERC-20
    uint256[2] public pulledByMerchants;

    // ---- breaches (each must stay 0) and coverage counters
    uint256 public periodBreaches;
    uint256 public lifetimeBreaches;
    uint256 public perPaymentBreaches;
    uint256 public gasBreaches;
    uint256 public callBreaches;
    uint256 public revokedPays;
    uint256 public pausedPays;
    uint256 public retiredKeyPays;
    uint256 public wrongKeyPays;
    uint256 public outsideWindowPays;
    uint256 public nonMerchantReceipts;
    uint256 public partialBatches;
    uint256 public ownerRefusedWrongly;
    uint256 public intrusions;
    uint256 public successfulBatches;
    uint256 public refusedBatches;
    uint256 public userOpBatches;
    uint256 public gasChargedOps;
    mapping(bytes4 selector => uint256) public refusedWith; // refusals by error, to see what the runs reached

    struct Snap {
        uint256[T] account;
        uint256[2][R] allowance;
        uint256[T][R] received;
    }

    constructor() {
        owner = vm.addr(OWNER_PK);
        implementation = new AgentAccount(ENTRY_POINT);
        otherImplementation = new AgentAccount(ENTRY_POINT);
        AgentAccountFactory factory = new AgentAccountFactory(address(implementation));
        account = AgentAccount(payable(factory.createAccount(owner, 0)));
        tokenA = new SolTestToken();
        tokenB = new AdversaryFeeToken();
        tokenA.mint(address(account), 1e30);
        tokenB.mint(address(account), 1e30);
        vm.deal(address(account), 1e30);
        implementationNow = ISolTestVmLoad(address(vm)).load(address(account), IMPLEMENTATION_SLOT);
        _guardianPks = [uint256(0x6A4D), uint256(0x6A4E)];
        guardians = [vm.addr(_guardianPks[0]), vm.addr(_guardianPks[1])];
        vm.prank(owner);
        account.setGuardian(guardians[0]);
        guardianNow = guardians[0];

        for (uint256 r; r < R; ++r) recipients[r] = address(uint160(0x4E0000 + r));
        for (uint256 a; a < N; ++a) agentIds[a] = bytes32((uint256(0x6A7E) << 192) | (a + 1));
        for (uint256 a; a < N - 1; ++a) _grant(a);
    }

    // ================================================================ agent actions

    /// @notice An agent batch sent directly by a key: usually the agent's current key, sometimes one it retired,
    ///         another agent's key or a stranger.
    function pay(uint256 agentSeed, uint256 keySeed, uint256 callSeed, uint256 amountSeed) external {
        uint256 a = _payer(agentSeed);
        address key = vm.addr(_pickKeyPk(a, keySeed));
        Execution[] memory calls = _calls(a, callSeed, amountSeed);
        Snap memory before = _snap();
        vm.prank(key);
        bool ok;
        try account.executeAsAgent(agentIds[a], calls) {
            ok = true;
        } catch (bytes memory reason) {
            _noteRefusal(reason);
        }
        _settle(a, key, ok, before);
        if (ok) _checkPerPayment(a, calls);
    }

    /// @notice Bytes after the executeAsAgent selector and the agent id that are rarely a valid encoding, sent
    ///         directly or as a UserOperation's callData.
    function payGarbage(uint256 agentSeed, uint256 keySeed, bool asUserOp, bytes calldata junk) external {
        uint256 a = _payer(agentSeed);
        uint256 pk = _pickKeyPk(a, keySeed);
        bytes memory data = abi.encodePacked(AgentAccount.executeAsAgent.selector, agentIds[a], junk);
        address caller = vm.addr(pk);
        if (asUserOp) {
            PackedUserOperation memory op = _op(a, data, 0);
            bytes32 userOpHash = keccak256(abi.encode("SolTest garbage op", refusedBatches, junk));
            (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, userOpHash);
            op.signature = abi.encodePacked(r, s, v);
            try this.validateAsEntryPoint(op, userOpHash) {} catch (bytes memory reason) {
                _noteRefusal(reason);
                return;
            }
            caller = ENTRY_POINT;
        }
        Snap memory before = _snap();
        vm.prank(caller);
        (bool ok, bytes memory ret) = address(account).call(data);
        if (!ok) _noteRefusal(ret);
        _settle(a, vm.addr(pk), ok, before);
    }

    /// @notice An agent UserOperation with a gas price: validated as the EntryPoint would (the whole bundle reverts,
    ///         charge included, on a revert, a bad signature or a closed window), then, possibly after an owner or
    ///         guardian action earlier in the same bundle, executed by the EntryPoint.
    function payViaUserOp(
        uint256 agentSeed,
        uint256 keySeed,
        uint256 callSeed,
        uint256 amountSeed,
        uint256 feeSeed,
        uint256 between
    ) external {
        uint256 a = _payer(agentSeed);
        uint256 pk = _pickKeyPk(a, keySeed);
        Execution[] memory calls = _calls(a, callSeed, amountSeed);
        uint256 maxFee = _bound(feeSeed, 0, 2_000 gwei);
        PackedUserOperation memory op = _op(
            a,
            abi.encodeCall(AgentAccount.executeAsAgent, (agentIds[a], calls)),
            maxFee
        );
        bytes32 userOpHash = keccak256(abi.encode("SolTest guardrail op", gasChargedOps, refusedBatches, feeSeed));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, userOpHash);
        op.signature = abi.encodePacked(r, s, v);

        (uint256 chargedBefore, , , ) = account.agentUsage(agentIds[a]);
        try this.validateAsEntryPoint(op, userOpHash) {} catch (bytes memory reason) {
            _noteRefusal(reason);
            return; // the bundler drops it, or the EntryPoint reverts the bundle: nothing happened
        }
        (uint256 chargedAfter, , , ) = account.agentUsage(agentIds[a]);
        uint256 cost = OP_GAS * maxFee;
        ++gasChargedOps;
        if (chargedAfter - chargedBefore != cost) ++gasBreaches; // charged exactly the op's max cost
        if (cost > (gasBudget[a] > gasCharged[a] ? gasBudget[a] - gasCharged[a] : 0)) ++gasBreaches;
        gasCharged[a] += cost;

        uint256 b = between % 8;
        if (b == 1) rotateKey(a);
        if (b == 2) revoke(a, 0);
        if (b == 3) pause(0);

        Snap memory before = _snap();
        vm.prank(ENTRY_POINT);
        bool ok;
        try account.executeAsAgent(agentIds[a], calls) {
            ok = true;
            ++userOpBatches;
        } catch (bytes memory reason) {
            _noteRefusal(reason);
        }
        _settle(a, vm.addr(pk), ok, before);
        if (ok) _checkPerPayment(a, calls);
    }

    /// @dev Not a handler action (not in targetSelectors): validation as the EntryPoint sees it, reverting (and so
    ///      undoing the gas charge) whenever the EntryPoint would not go on to execute the op.
    function validateAsEntryPoint(PackedUserOperation calldata op, bytes32 userOpHash) external {
        require(msg.sender == address(this), "self only");
        vm.prank(ENTRY_POINT);
        uint256 validationData = account.validateUserOp(op, userOpHash, 0);
        require(_entryPointAccepts(validationData), "the EntryPoint refuses the op");
    }

    /// @notice A merchant pulls what the account allowed it (approve-then-drain): bounded by the allowances granted.
    function merchantPulls(uint256 recipientSeed, uint256 tokenSeed) external {
        address m = recipients[recipientSeed % R];
        uint256 t = tokenSeed % 2;
        IERC20 tok = t == 0 ? IERC20(address(tokenA)) : IERC20(address(tokenB));
        uint256 allowance = tok.allowance(address(account), m);
        if (allowance == 0) return;
        vm.prank(m);
        require(tok.transferFrom(address(account), m, allowance), "pull");
        pulledByMerchants[t] += allowance;
    }

    // ================================================================ owner and guardian actions

    /// @notice The owner grants the spare agent slot; granting an id that exists (or was revoked) must fail.
    function grant(uint256 agentSeed) external {
        uint256 a = agentSeed % N;
        if (!granted[a]) {
            _grant(a);
            return;
        }
        uint256 pk = _nextPk++;
        vm.prank(owner);
        try account.grantAgent(agentIds[a], vm.addr(pk), _policy(a)) {
            ++intrusions; // a second grant of one id would hand out fresh counters
        } catch {}
    }

    /// @notice The owner sets new caps (sometimes unlisting a token), a new gas budget, and sometimes a new period.
    function updatePolicy(uint256 agentSeed, uint256[9] calldata caps, uint256 choice, uint256 budgetSeed) external {
        uint256 a = agentSeed % N;
        if (!granted[a]) return;
        uint256[T] memory pp;
        uint256[T] memory pe;
        uint256[T] memory lt;
        for (uint256 t; t < T; ++t) {
            lt[t] = _bound(caps[3 * t], 0, 500) * _unit(t);
            pe[t] = _bound(caps[3 * t + 1], 0, lt[t]);
            pp[t] = _bound(caps[3 * t + 2], 0, pe[t]);
        }
        uint256 newPeriod = period[a];
        uint256 c = choice % 6;
        if (c == 0) newPeriod = 1 hours;
        if (c == 1) newPeriod = 1 days;
        if (c == 2) newPeriod = 3 days + 7;
        uint256 unlist = (choice >> 8) % 5; // 0-2: that token is unlisted; else all three listed
        uint256 budget = _bound(budgetSeed, 0, 2 ether);

        AgentPolicy memory p = _policy(a);
        p.period = uint32(newPeriod);
        p.gasBudget = budget;
        p.limits = new TokenLimit[](unlist < T ? T - 1 : T);
        uint256 n;
        for (uint256 t; t < T; ++t) if (t != unlist) p.limits[n++] = _limit(tokenOf(t), pp[t], pe[t], lt[t]);
        vm.prank(owner);
        try account.updatePolicy(agentIds[a], p) {
            if (newPeriod != period[a]) {
                anchor[a] = _end(a); // re-anchored at the end of the current period (SPEC section 2)
                period[a] = newPeriod;
            }
            for (uint256 t; t < T; ++t) {
                listed[a][t] = t != unlist;
                (perPayment[a][t], perPeriod[a][t], lifetime[a][t]) = t != unlist ? (pp[t], pe[t], lt[t]) : (0, 0, 0);
                if (lt[t] > maxLifetimeEver[a][t] && t != unlist) maxLifetimeEver[a][t] = lt[t];
            }
            gasBudget[a] = budget;
            if (budget > maxBudgetEver[a]) maxBudgetEver[a] = budget;
            _noteCapsInPeriod(a);
            _noteAgent(a);
        } catch {
            if (!revoked[a]) ++ownerRefusedWrongly;
        }
    }

    /// @notice The owner rotates an agent's key to a fresh one; the old key is retired.
    function rotateKey(uint256 agentSeed) public {
        uint256 a = agentSeed % N;
        if (!granted[a]) return;
        uint256 pk = _nextPk++;
        address oldKey = vm.addr(_keyPks[a][_keyPks[a].length - 1]);
        vm.prank(owner);
        try account.rotateAgentKey(agentIds[a], vm.addr(pk)) {
            retired[oldKey] = true;
            _keyPks[a].push(pk);
            _noteAgent(a);
        } catch {
            if (!revoked[a]) ++ownerRefusedWrongly;
        }
    }

    /// @notice The owner or the current guardian revokes an agent (one call in four, so agents live a while).
    function revoke(uint256 agentSeed, uint256 seed) public {
        if (seed % 4 != 0) return;
        uint256 a = agentSeed % N;
        if (!granted[a]) return;
        vm.prank(seed & 4 == 0 ? owner : guardianNow);
        try account.revokeAgent(agentIds[a]) {
            if (!revoked[a]) retired[vm.addr(_keyPks[a][_keyPks[a].length - 1])] = true;
            revoked[a] = true;
            _noteAgent(a);
        } catch {
            if (!revoked[a]) ++ownerRefusedWrongly;
        }
    }

    /// @notice The owner or the current guardian pauses every agent (one call in three, so agents get to pay).
    function pause(uint256 seed) public {
        if (seed % 3 != 0) return;
        vm.prank(seed % 2 == 0 ? owner : guardianNow);
        try account.pauseAgents() {
            paused = true;
        } catch {
            ++ownerRefusedWrongly;
        }
    }

    function unpause() external {
        vm.prank(owner);
        try account.unpauseAgents() {
            paused = false;
        } catch {
            ++ownerRefusedWrongly;
        }
    }

    /// @notice The owner hands the guardian role to the other guardian key.
    function setGuardian(uint256 seed) external {
        address g = guardians[seed % 2];
        vm.prank(owner);
        try account.setGuardian(g) {
            guardianNow = g;
        } catch {
            ++ownerRefusedWrongly;
        }
    }

    /// @notice The owner upgrades to the other implementation (same code, another address) and back.
    function upgrade(uint256 seed) external {
        address impl = seed % 2 == 0 ? address(otherImplementation) : address(implementation);
        vm.prank(owner);
        try account.upgradeToAndCall(impl, "") {
            implementationNow = bytes32(uint256(uint160(impl)));
        } catch {
            ++ownerRefusedWrongly;
        }
    }

    /// @notice Someone who is not the owner (an agent's key, a retired key, a merchant, a stranger, or the guardian
    ///         for owner-only functions) tries an owner function. None may succeed.
    function intrude(uint256 who, uint256 what, uint256 agentSeed) external {
        uint256 a = agentSeed % N;
        address caller;
        uint256 w = who % 4;
        if (w == 0) caller = vm.addr(_keyPks[a].length == 0 ? STRANGER_PK : _keyPks[a][_keyPks[a].length - 1]);
        if (w == 1) caller = recipients[(who >> 8) % R];
        if (w == 2) caller = vm.addr(STRANGER_PK);
        if (w == 3) caller = guardianNow;
        bytes memory data;
        uint256 f = what % 7;
        if (f == 0) {
            AgentPolicy memory p = _policy(a);
            p.limits = new TokenLimit[](T);
            for (uint256 t; t < T; ++t) p.limits[t] = _limit(tokenOf(t), 1e27, 1e27, 1e27);
            data = abi.encodeCall(AgentAccount.updatePolicy, (agentIds[a], p));
        }
        if (f == 1) data = abi.encodeCall(AgentAccount.setGuardian, (caller));
        if (f == 2) data = abi.encodeCall(account.upgradeToAndCall, (address(otherImplementation), ""));
        if (f == 3) data = abi.encodeCall(AgentAccount.unpauseAgents, ());
        if (f == 4) data = abi.encodeCall(AgentAccount.rotateAgentKey, (agentIds[a], vm.addr(_nextPk + 7)));
        if (f == 5) data = abi.encodeCall(AgentAccount.grantAgent, (bytes32(uint256(0xBAD)), caller, _policy(a)));
        if (f == 6) data = abi.encodeCall(AgentAccount.setAgentPaymaster, (caller, true));
        vm.prank(caller);
        (bool ok, ) = address(account).call(data);
        // the guardian's only owner-like powers are pause and revoke; unpausing an unpaused account is a no-op for
        // nobody, so any success here is an intrusion
        if (ok) ++intrusions;
    }

    /// @notice Time passes: up to half a day, or exactly onto (or one second either side of) an agent's period end,
    ///         the next hour edge, or an agent's validity edge.
    function warp(uint256 mode, uint256 seed) external {
        uint256 now_ = block.timestamp;
        uint256 target;
        uint256 a = (seed >> 8) % N;
        uint256 m = mode % 4;
        if (m == 0) target = now_ + _bound(seed, 1, 12 hours);
        if (m == 1) target = _end(a);
        if (m == 2) target = (now_ / 1 hours + 1) * 1 hours;
        if (m == 3) target = (seed >> 16) % 2 == 0 ? validAfter[a] : uint256(validUntil[a]) + 1;
        if (m != 0) target = target + (seed % 3) - 1; // one second before, on, or after the edge
        if (target <= now_ || target > now_ + 60 days) target = now_ + 1;
        vm.warp(target);
    }

    // ================================================================ views for the invariants

    function currentEnd(uint256 a) external view returns (uint256) {
        return _end(a);
    }

    function tokenOf(uint256 t) public view returns (address) {
        if (t == 0) return address(tokenA);
        if (t == 1) return address(tokenB);
        return ETH;
    }

    // ================================================================ internals

    /// @dev An unsigned agent op: OP_GAS of gas limits at `maxFee` (also the priority fee).
    function _op(uint256 a, bytes memory callData, uint256 maxFee) internal view returns (PackedUserOperation memory) {
        return
            PackedUserOperation({
                sender: address(account),
                nonce: (uint256(uint192(uint256(agentIds[a]))) << 64) | userOpBatches,
                initCode: "",
                callData: callData,
                accountGasLimits: bytes32((uint256(100_000) << 128) | 100_000),
                preVerificationGas: 50_000,
                gasFees: bytes32((maxFee << 128) | maxFee),
                paymasterAndData: "",
                signature: ""
            });
    }

    /// @dev The agent of a batch: agent 0 (the tightest caps) half the time, so that its caps fill within one run.
    function _payer(uint256 seed) internal pure returns (uint256) {
        return seed % 2 == 0 ? 0 : (seed >> 1) % N;
    }

    function _noteRefusal(bytes memory reason) internal {
        if (reason.length >= 4) ++refusedWith[bytes4(reason)];
    }

    function _unit(uint256 t) internal pure returns (uint256) {
        return t == 2 ? 1e16 : 1e6;
    }

    /// @dev Every TokenLimit of this file is built here.
    function _limit(address token, uint256 pp, uint256 pe, uint256 lt) internal pure returns (TokenLimit memory lim) {
        lim.token = token;
        lim.perPayment = pp;
        lim.perPeriod = pe;
        lim.lifetime = lt;
    }

    function _grant(uint256 a) internal {
        validAfter[a] = uint48(a == 2 ? block.timestamp + 2 days : block.timestamp);
        validUntil[a] = a == 0 ? uint48(block.timestamp + 10 days) : type(uint48).max;
        uint168 business;
        for (uint256 d; d < 7; ++d) for (uint256 h = 8; h < 20; ++h) business |= uint168(uint256(1) << (d * 24 + h));
        activeHours[a] = a == 1 ? business : type(uint168).max;
        maxCalls[a] = a == 0 ? 6 : type(uint32).max;
        anchor[a] = validAfter[a];
        period[a] = a == 3 ? 1 hours : 1 days;
        for (uint256 t; t < T; ++t) {
            uint256[3] memory caps =
                a == 0
                    ? [uint256(45), 90, 100]
                    : a == 3
                        ? [uint256(60), 120, 180]
                        : [uint256(60), 120, 240];
            (perPayment[a][t], perPeriod[a][t], lifetime[a][t]) = (
                caps[0] * _unit(t),
                caps[1] * _unit(t),
                caps[2] * _unit(t)
            );
            maxLifetimeEver[a][t] = lifetime[a][t];
            listed[a][t] = true;
        }
        gasBudget[a] = 1 ether;
        maxBudgetEver[a] = 1 ether;
        uint256 pk = _nextPk++;
        vm.prank(owner);
        account.grantAgent(agentIds[a], vm.addr(pk), _policy(a));
        _keyPks[a].push(pk);
        granted[a] = true;
        _noteCapsInPeriod(a);
        _noteAgent(a);
    }

    function _end(uint256 a) internal view returns (uint256) {
        uint256 t = block.timestamp;
        if (period[a] == 0) return 0; // a slot not granted yet
        if (t < anchor[a]) return anchor[a];
        return anchor[a] + ((t - anchor[a]) / period[a] + 1) * period[a];
    }

    /// @dev The agent's policy as the books hold it (every listed token).
    function _policy(uint256 a) internal view returns (AgentPolicy memory p) {
        uint256 n;
        for (uint256 t; t < T; ++t) if (listed[a][t]) ++n;
        TokenLimit[] memory limits = new TokenLimit[](n);
        n = 0;
        for (uint256 t; t < T; ++t) {
            if (listed[a][t]) limits[n++] = _limit(tokenOf(t), perPayment[a][t], perPeriod[a][t], lifetime[a][t]);
        }
        address[] memory merchants = new address[](2);
        merchants[0] = recipients[a];
        merchants[1] = recipients[a + 1];
        p = AgentPolicy({
            validAfter: validAfter[a],
            validUntil: validUntil[a],
            period: uint32(period[a]),
            activeHours: activeHours[a],
            maxCallsPerPeriod: maxCalls[a],
            gasBudget: gasBudget[a],
            mandate: keccak256(abi.encode("SolTest guardrail mandate", a)),
            limits: limits,
            merchants: merchants
        });
    }

    function _noteAgent(uint256 a) internal {
        agentHash[a] = _agentHash(a);
    }

    function _agentHash(uint256 a) internal view returns (bytes32) {
        (address key, bool isRevoked, AgentPolicy memory p) = account.getAgent(agentIds[a]);
        return keccak256(abi.encode(key, isRevoked, p));
    }

    /// @dev The caps now in force count for the current period too (the largest one bounds it).
    function _noteCapsInPeriod(uint256 a) internal {
        uint256 end = _end(a);
        for (uint256 t; t < T; ++t) {
            if (perPeriod[a][t] > maxPeriodCapIn[a][t][end]) maxPeriodCapIn[a][t][end] = perPeriod[a][t];
        }
    }

    function _isMerchant(uint256 a, uint256 r) internal view returns (bool) {
        return granted[a] && (r == a || r == a + 1);
    }

    function _pickKeyPk(uint256 a, uint256 seed) internal view returns (uint256) {
        uint256[] storage pks = _keyPks[a];
        uint256 k = seed % 16;
        if (pks.length == 0 || k == 15)
            return _bound(uint256(keccak256(abi.encode("stranger", seed))), 1, SECP256K1_N - 1);
        if (k == 13 && pks.length > 1) return pks[(seed >> 8) % (pks.length - 1)];
        if (k == 14) {
            uint256[] storage other = _keyPks[(a + 1 + ((seed >> 8) % (N - 1))) % N];
            if (other.length != 0) return other[other.length - 1];
        }
        return pks[pks.length - 1];
    }

    /// @dev One to three calls: mostly transfers and approves of either token and ETH sends to the agent's merchants,
    ///      of amounts around the per-payment cap; sometimes to non-merchants, ETH with calldata, malformed token
    ///      calldata, a transferFrom, or a call into the account itself.
    function _calls(uint256 a, uint256 seed, uint256 amountSeed) internal view returns (Execution[] memory calls) {
        calls = new Execution[](1 + (seed % 3));
        // three batches in four are well-formed payments to the agent's merchants within the per-payment cap (so
        // that caps fill up); the fourth may hold anything
        bool clean = (seed >> 12) % 4 != 0;
        for (uint256 i; i < calls.length; ++i) {
            uint256 s = uint256(keccak256(abi.encode(seed, i)));
            if (clean) s &= ~(uint256(0xF) | (uint256(0xF) << 16) | (uint256(0x1F) << 24)); // no odd recipient, amount or kind
            if (clean) s |= ((seed >> 20) % 3 == 0 ? uint256(1) : uint256(2)) << 16; // exactly the cap, or at most it
            if (clean && (seed >> 24) % 3 == 0) s |= uint256(20) << 24; // an approve
            // mostly one token per batch, so that batches fill caps
            uint256 t = (s >> 40) % 4 == 0 ? (s >> 4) % T : (seed >> 4) % T;
            address to = s % 16 < 14 ? recipients[a + ((s >> 8) % 2)] : recipients[(s >> 8) % R];
            uint256 cap = perPayment[a][t];
            uint256 raw = uint256(keccak256(abi.encode(amountSeed, i)));
            uint256 mode = (s >> 16) % 4; // over the cap at times, exactly the cap at times
            uint256 amount =
                mode == 0
                    ? _bound(raw, 0, 2 * cap + 1)
                    : mode == 1
                        ? cap
                        : _bound(raw, 0, cap);
            uint256 kind = (s >> 24) % 32;
            address tok = tokenOf(t == 2 ? 0 : t);
            if (t == 2 && kind < 27) {
                calls[i] = Execution(to, amount, kind == 26 ? bytes(hex"c0ffee") : bytes(""));
            } else if (kind < 20) {
                calls[i] = Execution(tok, 0, abi.encodeCall(IERC20.transfer, (to, amount)));
            } else if (kind < 27) {
                calls[i] = Execution(tok, 0, abi.encodeCall(IERC20.approve, (to, amount)));
            } else if (kind < 29) {
                // a transfer one byte short, or with a trailing byte
                bytes memory d = abi.encodeCall(IERC20.transfer, (to, amount));
                calls[i] = Execution(tok, 0, s & 1 == 0 ? _truncate(d, d.length - 1) : bytes.concat(d, hex"00"));
            } else if (kind == 29) {
                calls[i] = Execution(tok, 0, abi.encodeCall(IERC20.transferFrom, (address(account), to, amount)));
            } else if (kind == 30) {
                // the account itself: an agent lifting its own caps
                AgentPolicy memory p = _policy(a);
                calls[i] = Execution(address(account), 0, abi.encodeCall(AgentAccount.updatePolicy, (agentIds[a], p)));
            } else {
                calls[i] = Execution(tok, amount % 3, _truncate(abi.encodeCall(IERC20.transfer, (to, amount)), s % 4));
            }
        }
    }

    function _truncate(bytes memory d, uint256 len) internal pure returns (bytes memory) {
        assembly ("memory-safe") {
            mstore(d, len)
        }
        return d;
    }

    function _snap() internal view returns (Snap memory s) {
        s.account = [tokenA.balanceOf(address(account)), tokenB.balanceOf(address(account)), address(account).balance];
        for (uint256 r; r < R; ++r) {
            address x = recipients[r];
            s.allowance[r] = [tokenA.allowance(address(account), x), tokenB.allowance(address(account), x)];
            s.received[r] = [tokenA.balanceOf(x), tokenB.balanceOf(x), x.balance];
        }
    }

    /// @dev The v0.8 EntryPoint's reading of validationData: no aggregator (1 = bad signature), and
    ///      validAfter < now <= validUntil (validUntil 0 = forever).
    function _entryPointAccepts(uint256 validationData) internal view returns (bool) {
        if (uint160(validationData) != 0) return false;
        uint256 until = uint48(validationData >> 160);
        uint256 after_ = uint48(validationData >> 208);
        if (until == 0) until = type(uint48).max;
        return block.timestamp <= until && block.timestamp > after_;
    }

    /// @dev Measures what the batch moved and books it; flags every breach.
    function _settle(uint256 a, address key, bool ok, Snap memory before) internal {
        Snap memory after_ = _snap();
        uint256[T] memory moved;
        bool any;
        for (uint256 t; t < T; ++t) {
            if (before.account[t] > after_.account[t]) moved[t] = before.account[t] - after_.account[t];
        }
        for (uint256 r; r < R; ++r) {
            bool touched;
            for (uint256 t; t < 2; ++t) {
                if (after_.allowance[r][t] > before.allowance[r][t]) {
                    uint256 grew = after_.allowance[r][t] - before.allowance[r][t];
                    moved[t] += grew;
                    allowanceGranted[t] += grew;
                    touched = true;
                }
                if (after_.allowance[r][t] != before.allowance[r][t]) any = true;
            }
            for (uint256 t; t < T; ++t) if (after_.received[r][t] != before.received[r][t]) touched = true;
            if (touched && !_isMerchant(a, r)) ++nonMerchantReceipts;
        }
        for (uint256 t; t < T; ++t) if (moved[t] != 0 || after_.account[t] != before.account[t]) any = true;
        if (!ok) {
            ++refusedBatches;
            if (any) ++partialBatches; // all or nothing
            return;
        }
        ++successfulBatches;
        if (revoked[a] || !granted[a]) ++revokedPays;
        if (retired[key]) ++retiredKeyPays;
        if (!revoked[a] && granted[a] && key != vm.addr(_keyPks[a][_keyPks[a].length - 1])) ++wrongKeyPays;
        if (paused) ++pausedPays;
        uint256 now_ = block.timestamp;
        uint256 hourOfWeek = (now_ / 1 hours + 72) % 168;
        if (now_ < validAfter[a] || now_ > validUntil[a] || (activeHours[a] >> hourOfWeek) & 1 == 0) {
            ++outsideWindowPays;
        }
        uint256 end = _end(a);
        _noteCapsInPeriod(a);
        for (uint256 t; t < T; ++t) {
            uint256 inPeriod = movedInPeriod[a][t][end];
            uint256 ever = movedEver[a][t];
            if (moved[t] > (perPeriod[a][t] > inPeriod ? perPeriod[a][t] - inPeriod : 0)) ++periodBreaches;
            if (moved[t] > (lifetime[a][t] > ever ? lifetime[a][t] - ever : 0)) ++lifetimeBreaches;
            movedInPeriod[a][t][end] = inPeriod + moved[t];
            movedEver[a][t] = ever + moved[t];
        }
    }

    /// @dev Every token transfer, approve and ETH send of a batch that went through was within the per-payment cap,
    ///      and the batch fits the call limit.
    function _checkPerPayment(uint256 a, Execution[] memory calls) internal {
        for (uint256 i; i < calls.length; ++i) {
            Execution memory c = calls[i];
            uint256 t =
                c.target == address(tokenA)
                    ? 0
                    : c.target == address(tokenB)
                        ? 1
                        : 2;
            uint256 amount = c.value;
            if (t < 2 && c.callData.length >= 0x44) {
                bytes memory d = c.callData;
                assembly ("memory-safe") {
                    amount := mload(add(d, 0x44))
                }
            }
            if (amount > perPayment[a][t]) ++perPaymentBreaches;
        }
        uint256 end = _end(a);
        callsInPeriod[a][end] += calls.length;
        if (maxCalls[a] != type(uint32).max && callsInPeriod[a][end] > maxCalls[a]) ++callBreaches;
    }
}

/// @notice Stateful invariants of the guardrails over owner actions, agent batches, bundles and time, checked after
///         every handler call. Movements come from balances and allowances (the handler's ghost books), never from
///         the account's counters.
contract AgentAccountGuardrailInvariantTest is SolTestBase {
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    uint256 internal constant N = 4;
    uint256 internal constant T = 3;
    bytes32 internal constant IMPLEMENTATION_SLOT = 0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc;

    SolTestGuardrailHandler internal handler;

    function setUp() public {
        vm.warp(1_704_067_200 + 7 hours + 59 minutes); // Monday 2024-01-01 07:59 UTC, a minute before business hours
        handler = new SolTestGuardrailHandler();
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    function targetSelectors() public view returns (FuzzSelector[] memory targets) {
        bytes4[] memory s = new bytes4[](18);
        s[0] = SolTestGuardrailHandler.pay.selector;
        s[1] = SolTestGuardrailHandler.payGarbage.selector;
        s[2] = SolTestGuardrailHandler.payViaUserOp.selector;
        s[3] = SolTestGuardrailHandler.merchantPulls.selector;
        s[4] = SolTestGuardrailHandler.grant.selector;
        s[5] = SolTestGuardrailHandler.updatePolicy.selector;
        s[6] = SolTestGuardrailHandler.rotateKey.selector;
        s[7] = SolTestGuardrailHandler.revoke.selector;
        s[8] = SolTestGuardrailHandler.pause.selector;
        s[9] = SolTestGuardrailHandler.unpause.selector;
        s[10] = SolTestGuardrailHandler.setGuardian.selector;
        s[11] = SolTestGuardrailHandler.upgrade.selector;
        s[12] = SolTestGuardrailHandler.intrude.selector;
        s[13] = SolTestGuardrailHandler.warp.selector;
        // agent batches more often than anything else, and time jumps twice as often as owner actions
        s[14] = SolTestGuardrailHandler.pay.selector;
        s[15] = SolTestGuardrailHandler.pay.selector;
        s[16] = SolTestGuardrailHandler.payViaUserOp.selector;
        s[17] = SolTestGuardrailHandler.warp.selector;
        targets = new FuzzSelector[](1);
        targets[0] = FuzzSelector(address(handler), s);
    }

    /// @notice What each agent moved in each token in the current period (balances and allowances) is within the
    ///         largest period cap in force during it, and every batch fit what the cap in force left.
    function invariant_movedPerPeriodWithinThePeriodCap() public view {
        vm.assertEq(handler.periodBreaches(), 0, "a batch moved more than the period cap left");
        vm.assertEq(handler.perPaymentBreaches(), 0, "a payment above the per-payment cap");
        for (uint256 a; a < N; ++a) {
            uint256 end = handler.currentEnd(a);
            for (uint256 t; t < T; ++t) {
                vm.assertLe(
                    handler.movedInPeriod(a, t, end),
                    handler.maxPeriodCapIn(a, t, end),
                    "moved in this period > the period cap"
                );
            }
        }
    }

    /// @notice The same over the agent's whole life; and the account's counters never undercount what moved.
    function invariant_movedEverWithinTheLifetimeCap() public view {
        vm.assertEq(handler.lifetimeBreaches(), 0, "a batch moved more than the lifetime cap left");
        AgentAccount account = handler.account();
        for (uint256 a; a < N; ++a) {
            bytes32 id = handler.agentIds(a);
            for (uint256 t; t < T; ++t) {
                vm.assertLe(handler.movedEver(a, t), handler.maxLifetimeEver(a, t), "moved ever > any lifetime cap");
                (uint256 inPeriod, uint256 inLifetime) = account.spent(id, handler.tokenOf(t));
                vm.assertGe(inLifetime, handler.movedEver(a, t), "the lifetime counter undercounts what moved");
                vm.assertGe(
                    inPeriod,
                    handler.movedInPeriod(a, t, handler.currentEnd(a)),
                    "the period counter undercounts what moved"
                );
            }
        }
        // merchants can only ever pull what allowances granted
        for (uint256 t; t < 2; ++t) {
            vm.assertLe(handler.pulledByMerchants(t), handler.allowanceGranted(t), "pulled more than was approved");
        }
    }

    /// @notice Gas charged for an agent's UserOperations is exactly what the account reports, never more than the
    ///         largest budget it ever had, and every op fit the budget in force.
    function invariant_gasChargedWithinTheBudget() public view {
        vm.assertEq(handler.gasBreaches(), 0, "an op was charged other than its max cost, or past the budget");
        AgentAccount account = handler.account();
        for (uint256 a; a < N; ++a) {
            (uint256 charged, , , ) = account.agentUsage(handler.agentIds(a));
            vm.assertEq(charged, handler.gasCharged(a), "gas charged = the max costs of validated ops");
            vm.assertLe(charged, handler.maxBudgetEver(a), "gas charged > any budget");
        }
    }

    /// @notice Nothing moves for a revoked or never-granted agent, while paused, for a retired or foreign key, outside
    ///         the validity window or active hours, past the call limit, to a non-merchant, or in a refused batch.
    function invariant_nothingMovesWhenItMustNot() public view {
        vm.assertEq(handler.revokedPays(), 0, "a revoked or never-granted agent paid");
        vm.assertEq(handler.pausedPays(), 0, "an agent paid while paused");
        vm.assertEq(handler.retiredKeyPays(), 0, "a retired key paid");
        vm.assertEq(handler.wrongKeyPays(), 0, "a key that is not the agent's current key paid");
        vm.assertEq(handler.outsideWindowPays(), 0, "an agent paid outside its validity window or active hours");
        vm.assertEq(handler.callBreaches(), 0, "an agent made more calls than its call limit");
        vm.assertEq(handler.nonMerchantReceipts(), 0, "a non-merchant received funds or an allowance");
        vm.assertEq(handler.partialBatches(), 0, "a refused batch moved something");
    }

    /// @notice Policies, keys, the owner, the guardian and the implementation are what the owner's (and guardian's)
    ///         own actions last made them, whatever agents and strangers tried in between.
    function invariant_adminStateChangesOnlyByOwnerAction() public view {
        AgentAccount account = handler.account();
        vm.assertEq(handler.intrusions(), 0, "a non-owner changed owner state");
        vm.assertEq(handler.ownerRefusedWrongly(), 0, "an owner or guardian action was refused");
        vm.assertEq(account.owner(), handler.owner(), "owner");
        vm.assertEq(account.guardian(), handler.guardianNow(), "guardian");
        vm.assertEq(account.agentsPaused(), handler.paused(), "paused flag");
        vm.assertEq(
            ISolTestVmLoad(address(vm)).load(address(account), IMPLEMENTATION_SLOT),
            handler.implementationNow(),
            "implementation"
        );
        for (uint256 a; a < N; ++a) {
            if (!handler.granted(a)) continue;
            (address key, bool isRevoked, AgentPolicy memory p) = account.getAgent(handler.agentIds(a));
            vm.assertEq(keccak256(abi.encode(key, isRevoked, p)), handler.agentHash(a), "agent changed without owner");
        }
    }
}
