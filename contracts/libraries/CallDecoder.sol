// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Execution} from "@openzeppelin/contracts/interfaces/draft-IERC7579.sol";
import {IAgentGuardrails} from "../interfaces/IAgentGuardrails.sol";
import {AgentStorage} from "./AgentStorage.sol";
import {MerchantAllowlist} from "./MerchantAllowlist.sol";
import {SpendLimits} from "./SpendLimits.sol";

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

    // ---------------------------------------------------------------- entries
    // The account reads each call of a batch once (`read`) into a memory entry of ENTRY_SIZE bytes, which `classify` (or
    // `locate`) completes with the call's payment; the later steps (caps, interactions) use the entry, never the
    // calldata again. Words of an entry, by offset:
    uint256 internal constant ENTRY_SIZE = 0x120;
    uint256 internal constant E_TS = 0x00; // storage slot of the payment's TokenState; 0 when the call pays nothing
    uint256 internal constant E_T0 = 0x20; // that slot's word as read (listing flag, per-payment cap, schedule)
    uint256 internal constant E_TOKEN = 0x40; // the payment's token (address(0) = ETH)
    uint256 internal constant E_MERCHANT = 0x60; // who is paid or approved
    uint256 internal constant E_AMOUNT = 0x80; // token units (wei for ETH)
    uint256 internal constant E_TARGET = 0xa0; // the call: target, value, calldata offset and length of its data
    uint256 internal constant E_VALUE = 0xc0;
    uint256 internal constant E_DATA = 0xe0;
    uint256 internal constant E_LENGTH = 0x100;

    /// @notice Reads `calls[i]` into the entry at `e` exactly as Solidity's calldata accessors read it (`calls[i]`,
    ///         `.target`, `.value`, `.callData`), with the same checks: an element or data offset out of bounds, a
    ///         data length above 2^64 - 1 or past the end of the calldata, or a target with dirty upper bits reverts
    ///         with empty data. The caller keeps i < calls.length. The payment words are cleared.
    function read(Execution[] calldata calls, uint256 i, uint256 e) internal pure {
        assembly ("memory-safe") {
            // calls[i]: the element's offset (relative to the array's data) must leave room for its 3-word head
            let rel := calldataload(add(calls.offset, shl(5, i)))
            if iszero(slt(rel, add(sub(calldatasize(), calls.offset), not(94)))) {
                revert(0, 0)
            }
            let c := add(calls.offset, rel)
            // .target: an address word with clean upper bits
            let target := calldataload(c)
            if shr(160, target) {
                revert(0, 0)
            }
            // .callData: its offset (relative to the element) must leave room for the length word, the length must
            // fit 64 bits, and the bytes must end inside the calldata
            let relData := calldataload(add(c, 0x40))
            if iszero(slt(relData, add(sub(calldatasize(), c), not(30)))) {
                revert(0, 0)
            }
            let d := add(c, relData)
            let len := calldataload(d)
            if gt(len, 0xffffffffffffffff) {
                revert(0, 0)
            }
            d := add(d, 0x20)
            if sgt(d, sub(calldatasize(), len)) {
                revert(0, 0)
            }
            mstore(add(e, E_TS), 0)
            mstore(add(e, E_T0), 0)
            mstore(add(e, E_TOKEN), 0)
            mstore(add(e, E_MERCHANT), 0)
            mstore(add(e, E_AMOUNT), 0)
            mstore(add(e, E_TARGET), target)
            mstore(add(e, E_VALUE), calldataload(add(c, 0x20))) // .value
            mstore(add(e, E_DATA), d)
            mstore(add(e, E_LENGTH), len)
        }
    }

    /// @notice The call of an entry: target, value and data.
    function callOf(uint256 e) internal pure returns (address target, uint256 value, bytes calldata data) {
        assembly ("memory-safe") {
            // the words `read` wrote (offset and length already bounds-checked there)
            target := mload(add(e, E_TARGET))
            value := mload(add(e, E_VALUE))
            data.offset := mload(add(e, E_DATA))
            data.length := mload(add(e, E_LENGTH))
        }
    }

    /// @notice The payment of an entry (ts == 0: the call pays nothing).
    function paymentAt(
        uint256 e
    ) internal pure returns (uint256 ts, uint256 t0, address token, address merchant, uint256 amount) {
        assembly ("memory-safe") {
            // reads inside the entry (addresses were stored cleaned)
            ts := mload(add(e, E_TS))
            t0 := mload(add(e, E_T0))
            token := mload(add(e, E_TOKEN))
            merchant := mload(add(e, E_MERCHANT))
            amount := mload(add(e, E_AMOUNT))
        }
    }

    function _setPayment(
        uint256 e,
        uint256 ts,
        uint256 t0,
        address token,
        address merchant,
        uint256 amount
    ) private pure {
        assembly ("memory-safe") {
            // addresses cleaned: assembly does not guarantee their upper bits
            mstore(add(e, E_TS), ts)
            mstore(add(e, E_T0), t0)
            mstore(add(e, E_TOKEN), shr(96, shl(96, token)))
            mstore(add(e, E_MERCHANT), shr(96, shl(96, merchant)))
            mstore(add(e, E_AMOUNT), amount)
        }
    }

    // ---------------------------------------------------------------- the rule

    /// @notice Classifies the call of entry `e` (step 3 of SPEC section 3; the per-payment cap too if `capped`) and
    ///         records its payment in the entry, with the slot of its TokenState and that slot's first word, so that no
    ///         later step reads them again.
    /// @return violation the ABI-encoded refusal, empty (unallocated) when the call is allowed
    function classify(
        AgentStorage.Agent storage a,
        bytes32 agentId,
        address entryPoint,
        uint256 e,
        bool capped
    ) internal view returns (bytes memory violation) {
        (address target, uint256 value, bytes calldata data) = callOf(e);
        if (_forbidden(target, entryPoint)) return _callNotAllowed(agentId, target, selectorOf(data));
        // Tokens first: an ERC-20 payment (the common case) then needs no merchant lookup of the token itself.
        uint256 slot = AgentStorage.tokenSlot(a, target);
        uint256 w = AgentStorage.load(slot);
        if (AgentStorage.flagsOf(w) & AgentStorage.LISTED != 0) {
            // ETH sent to a token is a payment to a non-merchant (tokens are never merchants)
            if (value != 0) return _merchantNotAllowed(agentId, target);
            if (!_paymentShape(data)) return _callNotAllowed(agentId, target, selectorOf(data));
            (uint256 to, uint256 amount) = _words(data);
            // a recipient with dirty upper bits is read differently by different tokens: refuse it
            if (to >> 160 != 0) return _callNotAllowed(agentId, target, selectorOf(data));
            if (!MerchantAllowlist.isMerchant(a, address(uint160(to)))) {
                return _merchantNotAllowed(agentId, address(uint160(to)));
            }
            _setPayment(e, slot, w, target, address(uint160(to)), amount);
            if (capped) return SpendLimits.checkPerPayment(agentId, target, w, amount);
            return violation;
        }
        if (MerchantAllowlist.isMerchant(a, target)) {
            // any call to a merchant; with value it is an ETH payment, without it still counts as a call
            if (value != 0) {
                uint256 ethSlot = AgentStorage.tokenSlot(a, address(0));
                uint256 ethT0 = AgentStorage.load(ethSlot);
                _setPayment(e, ethSlot, ethT0, address(0), target, value);
                if (capped) return SpendLimits.checkPerPayment(agentId, address(0), ethT0, value);
            }
            return violation;
        }
        if (value != 0) return _merchantNotAllowed(agentId, target);
        if (_paymentShape(data)) {
            return abi.encodeWithSelector(IAgentGuardrails.TokenNotAllowed.selector, agentId, target);
        }
        return _callNotAllowed(agentId, target, selectorOf(data));
    }

    /// @notice Records in entry `e` the payment of a call that already passed `classify` in this transaction
    ///         (execution re-reads it without the lookups that cannot fail any more): a call to a listed token is a
    ///         transfer or approve, any other call with value is an ETH payment to a merchant.
    function locate(AgentStorage.Agent storage a, uint256 e) internal view {
        (address target, uint256 value, bytes calldata data) = callOf(e);
        uint256 slot = AgentStorage.tokenSlot(a, target);
        uint256 w = AgentStorage.load(slot);
        if (AgentStorage.flagsOf(w) & AgentStorage.LISTED != 0) {
            (uint256 to, uint256 amount) = _words(data);
            _setPayment(e, slot, w, target, address(uint160(to)), amount);
        } else if (value != 0) {
            uint256 ethSlot = AgentStorage.tokenSlot(a, address(0));
            _setPayment(e, ethSlot, AgentStorage.load(ethSlot), address(0), target, value);
        }
    }

    /// @dev The account itself, the EntryPoint, Permit2 or address(0): never a target, whatever the call carries.
    function _forbidden(address target, address entryPoint) private view returns (bool f) {
        address permit2 = PERMIT2;
        assembly ("memory-safe") {
            // all four compared at once (no short-circuit needed: the comparisons have no effects)
            let t := shr(96, shl(96, target))
            f := or(or(eq(t, address()), eq(t, shr(96, shl(96, entryPoint)))), or(eq(t, permit2), iszero(t)))
        }
    }

    /// @dev `transfer(address,uint256)` or `approve(address,uint256)` with exactly 68 bytes of calldata.
    function _paymentShape(bytes calldata data) private pure returns (bool shaped) {
        bytes4 transfer = TRANSFER;
        bytes4 approve = APPROVE;
        assembly ("memory-safe") {
            // with 68 bytes the first four are the selector (left-aligned, as bytes4 values are on the stack)
            let sel := and(calldataload(data.offset), shl(224, 0xffffffff))
            shaped := and(eq(data.length, 68), or(eq(sel, transfer), eq(sel, approve)))
        }
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
