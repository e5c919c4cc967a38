// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IPaymaster, PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";

/// @title AgentPathMockFalseToken
/// @notice Test-only ERC-20 look-alike whose `transfer` and `approve` return false without moving anything (THREATS class
///         12: a listed token that reports failure must fail the agent's batch).
contract AgentPathMockFalseToken {
    function transfer(address, uint256) external pure returns (bool) {
        return false;
    }

    function approve(address, uint256) external pure returns (bool) {
        return false;
    }
}

/// @title AgentPathMockReentrantMerchant
/// @notice Test-only merchant that, when paid in ETH or called with `poke()`, calls `reentryTarget` with a stored payload and
///         bubbles its revert data (THREATS class 12: a hook re-entering the account mid-batch). On success it keeps the
///         returned bytes, so a test can read what a view returned while the agent's batch was running.
contract AgentPathMockReentrantMerchant {
    address public reentryTarget;
    bytes public payload;
    bytes public lastResult;
    uint256 public pokes;

    function setPayload(address target_, bytes calldata payload_) external {
        reentryTarget = target_;
        payload = payload_;
    }

    function poke() external payable {
        _reenter();
    }

    receive() external payable {
        _reenter();
    }

    function _reenter() private {
        ++pokes;
        if (payload.length == 0) return;
        (bool ok, bytes memory ret) = reentryTarget.call(payload);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 0x20), mload(ret))
            }
        }
        lastResult = ret;
    }
}

/// @title AgentPathMockRevertingMerchant
/// @notice Test-only merchant whose `refuse(code)` always reverts with its own custom error (batch all-or-nothing).
contract AgentPathMockRevertingMerchant {
    error AgentPathMockRefused(uint256 code);

    function refuse(uint256 code) external payable {
        revert AgentPathMockRefused(code);
    }

    receive() external payable {}
}

/// @title AgentPathMockWETH
/// @notice Test-only wrapped-ETH look-alike: a payable `deposit()` that credits the caller (THREATS class 6).
contract AgentPathMockWETH {
    mapping(address owner => uint256) public balanceOf;

    function deposit() external payable {
        balanceOf[msg.sender] += msg.value;
    }
}

/// @title AgentPathMockPaymaster
/// @notice Test-only paymaster that sponsors every UserOperation the EntryPoint shows it (no context, no postOp work).
contract AgentPathMockPaymaster is IPaymaster {
    error AgentPathMockNotEntryPoint(address caller);

    address public immutable ENTRY_POINT;

    constructor(address entryPoint) {
        ENTRY_POINT = entryPoint;
    }

    function validatePaymasterUserOp(
        PackedUserOperation calldata,
        bytes32,
        uint256
    ) external view returns (bytes memory context, uint256 validationData) {
        if (msg.sender != ENTRY_POINT) revert AgentPathMockNotEntryPoint(msg.sender);
        return ("", 0);
    }

    function postOp(PostOpMode, bytes calldata, uint256, uint256) external view {
        if (msg.sender != ENTRY_POINT) revert AgentPathMockNotEntryPoint(msg.sender);
    }
}
