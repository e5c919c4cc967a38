// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Account} from "@openzeppelin/contracts/account/Account.sol";
import {ERC7821} from "@openzeppelin/contracts/account/extensions/draft-ERC7821.sol";
import {ERC4337Utils} from "@openzeppelin/contracts/account/utils/ERC4337Utils.sol";
import {IEntryPoint, PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {Execution} from "@openzeppelin/contracts/interfaces/draft-IERC7579.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts/proxy/utils/UUPSUpgradeable.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
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
        AgentStorage.Agent storage a = AgentStorage.layout().agents[agentId];
        address caller = msg.sender;
        bool proven;
        if (caller == address(_ENTRY_POINT)) {
            // the caller is the key that validated this agent's op in this transaction; if no owner or guardian
            // action happened since, steps 1 to 3 proven in validation still hold
            uint64 version;
            (caller, version) = AgentSession.validated(agentId);
            proven = caller != address(0) && version == AgentStorage.layout().version;
        }
        bytes memory v;
        address firstToken;
        bool pays;
        if (proven) {
            (firstToken, pays) = _firstPayment(a, calls);
        } else {
            _revertIf(_checkIdentity(a, agentId, caller, true));
            (v, firstToken, pays) = _checkCalls(a, agentId, calls);
            _revertIf(v);
        }
        (uint256 end, uint256 newCount) = (0, 0);
        (v, end, newCount) = _checkClockAndCalls(a, agentId, calls.length, firstToken, pays);
        _revertIf(v);
        if (newCount != _NOT_COUNTED) CallLimit.consume(a, newCount, end);

        // effects: step 8, each payment checked and charged in batch order
        if (pays) {
            for (uint256 i; i < calls.length; ++i) {
                Execution calldata c = calls[i];
                CallDecoder.Payment memory p = CallDecoder.paymentOf(a, c.target, c.value, c.callData);
                if (!p.isPayment) continue;
                AgentStorage.TokenState storage ts = a.token[p.token];
                (uint128 spentP, uint128 spentL) = SpendLimits.counters(ts, end);
                uint128 newP;
                uint128 newL;
                (v, newP, newL) = SpendLimits.evaluate(ts, agentId, p.token, p.amount, spentP, spentL, end);
                _revertIf(v);
                SpendLimits.commit(ts, agentId, p.token, p.merchant, p.amount, newP, newL, end);
            }
        }

        // interactions, with the account locked against reentry
        AgentSession.lock();
        for (uint256 i; i < calls.length; ++i) {
            Execution calldata c = calls[i];
            (bool ok, bytes memory ret) = c.target.call{value: c.value}(c.callData);
            if (!ok) {
                assembly ("memory-safe") {
                    revert(add(ret, 0x20), mload(ret))
                }
            }
            if (a.token[c.target].flags & AgentStorage.LISTED != 0 && !_tokenCallSucceeded(c.target, ret))
                revert TokenCallFailed(agentId, c.target);
        }
        AgentSession.unlock();
    }

    /// @notice Would this batch pass right now? Empty when it would, otherwise the ABI-encoded custom error the direct
    ///         call would revert with. It cannot know the caller, so it skips the key check; it does not cover the
    ///         UserOperation-only checks (nonce key, paymaster, gas budget).
    function checkAgentCalls(bytes32 agentId, Execution[] calldata calls) external view returns (bytes memory) {
        AgentStorage.Agent storage a = AgentStorage.layout().agents[agentId];
        if (a.validUntil == 0) return abi.encodeWithSelector(AgentNotFound.selector, agentId);
        bytes memory v = _checkIdentity(a, agentId, address(0), false);
        if (v.length != 0) return v;
        (bytes memory callsV, address firstToken, bool pays) = _checkCalls(a, agentId, calls);
        if (callsV.length != 0) return callsV;
        uint256 end;
        (v, end, ) = _checkClockAndCalls(a, agentId, calls.length, firstToken, pays);
        if (v.length != 0 || !pays) return v;
        // step 8 without writing: earlier payments of the same token in the batch add up
        for (uint256 i; i < calls.length; ++i) {
            CallDecoder.Payment memory p = CallDecoder.paymentOf(a, calls[i].target, calls[i].value, calls[i].callData);
            if (!p.isPayment) continue;
            AgentStorage.TokenState storage ts = a.token[p.token];
            (uint128 spentP, uint128 spentL) = SpendLimits.counters(ts, end);
            for (uint256 j; j < i; ++j) {
                CallDecoder.Payment memory q = CallDecoder.paymentOf(
                    a,
                    calls[j].target,
                    calls[j].value,
                    calls[j].callData
                );
                if (q.isPayment && q.token == p.token) {
                    spentP = AgentStorage.addSaturating(spentP, q.amount);
                    spentL = AgentStorage.addSaturating(spentL, q.amount);
                }
            }
            (v, , ) = SpendLimits.evaluate(ts, agentId, p.token, p.amount, spentP, spentL, end);
            if (v.length != 0) return v;
        }
        return "";
    }

    // ---------------------------------------------------------------- the checks, in SPEC section 3's order

    /// @dev Steps 1 and 2: paused, revoked, then (if checkKey) the caller must be the agent's current key.
    function _checkIdentity(
        AgentStorage.Agent storage a,
        bytes32 agentId,
        address caller,
        bool checkKey
    ) private view returns (bytes memory) {
        if (AgentStorage.layout().paused) return abi.encodeWithSelector(AgentsPaused.selector);
        address key = a.key;
        if (key == address(0) && a.validUntil != 0) return abi.encodeWithSelector(AgentIsRevoked.selector, agentId);
        if (checkKey && (key != caller || key == address(0))) {
            return abi.encodeWithSelector(AgentUnknown.selector, caller);
        }
        return "";
    }

    /// @dev Step 3: every call in batch order (CallDecoder), each payment against its per-payment cap.
    /// @return v the first refusal
    /// @return firstToken the token of the first payment (its state carries the agent's schedule)
    /// @return pays whether the batch makes any payment
    function _checkCalls(
        AgentStorage.Agent storage a,
        bytes32 agentId,
        Execution[] calldata calls
    ) private view returns (bytes memory v, address firstToken, bool pays) {
        // an empty batch does nothing but spend: refuse it
        if (calls.length == 0) {
            return (abi.encodeWithSelector(CallNotAllowed.selector, agentId, address(0), bytes4(0)), address(0), false);
        }
        for (uint256 i; i < calls.length; ++i) {
            Execution calldata c = calls[i];
            CallDecoder.Payment memory p;
            (v, p) = CallDecoder.decode(a, agentId, c.target, c.value, c.callData, address(_ENTRY_POINT));
            if (v.length != 0) return (v, firstToken, pays);
            if (p.isPayment) {
                v = SpendLimits.checkPerPayment(a, agentId, p.token, p.amount);
                if (v.length != 0) return (v, firstToken, pays);
                if (!pays) (firstToken, pays) = (p.token, true);
            }
        }
    }

    /// @dev The token of the batch's first payment, for a batch that already passed step 3.
    function _firstPayment(
        AgentStorage.Agent storage a,
        Execution[] calldata calls
    ) private view returns (address token, bool pays) {
        for (uint256 i; i < calls.length; ++i) {
            CallDecoder.Payment memory p = CallDecoder.paymentOf(a, calls[i].target, calls[i].value, calls[i].callData);
            if (p.isPayment) return (p.token, true);
        }
    }

    /// @dev Steps 5 to 7: validity window, active hours, call limit. Returns the current period's end and the period's
    ///      call count after this batch (_NOT_COUNTED without a limit). The schedule is read from the first payment's
    ///      token state (already warm), else from the agent's.
    function _checkClockAndCalls(
        AgentStorage.Agent storage a,
        bytes32 agentId,
        uint256 nCalls,
        address firstToken,
        bool pays
    ) private view returns (bytes memory v, uint256 end, uint256 newCount) {
        newCount = _NOT_COUNTED;
        v = TimeWindow.checkValidity(a, agentId);
        if (v.length != 0) return (v, 0, newCount);
        uint256 flags;
        if (pays) {
            AgentStorage.TokenState storage ts = a.token[firstToken];
            (flags, end) = (ts.flags, TimeWindow.periodEnd(ts.anchor, ts.period, block.timestamp));
        } else {
            (flags, end) = (a.flags, TimeWindow.currentPeriodEnd(a));
        }
        v = TimeWindow.checkActiveHours(a, agentId, flags & AgentStorage.ANY_HOUR != 0);
        if (v.length != 0 || flags & AgentStorage.CALL_LIMIT == 0) return (v, end, newCount);
        (v, newCount) = CallLimit.check(a, agentId, nCalls, end);
    }

    /// @dev `newCount` of an agent without a call limit.
    uint256 private constant _NOT_COUNTED = type(uint256).max;

    function _tokenCallSucceeded(address token, bytes memory ret) private view returns (bool) {
        if (ret.length == 0) return token.code.length != 0;
        if (ret.length < 32) return false;
        uint256 word;
        assembly ("memory-safe") {
            word := mload(add(ret, 0x20))
        }
        return word == 1;
    }

    function _revertIf(bytes memory violation) private pure {
        if (violation.length != 0) {
            assembly ("memory-safe") {
                revert(add(violation, 0x20), mload(violation))
            }
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
        if (data.length >= 4 && bytes4(data[:4]) == this.executeAsAgent.selector) {
            return _validateAgentOp(userOp, userOpHash);
        }
        return super._validateUserOp(userOp, userOpHash, signature);
    }

    /// @dev Steps 1-4 of SPEC section 3 (no clock: ERC-7562), then the gas charge, and the signature judged last so that
    ///      a stub signature measures the same path as the real one. Reverts carry the custom error (the EntryPoint
    ///      wraps it in FailedOpWithRevert); the time window goes back in validationData (the EntryPoint's AA22).
    function _validateAgentOp(PackedUserOperation calldata userOp, bytes32 userOpHash) private returns (uint256) {
        (bytes32 agentId, Execution[] calldata calls) = AgentCallData.decode(userOp.callData);
        AgentStorage.Layout storage $ = AgentStorage.layout();
        if ($.paused) revert AgentsPaused();
        AgentStorage.Agent storage a = $.agents[agentId];
        address key = a.key;
        uint48 validUntil = a.validUntil;
        if (validUntil == 0) return ERC4337Utils.SIG_VALIDATION_FAILED; // never granted: no key can sign for it
        if (key == address(0)) revert AgentIsRevoked(agentId);
        (bytes memory v, , ) = _checkCalls(a, agentId, calls);
        _revertIf(v);

        uint192 nonceKey = uint192(userOp.nonce >> 64);
        if (nonceKey != uint192(uint256(agentId))) revert WrongNonceKey(agentId, nonceKey);
        if (userOp.paymasterAndData.length != 0) {
            address paymaster = address(bytes20(userOp.paymasterAndData[:20]));
            if (!$.paymasterAllowed[paymaster]) revert PaymasterNotAllowed(agentId, paymaster);
        } else {
            GasBudget.charge(a, agentId, _maxCost(userOp));
        }
        AgentSession.recordValidated(agentId, key, $.version);

        (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecover(userOpHash, userOp.signature);
        bool sigOk = err == ECDSA.RecoverError.NoError && signer == key;
        uint48 validAfter = a.validAfter;
        // the EntryPoint's validAfter is exclusive, the policy's inclusive
        return ERC4337Utils.packValidationData(sigOk, validAfter == 0 ? 0 : validAfter - 1, validUntil);
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

    function unpauseAgents() external {
        _delegateToAdmin();
    }

    function _delegateToAdmin() private {
        address admin = ADMIN;
        assembly {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), admin, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            if iszero(ok) {
                revert(0, returndatasize())
            }
            return(0, returndatasize())
        }
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
                AgentStorage.fromStored(ts.lifetime)
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
