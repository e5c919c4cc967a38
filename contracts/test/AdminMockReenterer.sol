// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title AdminMockReenterer
/// @notice Test-only merchant that, when an agent's batch calls it, calls back into the account with whatever calldata it
///         was given (an owner function, `execute`, an upgrade) and bubbles the account's revert. Used to show that owner
///         functions refuse with AgentReentrancy while an agent batch runs.
contract AdminMockReenterer {
    /// @notice Calls `target` with `data` and bubbles its revert data.
    function poke(address target, bytes calldata data) external payable {
        (bool ok, bytes memory ret) = target.call(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 0x20), mload(ret))
            }
        }
    }
}
