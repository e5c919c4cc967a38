// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {AgentPolicy, IAgentGuardrails} from "./interfaces/IAgentGuardrails.sol";
import {AccountOwner} from "./libraries/AccountOwner.sol";
import {AgentSession} from "./libraries/AgentSession.sol";
import {AgentStorage} from "./libraries/AgentStorage.sol";
import {GrantTypedData} from "./libraries/GrantTypedData.sol";
import {LaneRules} from "./libraries/LaneRules.sol";
import {PolicyRules} from "./libraries/PolicyRules.sol";
import {TimeWindow} from "./libraries/TimeWindow.sol";

/// @title AgentAdmin
/// @notice The owner's and guardian's functions of every AgentAccount, reached only by DELEGATECALL from the account
///         (which keeps the account's own code, and its payment path, under the contract size limit). It works on the
///         account's storage through the shared ERC-7201 namespace; called directly it refuses everything.
/// @dev Deployed by the AgentAccount constructor, one per implementation.
contract AgentAdmin is IAgentGuardrails, EIP712 {
    using EnumerableSet for EnumerableSet.AddressSet;

    address private immutable _SELF;
    address private immutable _ENTRY_POINT;

    constructor(address entryPoint) EIP712("Stopline", "1") {
        _SELF = address(this);
        _ENTRY_POINT = entryPoint;
    }

    // ---------------------------------------------------------------- who may call

    /// @dev The owner: the account itself (owner `execute` or an owner UserOperation's callData), the EntryPoint (only
    ///      ever with an owner-signed op: agent ops can only call executeAsAgent), or the owner key directly.
    function _checkOwner() private {
        AgentSession.checkNotLocked();
        if (address(this) == _SELF) revert NotAuthorized(msg.sender);
        address s = msg.sender;
        if (s != address(this) && s != _ENTRY_POINT && s != AccountOwner.get()) revert NotAuthorized(s);
        _bumpVersion();
    }

    /// @dev Every owner or guardian action changes the state version (see AgentStorage.Layout.version).
    function _bumpVersion() private {
        unchecked {
            // wraps after 2^64 actions; a wrap could only matter within one transaction
            ++AgentStorage.layout().version;
        }
    }

    /// @dev The owner or the guardian. Returns who acts, for the event (the owner's address for owner paths).
    function _checkOwnerOrGuardian() private returns (address by) {
        AgentSession.checkNotLocked();
        if (address(this) == _SELF) revert NotAuthorized(msg.sender);
        address s = msg.sender;
        address g = AgentStorage.layout().guardian;
        _bumpVersion();
        if (s == g && g != address(0)) return g;
        address o = AccountOwner.get();
        if (s != address(this) && s != _ENTRY_POINT && s != o) revert NotAuthorized(s);
        return o;
    }

    function _existing(bytes32 agentId) private view returns (AgentStorage.Agent storage a) {
        a = AgentStorage.layout().agents[agentId];
        if (a.validUntil == 0) revert AgentNotFound(agentId);
        if (a.key == address(0)) revert AgentIsRevoked(agentId);
    }

    function _checkNewKey(address key) private view {
        if (key == address(0) || key == address(this) || key == AccountOwner.get()) revert InvalidAgentKey(key);
        if (AgentStorage.layout().keyAgent[key] != bytes32(0)) revert AgentKeyInUse(key);
    }

    // ---------------------------------------------------------------- lifecycle

    function grantAgent(bytes32 agentId, address key, AgentPolicy calldata policy) external {
        _checkOwner();
        _grant(agentId, key, policy);
    }

    function grantAgentBySig(
        bytes32 agentId,
        address key,
        AgentPolicy calldata policy,
        uint256 deadline,
        bytes calldata ownerSignature
    ) external {
        AgentSession.checkNotLocked();
        if (address(this) == _SELF) revert NotAuthorized(msg.sender);
        if (block.timestamp > deadline) revert GrantExpired(deadline);
        AgentStorage.Layout storage $ = AgentStorage.layout();
        uint256 nonce = $.grantNonce;
        bytes32 digest = _hashTypedDataV4(GrantTypedData.hashGrant(agentId, key, policy, nonce, deadline));
        (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecover(digest, ownerSignature);
        address owner = AccountOwner.get();
        if (err != ECDSA.RecoverError.NoError || signer != owner || owner == address(0)) revert InvalidGrantSignature();
        $.grantNonce = nonce + 1;
        _bumpVersion();
        _grant(agentId, key, policy);
    }

    function _grant(bytes32 agentId, address key, AgentPolicy calldata policy) private {
        AgentStorage.Layout storage $ = AgentStorage.layout();
        uint192 nonceKey = uint192(uint256(agentId));
        if (nonceKey == 0) revert InvalidPolicy("agentId must have non-zero low 192 bits (they are its nonce key)");
        if ($.agents[agentId].validUntil != 0 || $.nonceKeyUsed[nonceKey]) revert AgentAlreadyExists(agentId);
        _checkNewKey(key);
        PolicyRules.validate(policy, address(this), _ENTRY_POINT);

        $.nonceKeyUsed[nonceKey] = true;
        $.keyAgent[key] = agentId;
        AgentStorage.Agent storage a = $.agents[agentId];
        a.key = key;
        PolicyRules.store(a, policy, true);
        emit AgentGranted(agentId, key, policy.mandate, policy);
    }

    function updatePolicy(bytes32 agentId, AgentPolicy calldata policy) external {
        _checkOwner();
        AgentStorage.Agent storage a = _existing(agentId);
        PolicyRules.validate(policy, address(this), _ENTRY_POINT);
        address[] memory old = a.tokens.values();
        bool[] memory hadLane = new bool[](old.length);
        for (uint256 i; i < old.length; ++i) hadLane[i] = a.token[old[i]].laneCount != 0;
        PolicyRules.store(a, policy, false);
        // a lane switched off or unlisted closes now (SPEC section 7)
        uint256 period = TimeWindow.currentPeriodEnd(a);
        for (uint256 i; i < old.length; ++i) {
            AgentStorage.TokenState storage ts = a.token[old[i]];
            if (hadLane[i] && ts.laneCount == 0) LaneRules.close(ts, agentId, old[i], period);
        }
        emit AgentPolicyUpdated(agentId, policy.mandate, policy);
    }

    function rotateAgentKey(bytes32 agentId, address newKey) external {
        _checkOwner();
        AgentStorage.Agent storage a = _existing(agentId);
        _checkNewKey(newKey);
        address oldKey = a.key;
        // the old key stays in keyAgent: retired, it can never be registered again
        AgentStorage.layout().keyAgent[newKey] = agentId;
        a.key = newKey;
        emit AgentKeyRotated(agentId, oldKey, newKey);
    }

    function revokeAgent(bytes32 agentId) external {
        address by = _checkOwnerOrGuardian();
        AgentStorage.Agent storage a = _existing(agentId);
        a.key = address(0);
        // every open lane closes: its unused hold goes back to the lifetime counter (SPEC section 7)
        address[] memory tokens = a.tokens.values();
        uint256 period = TimeWindow.currentPeriodEnd(a);
        for (uint256 i; i < tokens.length; ++i) LaneRules.close(a.token[tokens[i]], agentId, tokens[i], period);
        emit AgentRevoked(agentId, by);
    }

    // ---------------------------------------------------------------- the x402 lane (SPEC section 7)

    /// @notice Opens the agent's lane for `token` in the current period (see LaneRules.open), for the agent's current
    ///         key or the owner, directly or as a UserOperation validated as the agent's op.
    function openLane(bytes32 agentId, address token) external {
        AgentSession.checkNotLocked();
        if (address(this) == _SELF) revert NotAuthorized(msg.sender);
        AgentStorage.Layout storage $ = AgentStorage.layout();
        if ($.paused) revert AgentsPaused();
        AgentStorage.Agent storage a = $.agents[agentId];
        if (a.validUntil == 0) revert AgentNotFound(agentId);
        address key = a.key;
        if (key == address(0)) revert AgentIsRevoked(agentId);
        // an op's signer, as its validation recorded it (then checked again: a rotation may have come in between)
        address caller = msg.sender == _ENTRY_POINT ? AgentSession.laneSigner(agentId) : msg.sender;
        // (no recorded signer reads as address(0): neither the key, nor the account, nor the owner)
        if (caller != key && caller != address(this) && caller != AccountOwner.get()) revert AgentUnknown(caller);
        bytes memory v = TimeWindow.checkValidity(agentId, a.validAfter, a.validUntil);
        if (v.length != 0) {
            assembly ("memory-safe") {
                // the encoded violation as the revert data
                revert(add(v, 0x20), mload(v))
            }
        }
        AgentStorage.TokenState storage ts = a.token[token];
        if (ts.flags & AgentStorage.LISTED == 0) revert TokenNotAllowed(agentId, token);
        if (ts.laneCount == 0) revert LaneNotEnabled(agentId, token);
        LaneRules.open(ts, agentId, token, TimeWindow.currentPeriodEnd(a));
    }

    /// @notice The opening that every ordinary payment of a lane token makes after charging its own amount. Reached only
    ///         from the account's own payment path (the account has no way to forward this selector from outside).
    function openLaneForPayment(bytes32 agentId, address token, uint256 period) external {
        if (address(this) == _SELF) revert NotAuthorized(msg.sender);
        LaneRules.open(AgentStorage.layout().agents[agentId].token[token], agentId, token, period);
    }

    function setGuardian(address guardian) external {
        _checkOwner();
        AgentStorage.layout().guardian = guardian;
        emit GuardianSet(guardian);
    }

    function setAgentPaymaster(address paymaster, bool allowed) external {
        _checkOwner();
        if (paymaster == address(0)) revert InvalidPolicy("paymaster may not be the zero address");
        AgentStorage.layout().paymasterAllowed[paymaster] = allowed;
        emit AgentPaymasterSet(paymaster, allowed);
    }

    function pauseAgents() external {
        address by = _checkOwnerOrGuardian();
        AgentStorage.layout().paused = true;
        emit AgentsPausedSet(true, by);
    }

    function unpauseAgents() external {
        _checkOwner();
        AgentStorage.layout().paused = false;
        emit AgentsPausedSet(false, AccountOwner.get());
    }
}
