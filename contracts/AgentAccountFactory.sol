// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {LibClone} from "solady/src/utils/LibClone.sol";

/// @title AgentAccountFactory
/// @notice Deploys Stopline accounts as minimal ERC-1967 proxies of one AgentAccount implementation, at CREATE2
///         addresses that depend on the owner and a salt. The owner is an immutable argument of the proxy, so whoever
///         sends the transaction (a front-runner included) can only ever create the account for that owner.
/// @dev Usable as ERC-4337 initCode: factory address ++ abi.encodeCall(createAccount, (owner, salt)).
contract AgentAccountFactory {
    /// @notice The AgentAccount implementation every account delegates to.
    address public immutable implementation;

    event AccountCreated(address indexed account, address indexed owner, uint256 salt);

    error InvalidOwner();

    constructor(address implementation_) {
        implementation = implementation_;
    }

    /// @notice Creates the account of `owner` for `salt`, or returns it if it exists already (idempotent).
    function createAccount(address owner, uint256 salt) external returns (address account) {
        if (owner == address(0)) revert InvalidOwner();
        bool existed;
        (existed, account) = LibClone.createDeterministicERC1967(
            implementation,
            abi.encodePacked(owner),
            bytes32(salt)
        );
        if (!existed) emit AccountCreated(account, owner, salt);
    }

    /// @notice The address `createAccount(owner, salt)` creates (or created).
    function getAddress(address owner, uint256 salt) external view returns (address) {
        return
            LibClone.predictDeterministicAddressERC1967(
                implementation,
                abi.encodePacked(owner),
                bytes32(salt),
                address(this)
            );
    }
}
