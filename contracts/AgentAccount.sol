// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Account} from "@openzeppelin/contracts/account/Account.sol";
import {ERC7821} from "@openzeppelin/contracts/account/extensions/draft-ERC7821.sol";
import {ERC4337Utils} from "@openzeppelin/contracts/account/utils/ERC4337Utils.sol";
import {IEntryPoint, PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {Execution} from "@openzeppelin/contracts/interfaces/draft-IERC7579.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts/proxy/utils/UUPSUpgradeable.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ERC7739} from "@openzeppelin/contracts/utils/cryptography/signers/draft-ERC7739.sol";
import {AgentAdmin} from "./AgentAdmin.sol";
import {AgentPolicy, TokenLimit, IAgentGuardrails} from "./interfaces/IAgentGuardrails.sol";
import {AccountOwner} from "./libraries/AccountOwner.sol";
import {AgentSession} from "./libraries/AgentSession.sol";
import {AgentStorage} from "./libraries/AgentStorage.sol";
import {AgentCallData} from "./libraries/AgentCallData.sol";
import {CallDecoder} from "./libraries/CallDecoder.sol";
import {CallLimit} from "./libraries/CallLimit.sol";
import {GasBudget} from "./libraries/GasBudget.sol";
import {LaneRules} from "./libraries/LaneRules.sol";
import {MerchantAllowlist} from "./libraries/MerchantAllowlist.sol";
import {SpendLimits} from "./libraries/SpendLimits.sol";
import {TimeWindow} from "./libraries/TimeWindow.sol";

/// @title AgentAccount
/// @notice A smart account shared by one owner and its AI agents. The owner controls everything; each agent holds a
///         session key that can only pay within its policy: per-token caps per payment, period and lifetime, a merchant
///         allowlist, a validity window, weekly active hours, a call limit and a gas budget. Every refusal is a custom
///         error of IAgentGuardrails that says which limit was hit. Behaviour and names: SPEC.md.
/// @dev ERC-1967 proxy implementation (UUPS), created by AgentAccountFactory. Agents act through `executeAsAgent`,
///      directly or as an ERC-4337 UserOperation (EntryPoint v0.8, pinned at construction). Owner and guardian functions
///      run in AgentAdmin by DELEGATECALL; the agent path and the views live here.
contract AgentAccount is Account, EIP712, ERC7739, ERC7821, UUPSUpgradeable, IAgentGuardrails {
    using MerchantAllowlist for AgentStorage.Agent;

    IEntryPoint private immutable _ENTRY_POINT;
    /// @notice The admin module this implementation delegates owner and guardian functions to.
    address public immutable ADMIN;

    /// @param entryPoint_ the ERC-4337 EntryPoint v0.8 (canonical 0x4337084D9E255Ff0702461CF8895CE9E3b5Ff108)
    constructor(address entryPoint_) EIP712("Stopline", "1") {
        _ENTRY_POINT = IEntryPoint(entryPoint_);
        ADMIN = address(new AgentAdmin(entryPoint_));
    }

    /// @inheritdoc Account
    function entryPoint() public view override returns (IEntryPoint) {
        return _ENTRY_POINT;
    }

    /// @notice The owner key (an immutable argument of this account's proxy); address(0) on the implementation.
    function owner() public view returns (address) {
        return AccountOwner.get();
    }

    // ================================================================ agent path

    /// @notice Runs an agent's batch: directly (the agent's key is msg.sender and pays its own gas) or as the callData of
    ///         a UserOperation signed by the key. All or nothing; counters are charged before any call is made.
    function executeAsAgent(bytes32 agentId, Execution[] calldata calls) external {
        AgentSession.checkNotLocked();
        AgentStorage.Layout storage $ = AgentStorage.layout();
        AgentStorage.Agent storage a = $.agents[agentId];
        uint256 a0 = AgentStorage.keyWord(a);
        address caller = msg.sender;
        bool proven;
        uint256 head = AgentStorage.head($);
        if (caller == address(_ENTRY_POINT)) {
            // the caller is the key that validated this agent's op in this transaction; if no owner or guardian
            // action happened since, steps 1 to 3 proven in validation still hold
            uint64 version;
            (caller, version) = AgentSession.validated(agentId);
            proven = caller != address(0) && version == uint64(head >> AgentStorage.VERSION_SHIFT);
        }
        // steps 1 and 2 unless proven: the common case (not paused, the caller is the current key, so the agent is not
        // revoked) costs three comparisons; any other case is explained by _checkIdentity, which then always refuses
        if (!proven && (head & 0xff != 0 || address(uint160(a0)) != caller || caller == address(0))) {
            _revert(_checkIdentity(head, a0, agentId, caller, true));
        }
        bytes memory v;
        uint256 list;
        uint256 firstT0;
        (v, list, firstT0) = _scan(a, agentId, calls, !proven);
        if (v.length != 0) _revert(v);
        uint256 n = calls.length;
        uint256 end;
        uint256 newCount;
        (v, end, newCount) = _checkClockAndCalls(a, agentId, a0, n, firstT0);
        if (v.length != 0) _revert(v);
        if (newCount != _NOT_COUNTED) CallLimit.consume(a, newCount, end);

        // effects: step 8, each payment checked and charged in batch order
        if (firstT0 != 0) {
            // the first payment's TokenState word as _scan read it (nothing has written it since); later payments
            // read theirs again, as an earlier payment of the same token may have re-tagged it
            uint256 t0 = firstT0;
            for (uint256 i; i < n; ++i) {
                (uint256 ts, address token, address merchant, uint256 amount) = _payment(_entry(list, i));
                if (ts == 0) continue;
                if (t0 == 0) t0 = AgentStorage.load(ts);
                v = SpendLimits.spend(AgentStorage.tokenAt(ts), t0, agentId, token, merchant, amount, end);
                if (v.length != 0) _revert(v);
                // a payment of a lane token opens its lane for the period, after its own amount (SPEC section 7)
                if (AgentStorage.flagsOf(t0) & AgentStorage.LANE != 0) _openLaneAfterPayment(agentId, token, ts, end);
                t0 = 0;
            }
        }

        // interactions, with the account locked against reentry
        AgentSession.lock();
        for (uint256 i; i < n; ++i) _call(agentId, _entry(list, i));
        AgentSession.unlock();
    }

    /// @notice Would this batch pass right now? Empty when it would, otherwise the ABI-encoded custom error the direct
    ///         call would revert with. It cannot know the caller, so it skips the key check; it does not cover the
    ///         UserOperation-only checks (nonce key, paymaster, gas budget).
    function checkAgentCalls(bytes32 agentId, Execution[] calldata calls) external view returns (bytes memory) {
        AgentStorage.Layout storage $ = AgentStorage.layout();
        AgentStorage.Agent storage a = $.agents[agentId];
        uint256 a0 = AgentStorage.keyWord(a);
        if (a0 >> AgentStorage.VALID_UNTIL_SHIFT == 0) {
            return abi.encodeWithSelector(AgentNotFound.selector, agentId);
        }
        bytes memory v = _checkIdentity(AgentStorage.head($), a0, agentId, address(0), false);
        if (v.length != 0) return v;
        (bytes memory callsV, uint256 list, uint256 firstT0) = _scan(a, agentId, calls, true);
        if (callsV.length != 0) return callsV;
        uint256 end;
        (v, end, ) = _checkClockAndCalls(a, agentId, a0, calls.length, firstT0);
        if (v.length != 0 || firstT0 == 0) return v;
        // step 8 without writing: earlier payments of the same token in the batch add up
        for (uint256 i; i < calls.length; ++i) {
            (uint256 ts, , address token, , uint256 amount) = CallDecoder.paymentAt(_entry(list, i));
            if (ts == 0) continue;
            AgentStorage.TokenState storage tsI = AgentStorage.tokenAt(ts);
            (uint128 spentP, uint128 spentL) = SpendLimits.counters(tsI, end);
            // the first payment of a lane token opens its lane, if not yet open for this period
            bool opens = tsI.flags & AgentStorage.LANE != 0 && tsI.lanePeriod != end;
            for (uint256 j; j < i; ++j) {
                (uint256 tsJ, , , , uint256 amountJ) = CallDecoder.paymentAt(_entry(list, j));
                if (tsJ == ts) {
                    spentP = AgentStorage.addSaturating(spentP, amountJ);
                    spentL = AgentStorage.addSaturating(spentL, amountJ);
                    if (opens) {
                        LaneRules.Opening memory o = LaneRules.plan(tsI, agentId, token, spentP, spentL);
                        (spentP, spentL, opens) = (o.newP, o.newL, false);
                    }
                }
            }
            (v, , ) = SpendLimits.evaluate(AgentStorage.tokenAt(ts), agentId, token, amount, spentP, spentL, end);
            if (v.length != 0) return v;
        }
        return "";
    }

    // ---------------------------------------------------------------- the checks, in SPEC section 3's order

    /// @dev Steps 1 and 2: paused, revoked, then (if checkKey) AgentUnknown(caller). Only for a caller already known not to
    ///      be the agent's current key (executeAsAgent's fast check failed), or with checkKey false (the views).
    /// @param head the layout's slot 0 (paused flag in its low byte)
    /// @param a0 the agent's slot 0 (key, validAfter, validUntil)
    function _checkIdentity(
        uint256 head,
        uint256 a0,
        bytes32 agentId,
        address caller,
        bool checkKey
    ) private pure returns (bytes memory v) {
        if (head & 0xff != 0) return abi.encodeWithSelector(AgentsPaused.selector);
        address key = address(uint160(a0));
        if (key == address(0) && a0 >> AgentStorage.VALID_UNTIL_SHIFT != 0) {
            return abi.encodeWithSelector(AgentIsRevoked.selector, agentId);
        }
        if (checkKey) return abi.encodeWithSelector(AgentUnknown.selector, caller);
    }

    /// @dev Step 3 when `check` (every call in batch order through CallDecoder, each payment against its per-payment
    ///      cap), or, for a batch that passed it in this transaction's validation, only where the payments are. Either
    ///      way each call is read from calldata once (CallDecoder.read) into an entry that step 8 and the interactions
    ///      use.
    /// @return v the first refusal (empty, unallocated, when there is none)
    /// @return list memory pointer to the batch's entries (CallDecoder.ENTRY_SIZE bytes each; see _entry)
    /// @return firstT0 the first word of the first payment's TokenState (it carries the agent's schedule and flags; it
    ///         is never 0 for a listed token); 0 when the batch pays nothing
    function _scan(
        AgentStorage.Agent storage a,
        bytes32 agentId,
        Execution[] calldata calls,
        bool check
    ) private view returns (bytes memory v, uint256 list, uint256 firstT0) {
        uint256 n = calls.length;
        // an empty batch does nothing but spend: refuse it
        if (check && n == 0) {
            return (abi.encodeWithSelector(CallNotAllowed.selector, agentId, address(0), bytes4(0)), 0, 0);
        }
        uint256 size = CallDecoder.ENTRY_SIZE;
        assembly ("memory-safe") {
            // n entries: n is bounded by the calldata size (each element takes a 32-byte head), no overflow
            list := mload(0x40)
            mstore(0x40, add(list, mul(n, size)))
        }
        for (uint256 i; i < n; ++i) {
            uint256 e = _entry(list, i);
            CallDecoder.read(calls, i, e);
            if (check) {
                v = CallDecoder.classify(a, agentId, address(_ENTRY_POINT), e, true);
                if (v.length != 0) return (v, list, firstT0);
            } else {
                CallDecoder.locate(a, e);
            }
            // an entry's t0 is 0 when the call pays nothing
            if (firstT0 == 0) firstT0 = _t0(e);
        }
    }

    /// @dev Entry i of the batch's list (see _scan).
    function _entry(uint256 list, uint256 i) private pure returns (uint256) {
        unchecked {
            // i < n: inside the region _scan allocated
            return list + i * CallDecoder.ENTRY_SIZE;
        }
    }

    /// @dev The payment words of an entry that step 8 needs (ts == 0: the call pays nothing).
    function _payment(uint256 e) private pure returns (uint256 ts, address token, address merchant, uint256 amount) {
        (uint256 oTs, uint256 oToken, uint256 oMerchant, uint256 oAmount) = (
            CallDecoder.E_TS,
            CallDecoder.E_TOKEN,
            CallDecoder.E_MERCHANT,
            CallDecoder.E_AMOUNT
        );
        assembly ("memory-safe") {
            // reads inside the entry (see CallDecoder's entry layout)
            ts := mload(add(e, oTs))
            token := mload(add(e, oToken))
            merchant := mload(add(e, oMerchant))
            amount := mload(add(e, oAmount))
        }
    }

    function _t0(uint256 e) private pure returns (uint256 t0) {
        uint256 off = CallDecoder.E_T0;
        assembly ("memory-safe") {
            // a read inside the entry
            t0 := mload(add(e, off))
        }
    }

    /// @dev Makes the call of entry `e` as CallDecoder.read read it. A revert bubbles the callee's revert data; a call to
    ///      a listed token (a token payment: E_TOKEN != 0) must return true, or nothing from an address with code, else
    ///      TokenCallFailed.
    function _call(bytes32 agentId, uint256 e) private {
        bytes4 failed = TokenCallFailed.selector;
        (uint256 oToken, uint256 oTarget, uint256 oValue, uint256 oData, uint256 oLength) = (
            CallDecoder.E_TOKEN,
            CallDecoder.E_TARGET,
            CallDecoder.E_VALUE,
            CallDecoder.E_DATA,
            CallDecoder.E_LENGTH
        );
        assembly ("memory-safe") {
            let token := mload(add(e, oToken))
            let target := mload(add(e, oTarget))
            let len := mload(add(e, oLength))
            // the call's data, copied past the free memory pointer (temporary: nothing is allocated after it)
            let m := mload(0x40)
            calldatacopy(m, mload(add(e, oData)), len)
            // the first 32 bytes of the return data land in the scratch space
            if iszero(call(gas(), target, mload(add(e, oValue)), m, len, 0, 0x20)) {
                returndatacopy(m, 0, returndatasize())
                revert(m, returndatasize())
            }
            if token {
                // as SafeERC20: no return data from an address with code, or a first word equal to 1
                let size := returndatasize()
                let good := 0
                switch size
                case 0 {
                    good := gt(extcodesize(target), 0)
                }
                default {
                    good := and(gt(size, 31), eq(mload(0), 1))
                }
                if iszero(good) {
                    mstore(m, failed)
                    mstore(add(m, 0x04), agentId)
                    mstore(add(m, 0x24), target)
                    revert(m, 0x44)
                }
            }
        }
    }

    /// @dev Steps 5 to 7: validity window, active hours, call limit. Returns the current period's end and the period's
    ///      call count after this batch (_NOT_COUNTED without a limit). The schedule is read from the first payment's
    ///      token state (already read by _scan), else from the agent's.
    function _checkClockAndCalls(
        AgentStorage.Agent storage a,
        bytes32 agentId,
        uint256 a0,
        uint256 nCalls,
        uint256 firstT0
    ) private view returns (bytes memory v, uint256 end, uint256 newCount) {
        newCount = _NOT_COUNTED;
        uint256 validAfter = uint48(a0 >> AgentStorage.VALID_AFTER_SHIFT);
        uint256 validUntil = a0 >> AgentStorage.VALID_UNTIL_SHIFT;
        if (!TimeWindow.isValid(validAfter, validUntil)) {
            return (TimeWindow.checkValidity(agentId, validAfter, validUntil), 0, newCount);
        }
        uint256 flags;
        if (firstT0 != 0) {
            flags = AgentStorage.flagsOf(firstT0);
            end = TimeWindow.periodEnd(
                firstT0 >> AgentStorage.ANCHOR_SHIFT,
                uint32(firstT0 >> AgentStorage.PERIOD_SHIFT),
                block.timestamp
            );
        } else {
            (flags, end) = (a.flags, TimeWindow.currentPeriodEnd(a));
        }
        if (flags & AgentStorage.ANY_HOUR == 0) {
            v = TimeWindow.checkActiveHours(a, agentId, false);
            if (v.length != 0) return (v, end, newCount);
        }
        if (flags & AgentStorage.CALL_LIMIT != 0) (v, newCount) = CallLimit.check(a, agentId, nCalls, end);
    }

    /// @dev `newCount` of an agent without a call limit.
    uint256 private constant _NOT_COUNTED = type(uint256).max;

    /// @dev Reverts with an encoded violation as the revert data.
    function _revert(bytes memory violation) private pure {
        assembly ("memory-safe") {
            // the bytes of the violation, as they are in memory
            revert(add(violation, 0x20), mload(violation))
        }
    }

    // ================================================================ ERC-4337

    /// @dev The path is chosen by the callData: `executeAsAgent(agentId, ...)` is that agent's op; anything else must be
    ///      signed by the owner.
    function _validateUserOp(
        PackedUserOperation calldata userOp,
        bytes32 userOpHash,
        bytes calldata signature
    ) internal override returns (uint256) {
        bytes calldata data = userOp.callData;
        if (data.length >= 4) {
            bytes4 selector = bytes4(data[:4]);
            if (selector == this.executeAsAgent.selector) return _validateAgentOp(userOp, data, userOpHash, signature);
            if (selector == this.openLane.selector) return _validateLaneOp(userOp, data, userOpHash, signature);
        }
        return super._validateUserOp(userOp, userOpHash, signature);
    }

    /// @dev Steps 1-4 of SPEC section 3 (no clock: ERC-7562), then the gas charge, and the signature judged last so that
    ///      a stub signature measures the same path as the real one. Reverts carry the custom error (the EntryPoint
    ///      wraps it in FailedOpWithRevert); the time window goes back in validationData (the EntryPoint's AA22).
    function _validateAgentOp(
        PackedUserOperation calldata userOp,
        bytes calldata callData,
        bytes32 userOpHash,
        bytes calldata signature
    ) private returns (uint256) {
        (bytes32 agentId, Execution[] calldata calls) = AgentCallData.decode(callData);
        AgentStorage.Layout storage $ = AgentStorage.layout();
        uint256 head = AgentStorage.head($);
        if (head & 0xff != 0) revert AgentsPaused();
        AgentStorage.Agent storage a = $.agents[agentId];
        uint256 a0 = AgentStorage.keyWord(a);
        address key = address(uint160(a0));
        uint48 validUntil = uint48(a0 >> AgentStorage.VALID_UNTIL_SHIFT);
        if (validUntil == 0) return ERC4337Utils.SIG_VALIDATION_FAILED; // never granted: no key can sign for it
        if (key == address(0)) revert AgentIsRevoked(agentId);
        (bytes memory v, , ) = _scan(a, agentId, calls, true);
        if (v.length != 0) _revert(v);

        _checkAgentOpGas(userOp, $, a, agentId);
        AgentSession.recordValidated(agentId, key, uint64(head >> AgentStorage.VERSION_SHIFT));

        (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecoverCalldata(userOpHash, signature);
        return _agentValidationData(err == ECDSA.RecoverError.NoError && signer == key, a0);
    }

    /// @dev Step 4 of an agent's op (an executeAsAgent or openLane op): its own nonce key, then a paymaster the owner
    ///      allowed, or else the op's maximum cost charged to the gas budget.
    function _checkAgentOpGas(
        PackedUserOperation calldata userOp,
        AgentStorage.Layout storage $,
        AgentStorage.Agent storage a,
        bytes32 agentId
    ) private {
        uint192 nonceKey = uint192(userOp.nonce >> 64);
        if (nonceKey != uint192(uint256(agentId))) revert WrongNonceKey(agentId, nonceKey);
        if (userOp.paymasterAndData.length != 0) {
            address paymaster = address(bytes20(userOp.paymasterAndData[:20]));
            if (!$.paymasterAllowed[paymaster]) revert PaymasterNotAllowed(agentId, paymaster);
        } else {
            GasBudget.charge(a, agentId, _maxCost(userOp));
        }
    }

    /// @dev An agent op's validationData: the signature's verdict and the agent's validity window (a0: its slot 0). The
    ///      EntryPoint's validAfter is exclusive, the policy's inclusive.
    function _agentValidationData(bool sigOk, uint256 a0) private pure returns (uint256) {
        uint48 validAfter = uint48(a0 >> AgentStorage.VALID_AFTER_SHIFT);
        return ERC4337Utils.packValidationData(sigOk, validAfter == 0 ? 0 : validAfter - 1, uint48(a0 >> 208));
    }

    /// @dev An `openLane(agentId, token)` op is the agent's op whoever signs it (SPEC section 7): steps 1 and 2 and the
    ///      token's lane, its nonce key, paymaster and gas budget; then the signature, by the agent's key or the owner.
    function _validateLaneOp(
        PackedUserOperation calldata userOp,
        bytes calldata callData,
        bytes32 userOpHash,
        bytes calldata signature
    ) private returns (uint256) {
        // exactly the selector and two words, the second a clean address: what the ABI decoder will accept
        if (callData.length != 68 || uint256(bytes32(callData[36:68])) >> 160 != 0) revert MalformedAgentCallData();
        bytes32 agentId = bytes32(callData[4:36]);
        address token = address(uint160(uint256(bytes32(callData[36:68]))));
        AgentStorage.Layout storage $ = AgentStorage.layout();
        if (AgentStorage.head($) & 0xff != 0) revert AgentsPaused();
        AgentStorage.Agent storage a = $.agents[agentId];
        uint256 a0 = AgentStorage.keyWord(a);
        address key = address(uint160(a0));
        if (a0 >> AgentStorage.VALID_UNTIL_SHIFT == 0) return ERC4337Utils.SIG_VALIDATION_FAILED;
        if (key == address(0)) revert AgentIsRevoked(agentId);
        AgentStorage.TokenState storage ts = a.token[token];
        if (ts.flags & AgentStorage.LISTED == 0) revert TokenNotAllowed(agentId, token);
        if (ts.laneCount == 0) revert LaneNotEnabled(agentId, token);
        _checkAgentOpGas(userOp, $, a, agentId);

        (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecoverCalldata(userOpHash, signature);
        address o = AccountOwner.get();
        bool sigOk = err == ECDSA.RecoverError.NoError && (signer == key || (signer == o && o != address(0)));
        AgentSession.recordLaneSigner(agentId, sigOk ? signer : key);
        return _agentValidationData(sigOk, a0);
    }

    /// @dev The EntryPoint's required prefund when the account pays: all the op's gas limits times maxFeePerGas.
    function _maxCost(PackedUserOperation calldata userOp) private pure returns (uint256) {
        uint256 gas =
            ERC4337Utils.verificationGasLimit(userOp) + ERC4337Utils.callGasLimit(userOp) + userOp.preVerificationGas;
        uint256 fee = ERC4337Utils.maxFeePerGas(userOp);
        unchecked {
            // the EntryPoint refuses gas values above 2^120 (AA94) before it asks the account; saturate anyway
            uint256 cost = gas * fee;
            return (fee == 0 || cost / fee == gas) ? cost : type(uint256).max;
        }
    }

    /// @dev Owner signatures: 65-byte ECDSA by the owner key (high-s and 64-byte forms are refused by ECDSA).
    function _rawSignatureValidation(bytes32 hash, bytes calldata signature) internal view override returns (bool) {
        (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecover(hash, signature);
        address o = AccountOwner.get();
        return err == ECDSA.RecoverError.NoError && signer == o && o != address(0);
    }

    // ================================================================ owner

    function _checkOwner() private {
        AgentSession.checkNotLocked();
        address s = msg.sender;
        address o = AccountOwner.get();
        if (s != address(this) && s != address(_ENTRY_POINT) && (s != o || o == address(0))) revert NotAuthorized(s);
        unchecked {
            ++AgentStorage.layout().version; // an upgrade changes what validation proved
        }
    }

    /// @inheritdoc ERC7821
    function execute(bytes32 mode, bytes calldata executionData) public payable override {
        AgentSession.checkNotLocked();
        super.execute(mode, executionData);
    }

    /// @dev The owner key, the account itself and the EntryPoint (owner-signed ops only) may run owner batches; anyone
    ///      else is refused with NotAuthorized, like every other owner function.
    function _erc7821AuthorizedExecutor(address caller, bytes32, bytes calldata) internal view override returns (bool) {
        address o = AccountOwner.get();
        if (caller != address(_ENTRY_POINT) && caller != address(this) && (caller != o || o == address(0))) {
            revert NotAuthorized(caller);
        }
        return true;
    }

    function _authorizeUpgrade(address) internal override {
        _checkOwner();
    }

    // Owner and guardian functions (SPEC section 4) run in AgentAdmin; see it for their rules.

    function grantAgent(bytes32, address, AgentPolicy calldata) external {
        _delegateToAdmin();
    }

    function grantAgentBySig(bytes32, address, AgentPolicy calldata, uint256, bytes calldata) external {
        _delegateToAdmin();
    }

    function updatePolicy(bytes32, AgentPolicy calldata) external {
        _delegateToAdmin();
    }

    function rotateAgentKey(bytes32, address) external {
        _delegateToAdmin();
    }

    function revokeAgent(bytes32) external {
        _delegateToAdmin();
    }

    function setGuardian(address) external {
        _delegateToAdmin();
    }

    function setAgentPaymaster(address, bool) external {
        _delegateToAdmin();
    }

    function pauseAgents() external {
        _delegateToAdmin();
    }

    function openLane(bytes32, address) external {
        _delegateToAdmin();
    }

    function unpauseAgents() external {
        _delegateToAdmin();
    }

    /// @dev Opens the token's lane for the period ending at `end` unless it already is (one read): in AgentAdmin, by
    ///      DELEGATECALL, as it asks the token about the last period's nonces.
    function _openLaneAfterPayment(bytes32 agentId, address token, uint256 ts, uint256 end) private {
        uint256 laneWord = AgentStorage.load(ts + AgentStorage.TOKEN_LANE_SLOT);
        if (uint48(laneWord >> AgentStorage.LANE_PERIOD_SHIFT) == end) return;
        (bool ok, bytes memory ret) = ADMIN.delegatecall(
            abi.encodeCall(AgentAdmin.openLaneForPayment, (agentId, token, end))
        );
        if (!ok) _revert(ret);
    }

    function _delegateToAdmin() private {
        address admin = ADMIN;
        assembly ("memory-safe") {
            // the call and its result go past the free memory pointer; this frame ends here either way
            let m := mload(0x40)
            calldatacopy(m, 0, calldatasize())
            let ok := delegatecall(gas(), admin, m, calldatasize(), 0, 0)
            returndatacopy(m, 0, returndatasize())
            if iszero(ok) {
                revert(m, returndatasize())
            }
            return(m, returndatasize())
        }
    }

    // ================================================================ the x402 lane (SPEC section 7)

    /// @dev A lane signature: "LANE", then abi.encode(token, agentId, i, to, value, validAfter, validBefore, v, r, s).
    bytes4 private constant _LANE_TAG = 0x4c414e45;
    uint256 private constant _LANE_SIGNATURE_LENGTH = 4 + 10 * 32;

    /// @notice ERC-1271. The owner's signatures (ERC-7739), and the one kind of agent signature there is: a lane
    ///         signature of an EIP-3009 `transferWithAuthorization` from this account, inside the lane's hold. It
    ///         counts nothing (opening the lane charged the hold), so its cost does not depend on the lane's size.
    function isValidSignature(bytes32 hash, bytes calldata signature) public view override returns (bytes4) {
        if (signature.length == _LANE_SIGNATURE_LENGTH && bytes4(signature[:4]) == _LANE_TAG) {
            return _isValidLaneSignature(hash, signature[4:]) ? this.isValidSignature.selector : bytes4(0xffffffff);
        }
        return super.isValidSignature(hash, signature);
    }

    function _isValidLaneSignature(bytes32 hash, bytes calldata blob) private view returns (bool) {
        (
            address token,
            bytes32 agentId,
            uint256 i,
            address to,
            uint256 value,
            uint256 validAfter,
            uint256 validBefore,
            uint8 v,
            bytes32 r,
            bytes32 s
        ) = abi.decode(blob, (address, bytes32, uint256, address, uint256, uint256, uint256, uint8, bytes32, bytes32));
        (bytes memory violation, address key, uint256 period) = _laneCheck(
            agentId,
            token,
            i,
            to,
            value,
            validAfter,
            validBefore,
            false
        );
        if (violation.length != 0) return false;
        bytes32 structHash = keccak256(
            abi.encode(
                LaneRules.TRANSFER_WITH_AUTHORIZATION_TYPEHASH,
                address(this),
                to,
                value,
                validAfter,
                validBefore,
                LaneRules.nonce(address(this), agentId, token, period, i)
            )
        );
        bytes32 digest = MessageHashUtils.toTypedDataHash(IERC20Permit(token).DOMAIN_SEPARATOR(), structHash);
        if (digest != hash) return false;
        (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecover(digest, v, r, s);
        return err == ECDSA.RecoverError.NoError && signer == key;
    }

    /// @dev Everything a lane payment must satisfy but its signature. Returns the refusal (empty when none), the agent's
    ///      key and the lane period `validAfter` falls in.
    /// @param checkUsed also refuse a nonce the token already marked used (the views do; a token asks before settling)
    function _laneCheck(
        bytes32 agentId,
        address token,
        uint256 i,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bool checkUsed
    ) private view returns (bytes memory v, address key, uint256 period) {
        AgentStorage.Layout storage $ = AgentStorage.layout();
        AgentStorage.Agent storage a = $.agents[agentId];
        uint256 a0 = AgentStorage.keyWord(a);
        if (a0 >> AgentStorage.VALID_UNTIL_SHIFT == 0) v = abi.encodeWithSelector(AgentNotFound.selector, agentId);
        else v = _checkIdentity(AgentStorage.head($), a0, agentId, address(0), false);
        if (v.length != 0) return (v, key, period);
        key = address(uint160(a0));
        v = TimeWindow.checkValidity(
            agentId,
            uint48(a0 >> AgentStorage.VALID_AFTER_SHIFT),
            a0 >> AgentStorage.VALID_UNTIL_SHIFT
        );
        if (v.length == 0) v = TimeWindow.checkActiveHours(a, agentId, a.flags & AgentStorage.ANY_HOUR != 0);
        if (v.length != 0) return (v, key, period);
        AgentStorage.TokenState storage ts = a.token[token];
        uint256 flags = ts.flags;
        if (flags & AgentStorage.LISTED == 0) {
            return (abi.encodeWithSelector(TokenNotAllowed.selector, agentId, token), key, period);
        }
        if (flags & AgentStorage.LANE == 0) {
            return (abi.encodeWithSelector(LaneNotEnabled.selector, agentId, token), key, period);
        }
        period = TimeWindow.periodEnd(a.anchor, a.period, validAfter);
        if (ts.lanePeriod != period) {
            return (abi.encodeWithSelector(LaneNotOpen.selector, agentId, token, period), key, period);
        }
        if (validAfter >= validBefore || validBefore > period) {
            v = abi.encodeWithSelector(LaneWindowInvalid.selector, agentId, validAfter, validBefore, period);
            return (v, key, period);
        }
        uint256 slots = ts.laneSlots;
        if (
            i >= slots ||
            (checkUsed && LaneRules.isUsed(token, LaneRules.nonce(address(this), agentId, token, period, i)))
        ) {
            v = abi.encodeWithSelector(LaneSlotUnavailable.selector, agentId, token, i, slots);
            return (v, key, period);
        }
        if (!a.isMerchant(to)) return (abi.encodeWithSelector(MerchantNotAllowed.selector, agentId, to), key, period);
        uint256 cap = ts.laneHoldMax;
        if (ts.laneMax < cap) cap = ts.laneMax;
        if (value > cap) {
            v = abi.encodeWithSelector(PerPaymentCapExceeded.selector, agentId, token, value, cap);
        }
    }

    /// @notice The lane's hold for `token`: the period it was opened for (its end), the slots reserved and the largest
    ///         payment of each. All zero before any opening; a closed lane shows its period with no slots.
    function lane(
        bytes32 agentId,
        address token
    ) external view returns (uint256 period, uint256 slots, uint256 laneMax) {
        AgentStorage.TokenState storage ts = AgentStorage.layout().agents[agentId].token[token];
        return (ts.lanePeriod, ts.laneSlots, ts.laneHoldMax);
    }

    /// @notice The lane period (the end of the spending period) that `timestamp` falls in; 0 for an unknown agent.
    function lanePeriodOf(bytes32 agentId, uint256 timestamp) external view returns (uint256) {
        AgentStorage.Agent storage a = AgentStorage.layout().agents[agentId];
        if (a.validUntil == 0) return 0;
        return TimeWindow.periodEnd(a.anchor, a.period, timestamp);
    }

    /// @notice The EIP-3009 nonce of lane slot `i` in `period`.
    function laneNonce(bytes32 agentId, address token, uint256 period, uint256 i) external view returns (bytes32) {
        return LaneRules.nonce(address(this), agentId, token, period, i);
    }

    /// @notice Would this lane payment be accepted now (its signature aside)? Empty if so, otherwise the ABI-encoded
    ///         custom error that explains the refusal (a facilitator only ever says the signature is invalid).
    function checkLanePayment(
        bytes32 agentId,
        address token,
        uint256 i,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore
    ) external view returns (bytes memory violation) {
        (violation, , ) = _laneCheck(agentId, token, i, to, value, validAfter, validBefore, true);
    }

    // ================================================================ views

    /// @notice The agent a key currently signs for; zero for an unknown, retired or revoked key.
    function agentOf(address key) external view returns (bytes32) {
        AgentStorage.Layout storage $ = AgentStorage.layout();
        bytes32 agentId = $.keyAgent[key];
        return key != address(0) && $.agents[agentId].key == key ? agentId : bytes32(0);
    }

    function isMerchant(bytes32 agentId, address merchant) external view returns (bool) {
        return AgentStorage.layout().agents[agentId].isMerchant(merchant);
    }

    /// @notice What the agent may still pay in `token` now (token units): the per-payment cap, what is left in the
    ///         period and in the lifetime, and when the period ends (unix seconds). All zero for an unknown or revoked
    ///         agent or an unlisted token; type(uint256).max where unlimited.
    function remaining(
        bytes32 agentId,
        address token
    ) external view returns (uint256 perPayment, uint256 inPeriod, uint256 inLifetime, uint256 periodResetsAt) {
        AgentStorage.Agent storage a = AgentStorage.layout().agents[agentId];
        if (a.key == address(0)) return (0, 0, 0, 0);
        return SpendLimits.remaining(a, token, TimeWindow.currentPeriodEnd(a));
    }

    /// @notice The agent's current key (zero once revoked), whether it was revoked, and its whole policy.
    function getAgent(bytes32 agentId) external view returns (address key, bool revoked, AgentPolicy memory policy) {
        AgentStorage.Agent storage a = AgentStorage.layout().agents[agentId];
        if (a.validUntil == 0) revert AgentNotFound(agentId);
        key = a.key;
        revoked = key == address(0);
        policy.validAfter = a.validAfter;
        policy.validUntil = a.validUntil;
        policy.period = a.period;
        policy.activeHours = a.activeHours;
        policy.maxCallsPerPeriod = a.maxCallsPerPeriod;
        policy.gasBudget = AgentStorage.fromStored(a.gasBudget);
        policy.mandate = a.mandate;
        policy.merchants = MerchantAllowlist.list(a);
        address[] memory tokens = SpendLimits.tokens(a);
        policy.limits = new TokenLimit[](tokens.length);
        for (uint256 i; i < tokens.length; ++i) {
            AgentStorage.TokenState storage ts = a.token[tokens[i]];
            policy.limits[i] = TokenLimit(
                tokens[i],
                AgentStorage.fromStored(ts.perPayment),
                AgentStorage.fromStored(ts.perPeriod),
                AgentStorage.fromStored(ts.lifetime),
                ts.laneCount,
                ts.laneMax
            );
        }
    }

    /// @notice The agent's counters now: gas charged and left (wei), calls made in the current period, and its end.
    function agentUsage(
        bytes32 agentId
    ) external view returns (uint256 gasCharged, uint256 gasRemaining, uint256 callsInPeriod, uint256 periodResetsAt) {
        AgentStorage.Agent storage a = AgentStorage.layout().agents[agentId];
        if (a.validUntil == 0) return (0, 0, 0, 0);
        periodResetsAt = TimeWindow.currentPeriodEnd(a);
        callsInPeriod = a.callsPeriodEnd == periodResetsAt ? a.callsInPeriod : 0;
        return (a.gasCharged, GasBudget.remaining(a), callsInPeriod, periodResetsAt);
    }

    /// @notice What the agent has paid in `token`, in the current period and ever (token units).
    function spent(bytes32 agentId, address token) external view returns (uint256 inPeriod, uint256 inLifetime) {
        AgentStorage.Agent storage a = AgentStorage.layout().agents[agentId];
        if (a.validUntil == 0) return (0, 0);
        AgentStorage.TokenState storage ts = a.token[token];
        (inPeriod, inLifetime) = SpendLimits.counters(ts, TimeWindow.currentPeriodEnd(a));
    }

    function agentsPaused() external view returns (bool) {
        return AgentStorage.layout().paused;
    }

    function guardian() external view returns (address) {
        return AgentStorage.layout().guardian;
    }

    function grantNonce() external view returns (uint256) {
        return AgentStorage.layout().grantNonce;
    }

    function isAgentPaymaster(address paymaster) external view returns (bool) {
        return AgentStorage.layout().paymasterAllowed[paymaster];
    }
}
