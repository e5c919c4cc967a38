// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAgentGuardrails} from "../interfaces/IAgentGuardrails.sol";
import {AgentStorage} from "./AgentStorage.sol";
import {MerchantAllowlist} from "./MerchantAllowlist.sol";

/// @title CallDecoder
/// @notice The one reading of an agent's call, used by UserOperation validation, execution and `checkAgentCalls`, so
///         that what is checked is exactly what runs (SPEC section 3's table, THREATS class 5). It works on the same
///         calldata the executor then sends: `target`, `value` and `callData` as given.
library CallDecoder {
    bytes4 internal constant TRANSFER = 0xa9059cbb; // transfer(address,uint256)
    bytes4 internal constant APPROVE = 0x095ea7b3; // approve(address,uint256)
    /// @dev Uniswap's Permit2, at the same address on every chain.
    address internal constant PERMIT2 = 0x000000000022D473030F116dDEE9F6B43aC78BA3;

    /// @notice The selector of `data`: its first four bytes, right-padded with zeros when shorter.
    function selectorOf(bytes calldata data) internal pure returns (bytes4 sel) {
        if (data.length >= 4) return bytes4(data[:4]);
        for (uint256 i; i < data.length; ++i) {
            sel |= bytes4(data[i]) >> (8 * i);
        }
    }

    /// @notice A payment found in an allowed call: `amount` of `token` (address(0) = ETH) to or for `merchant`.
    struct Payment {
        bool isPayment;
        address token;
        address merchant;
        uint256 amount;
    }

    /// @notice Classifies one call of an agent batch (step 3 of SPEC section 3, without the per-payment cap).
    /// @return violation the ABI-encoded refusal, empty when the call is allowed
    /// @return p the payment the call makes, if any
    function decode(
        AgentStorage.Agent storage a,
        bytes32 agentId,
        address target,
        uint256 value,
        bytes calldata data,
        address entryPoint
    ) internal view returns (bytes memory violation, Payment memory p) {
        bytes4 sel = selectorOf(data);
        if (target == address(this) || target == entryPoint || target == PERMIT2 || target == address(0)) {
            return (_callNotAllowed(agentId, target, sel), p);
        }
        bool paymentShape = data.length == 68 && (sel == TRANSFER || sel == APPROVE);
        // Tokens first: an ERC-20 payment (the common case) then needs no merchant lookup of the token itself.
        if (a.token[target].flags & AgentStorage.LISTED != 0) {
            // ETH sent to a token is a payment to a non-merchant (tokens are never merchants)
            if (value != 0) return (_merchantNotAllowed(agentId, target), p);
            if (!paymentShape) return (_callNotAllowed(agentId, target, sel), p);
            (uint256 to, uint256 amount) = _words(data);
            // a recipient with dirty upper bits is read differently by different tokens: refuse it
            if (to >> 160 != 0) return (_callNotAllowed(agentId, target, sel), p);
            if (!MerchantAllowlist.isMerchant(a, address(uint160(to)))) {
                return (_merchantNotAllowed(agentId, address(uint160(to))), p);
            }
            return ("", Payment(true, target, address(uint160(to)), amount));
        }
        if (MerchantAllowlist.isMerchant(a, target)) {
            // any call to a merchant; with value it is an ETH payment, without it still counts as a call
            if (value != 0) p = Payment(true, address(0), target, value);
            return ("", p);
        }
        if (value != 0) return (_merchantNotAllowed(agentId, target), p);
        if (paymentShape) {
            return (abi.encodeWithSelector(IAgentGuardrails.TokenNotAllowed.selector, agentId, target), p);
        }
        return (_callNotAllowed(agentId, target, sel), p);
    }

    /// @notice The payment made by a call that already passed `decode` (execution re-reads it without the lookups
    ///         that cannot fail any more): a call to a listed token is a transfer or approve, any other call with value
    ///         is an ETH payment to a merchant.
    function paymentOf(
        AgentStorage.Agent storage a,
        address target,
        uint256 value,
        bytes calldata data
    ) internal view returns (Payment memory p) {
        if (a.token[target].flags & AgentStorage.LISTED != 0) {
            (uint256 to, uint256 amount) = _words(data);
            return Payment(true, target, address(uint160(to)), amount);
        }
        if (value != 0) p = Payment(true, address(0), target, value);
    }

    function _words(bytes calldata data) private pure returns (uint256 w1, uint256 w2) {
        assembly ("memory-safe") {
            w1 := calldataload(add(data.offset, 4))
            w2 := calldataload(add(data.offset, 36))
        }
    }

    function _callNotAllowed(bytes32 agentId, address target, bytes4 sel) private pure returns (bytes memory) {
        return abi.encodeWithSelector(IAgentGuardrails.CallNotAllowed.selector, agentId, target, sel);
    }

    function _merchantNotAllowed(bytes32 agentId, address who) private pure returns (bytes memory) {
        return abi.encodeWithSelector(IAgentGuardrails.MerchantNotAllowed.selector, agentId, who);
    }
}
