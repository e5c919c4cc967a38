// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Execution} from "@openzeppelin/contracts/interfaces/draft-IERC7579.sol";
import {AgentPolicy} from "../interfaces/IAgentGuardrails.sol";
import {AgentStorage} from "../libraries/AgentStorage.sol";
import {CallDecoder} from "../libraries/CallDecoder.sol";
import {PolicyRules} from "../libraries/PolicyRules.sol";

/// @title SolTestDecoderHarness
/// @notice Test-only: exposes CallDecoder over one agent kept in this contract's own storage (the same ERC-7201
///         namespace the account uses), so that a fuzz test can compare its classification with SPEC section 3's table.
///         This contract plays the account: `address(this)` is what the decoder refuses as "the account itself".
contract SolTestDecoderHarness {
    /// @notice The agent every call is decoded for.
    bytes32 public constant AGENT_ID = bytes32(uint256(1));
    /// @notice Stands in for the EntryPoint (any address the decoder must refuse as a target).
    address public immutable entryPoint;

    constructor(address entryPoint_) {
        entryPoint = entryPoint_;
    }

    /// @notice Grants the harness's agent `policy` (validated exactly as a real grant).
    function configure(AgentPolicy calldata policy) external {
        PolicyRules.validate(policy, address(this), entryPoint);
        PolicyRules.store(AgentStorage.layout().agents[AGENT_ID], policy, true);
    }

    /// @notice A payment found in an allowed call: `amount` of `token` (address(0) = ETH) to or for `merchant`.
    struct Payment {
        bool isPayment;
        address token;
        address merchant;
        uint256 amount;
    }

    /// @notice CallDecoder.classify for one call of the agent's batch (what validation and `checkAgentCalls` read).
    function decode(
        address target,
        uint256 value,
        bytes calldata data
    ) external view returns (bytes memory violation, Payment memory p) {
        uint256 e = _entry(target, value, data);
        violation = CallDecoder.classify(AgentStorage.layout().agents[AGENT_ID], AGENT_ID, entryPoint, e, false);
        p = _payment(e);
    }

    /// @notice CallDecoder.locate: what execution re-reads from a call that passed `decode`.
    function paymentOf(address target, uint256 value, bytes calldata data) external view returns (Payment memory) {
        uint256 e = _entry(target, value, data);
        CallDecoder.locate(AgentStorage.layout().agents[AGENT_ID], e);
        return _payment(e);
    }

    /// @dev One call as the memory entry CallDecoder.read would have filled.
    function _entry(address target, uint256 value, bytes calldata data) private pure returns (uint256 e) {
        uint256 size = CallDecoder.ENTRY_SIZE;
        assembly ("memory-safe") {
            e := mload(0x40)
            mstore(0x40, add(e, size))
        }
        // the payment words start cleared, as `read` leaves them
        for (uint256 w; w < size; w += 0x20) {
            assembly ("memory-safe") {
                mstore(add(e, w), 0)
            }
        }
        uint256 eTarget = CallDecoder.E_TARGET;
        uint256 eValue = CallDecoder.E_VALUE;
        uint256 eData = CallDecoder.E_DATA;
        uint256 eLength = CallDecoder.E_LENGTH;
        assembly ("memory-safe") {
            mstore(add(e, eTarget), shr(96, shl(96, target)))
            mstore(add(e, eValue), value)
            mstore(add(e, eData), data.offset)
            mstore(add(e, eLength), data.length)
        }
    }

    function _payment(uint256 e) private pure returns (Payment memory p) {
        uint256 ts;
        (ts, , p.token, p.merchant, p.amount) = CallDecoder.paymentAt(e);
        p.isPayment = ts != 0;
    }

    /// @notice CallDecoder.selectorOf of the first `len` bytes of `data`: the calldata right after the slice holds the
    ///         rest of `data`, so a decoder reading past the end of short calldata would pick those bytes up.
    function selectorOfPrefix(bytes calldata data, uint256 len) external pure returns (bytes4) {
        return CallDecoder.selectorOf(data[:len]);
    }

    /// @notice Every call of `calls` as Solidity's own calldata accessors read it (`calls[i].target`, `.value`,
    ///         `.callData`): the reference CallDecoder.read must match, reverts included.
    function readWithSolidity(
        Execution[] calldata calls
    ) external pure returns (address[] memory targets, uint256[] memory values, bytes[] memory data) {
        (targets, values, data) = (new address[](calls.length), new uint256[](calls.length), new bytes[](calls.length));
        for (uint256 i; i < calls.length; ++i) {
            Execution calldata c = calls[i];
            (targets[i], values[i], data[i]) = (c.target, c.value, c.callData);
        }
    }

    /// @notice Every call of `calls` as CallDecoder.read reads it into an entry (what the account executes).
    function readWithDecoder(
        Execution[] calldata calls
    ) external pure returns (address[] memory targets, uint256[] memory values, bytes[] memory data) {
        (targets, values, data) = (new address[](calls.length), new uint256[](calls.length), new bytes[](calls.length));
        uint256 e;
        assembly ("memory-safe") {
            e := mload(0x40)
            mstore(0x40, add(e, 0x120))
        }
        for (uint256 i; i < calls.length; ++i) {
            CallDecoder.read(calls, i, e);
            (targets[i], values[i], data[i]) = CallDecoder.callOf(e);
        }
    }
}
