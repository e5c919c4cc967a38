// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice One spending limit of an agent, for one token (or native ETH). Amounts are in the token's smallest units.
/// @dev `type(uint256).max` means unlimited; any other cap must be at most 2^128 - 2 (SPEC section 2).
struct TokenLimit {
    address token; // address(0) = native ETH
    uint256 perPayment; // largest single payment
    uint256 perPeriod; // most the agent may pay in one period
    uint256 lifetime; // most the agent may ever pay
    uint32 laneCount; // x402 lane (SPEC section 7): signature payments per period; 0 = lane off
    uint256 laneMax; // x402 lane: largest signature payment, 0 < laneMax <= perPayment when laneCount != 0
}

/// @notice Everything an agent may do. See SPEC section 2 for the meaning and bounds of each field.
struct AgentPolicy {
    uint48 validAfter; // first second the key may act (inclusive, unix seconds)
    uint48 validUntil; // last second the key may act (inclusive); type(uint48).max = no expiry
    uint32 period; // seconds per spending period, > 0
    uint168 activeHours; // bit h set = hour-of-week h allowed (UTC, h = 0 is Monday 00:00); all ones = any time
    uint32 maxCallsPerPeriod; // calls per period (each call of a batch counts); type(uint32).max = unlimited
    uint256 gasBudget; // wei the account may pay for this agent's UserOperations, ever; type(uint256).max = unlimited
    bytes32 mandate; // hash of the human instruction this grant implements
    TokenLimit[] limits; // the only tokens (and ETH) the agent may pay with
    address[] merchants; // the only addresses the agent may pay
}

/// @title IAgentGuardrails
/// @notice The errors and events of a Stopline account (SPEC section 6). Each is declared once, here.
interface IAgentGuardrails {
    // ---- refusals of agent actions, in SPEC section 3's order of precedence ----
    error AgentsPaused();
    error AgentIsRevoked(bytes32 agentId);
    error AgentUnknown(address key);
    error CallNotAllowed(bytes32 agentId, address target, bytes4 selector);
    error TokenNotAllowed(bytes32 agentId, address token);
    error MerchantNotAllowed(bytes32 agentId, address merchant);
    error PerPaymentCapExceeded(bytes32 agentId, address token, uint256 amount, uint256 cap);
    error WrongNonceKey(bytes32 agentId, uint192 nonceKey);
    error PaymasterNotAllowed(bytes32 agentId, address paymaster);
    error GasBudgetExceeded(bytes32 agentId, uint256 required, uint256 remaining);
    error AgentNotYetValid(bytes32 agentId, uint256 validAfter);
    error AgentExpired(bytes32 agentId, uint256 validUntil);
    error OutsideActiveHours(bytes32 agentId, uint256 hourOfWeek);
    error CallLimitExceeded(bytes32 agentId, uint256 limit, uint256 resetsAt);
    error PeriodCapExceeded(bytes32 agentId, address token, uint256 amount, uint256 remaining, uint256 resetsAt);
    error LifetimeCapExceeded(bytes32 agentId, address token, uint256 amount, uint256 remaining);
    error TokenCallFailed(bytes32 agentId, address token);
    error AgentReentrancy();
    /// @notice A UserOperation's callData selects executeAsAgent but its arguments are not a valid ABI encoding.
    error MalformedAgentCallData();

    // ---- refusals of owner and guardian actions ----
    error InvalidPolicy(string reason);
    error AgentAlreadyExists(bytes32 agentId);
    error AgentNotFound(bytes32 agentId);
    error InvalidAgentKey(address key);
    error AgentKeyInUse(address key);
    error GrantExpired(uint256 deadline);
    error InvalidGrantSignature();
    /// @notice The caller may not call this function (it is for the owner, or the owner and the guardian).
    error NotAuthorized(address caller);

    // ---- the x402 lane (SPEC section 7) ----
    error LaneNotEnabled(bytes32 agentId, address token);
    error LaneNotOpen(bytes32 agentId, address token, uint256 period);
    error LaneSlotUnavailable(bytes32 agentId, address token, uint256 i, uint256 slots);
    error LaneWindowInvalid(bytes32 agentId, uint256 validAfter, uint256 validBefore, uint256 period);

    event AgentGranted(bytes32 indexed agentId, address indexed key, bytes32 indexed mandate, AgentPolicy policy);
    event AgentPolicyUpdated(bytes32 indexed agentId, bytes32 indexed mandate, AgentPolicy policy);
    event AgentKeyRotated(bytes32 indexed agentId, address indexed oldKey, address indexed newKey);
    event AgentRevoked(bytes32 indexed agentId, address indexed by);
    event AgentPaid(
        bytes32 indexed agentId,
        address indexed token,
        address indexed merchant,
        uint256 amount,
        uint256 spentInPeriod,
        uint256 spentLifetime
    );
    event AgentGasCharged(bytes32 indexed agentId, uint256 charged, uint256 remaining);
    event AgentsPausedSet(bool paused, address indexed by);
    event GuardianSet(address indexed guardian);
    event AgentPaymasterSet(address indexed paymaster, bool allowed);
    event LaneOpened(
        bytes32 indexed agentId,
        address indexed token,
        uint256 period,
        uint256 slots,
        uint256 laneMax,
        uint256 settledPeriod,
        uint256 usedInSettled,
        uint256 givenBack
    );
    event LaneClosed(
        bytes32 indexed agentId,
        address indexed token,
        uint256 settledPeriod,
        uint256 usedInSettled,
        uint256 givenBack
    );
}
