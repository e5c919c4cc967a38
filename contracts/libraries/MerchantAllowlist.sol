// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";
import {AgentStorage} from "./AgentStorage.sol";

/// @title MerchantAllowlist
/// @notice The only addresses an agent may pay. One storage read per check, whatever the list's length.
library MerchantAllowlist {
    using EnumerableSet for EnumerableSet.AddressSet;

    function isMerchant(AgentStorage.Agent storage a, address who) internal view returns (bool r) {
        // a.merchants.contains(who), reading the set's position mapping directly (one keccak, one SLOAD)
        mapping(bytes32 => uint256) storage positions = a.merchants._inner._positions;
        assembly ("memory-safe") {
            // EnumerableSet's key is bytes32(uint256(uint160(who))): the cleaned address, in the scratch space
            mstore(0, shr(96, shl(96, who)))
            mstore(0x20, positions.slot)
            r := iszero(iszero(sload(keccak256(0, 0x40))))
        }
    }

    function list(AgentStorage.Agent storage a) internal view returns (address[] memory) {
        return a.merchants.values();
    }

    /// @dev Replaces the whole list. Returns false if `merchants` lists an address twice.
    function replace(AgentStorage.Agent storage a, address[] calldata merchants) internal returns (bool) {
        a.merchants.clear();
        for (uint256 i; i < merchants.length; ++i) {
            if (!a.merchants.add(merchants[i])) return false;
        }
        return true;
    }
}
