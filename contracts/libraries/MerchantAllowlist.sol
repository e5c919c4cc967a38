// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";
import {AgentStorage} from "./AgentStorage.sol";

/// @title MerchantAllowlist
/// @notice The only addresses an agent may pay. One storage read per check, whatever the list's length.
library MerchantAllowlist {
    using EnumerableSet for EnumerableSet.AddressSet;

    function isMerchant(AgentStorage.Agent storage a, address who) internal view returns (bool) {
        return a.merchants.contains(who);
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
