// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {LibClone} from "solady/src/utils/LibClone.sol";

/// @title AccountOwner
/// @notice The owner of an account is an immutable argument of its ERC-1967 proxy (set by the factory, part of the
///         CREATE2 address), so it costs no storage and survives upgrades. Anything that is not such a proxy has no owner.
library AccountOwner {
    /// @dev Runtime size of Solady's minimal ERC-1967 proxy (61 bytes) plus the 20-byte owner argument.
    uint256 private constant _PROXY_SIZE = 81;

    function get() internal view returns (address owner) {
        if (address(this).code.length != _PROXY_SIZE) return address(0);
        bytes memory args = LibClone.argsOnERC1967(address(this), 0, 20);
        owner = address(bytes20(args));
    }
}
