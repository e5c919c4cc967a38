// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Execution} from "@openzeppelin/contracts/interfaces/draft-IERC7579.sol";
import {IAgentGuardrails} from "../interfaces/IAgentGuardrails.sol";
import {AgentStorage} from "./AgentStorage.sol";
import {MerchantAllowlist} from "./MerchantAllowlist.sol";

/// @notice A payment found in an agent call: `amount` of `token` (address(0) = ETH) to or approved for `merchant`.
struct Payment {
    address token;
    address merchant;
    uint256 amount;
}

/// @title CallDecoder
/// @notice The one reading of an agent's call, used by UserOperation validation, execution and `checkAgentCalls`, so
///         that what is checked is exactly what runs (SPEC section 3's table, THREATS class 5).
/// @dev Works on the ABI-decoded `Execution`: the executor then calls `target` with exactly `value` and `callData`.
library CallDecoder {
    bytes4 internal constant TRANSFER = 0xa9059cbb; // transfer(address,uint256)
    bytes4 internal constant APPROVE = 0x095ea7b3; // approve(address,uint256)
    /// @dev Uniswap's Permit2, at the same address on every chain.
    address internal constant PERMIT2 = 0x000000000022D473030F116dDEE9F6B43aC78BA3;

    /// @notice The selector of `data`: its first four bytes, right-padded with zeros when shorter.
    function selectorOf(bytes memory data) internal pure returns (bytes4 sel) {
        uint256 len = data.length;
        assembly ("memory-safe") {
            sel := and(mload(add(data, 0x20)), shl(224, 0xffffffff))
            // keep only the bytes that exist (len < 4 => clear the rest)
            if lt(len, 4) {
                sel := and(sel, not(shr(mul(len, 8), not(0))))
            }
        }
    }

    /// @notice Classifies one call of an agent batch.
    /// @return violation the ABI-encoded refusal, empty when the call is allowed
    /// @return isPayment whether the call pays (ETH value, token transfer or approve)
    /// @return p the payment, when isPayment
    function decode(
        AgentStorage.Agent storage a,
        bytes32 agentId,
        Execution memory c,
        address entryPoint
    ) internal view returns (bytes memory violation, bool isPayment, Payment memory p) {
        address target = c.target;
        bytes memory data = c.callData;
        bytes4 sel = selectorOf(data);
        if (target == address(this) || target == entryPoint || target == PERMIT2 || target == address(0)) {
            return (_callNotAllowed(agentId, target, sel), false, p);
        }
        bool paymentShape = data.length == 68 && (sel == TRANSFER || sel == APPROVE);
        // Tokens first: an ERC-20 payment (the common case) then needs no merchant lookup of the token itself.
        if (a.token[target].listed) {
            // ETH sent to a token is a payment to a non-merchant (tokens are never merchants)
            if (c.value != 0) return (_merchantNotAllowed(agentId, target), false, p);
            if (!paymentShape) return (_callNotAllowed(agentId, target, sel), false, p);
            uint256 to;
            uint256 amount;
            assembly ("memory-safe") {
                to := mload(add(data, 0x24))
                amount := mload(add(data, 0x44))
            }
            // a recipient with dirty upper bits is read differently by different tokens: refuse it
            if (to >> 160 != 0) return (_callNotAllowed(agentId, target, sel), false, p);
            if (!MerchantAllowlist.isMerchant(a, address(uint160(to)))) {
                return (_merchantNotAllowed(agentId, address(uint160(to))), false, p);
            }
            return ("", true, Payment(target, address(uint160(to)), amount));
        }
        if (MerchantAllowlist.isMerchant(a, target)) {
            if (c.value == 0) return ("", false, p); // any call to a merchant; not a payment, but it counts as a call
            return ("", true, Payment(address(0), target, c.value));
        }
        if (c.value != 0) return (_merchantNotAllowed(agentId, target), false, p);
        if (paymentShape)
            return (abi.encodeWithSelector(IAgentGuardrails.TokenNotAllowed.selector, agentId, target), false, p);
        return (_callNotAllowed(agentId, target, sel), false, p);
    }

    function _callNotAllowed(bytes32 agentId, address target, bytes4 sel) private pure returns (bytes memory) {
        return abi.encodeWithSelector(IAgentGuardrails.CallNotAllowed.selector, agentId, target, sel);
    }

    function _merchantNotAllowed(bytes32 agentId, address who) private pure returns (bytes memory) {
        return abi.encodeWithSelector(IAgentGuardrails.MerchantNotAllowed.selector, agentId, who);
    }
}
