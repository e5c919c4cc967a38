// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TransientSlot} from "@openzeppelin/contracts/utils/TransientSlot.sol";
import {IAgentGuardrails} from "../interfaces/IAgentGuardrails.sol";

/// @title AgentSession
/// @notice Transient state of one transaction: which key validated each agent's UserOperation (so that a rotation or
///         revocation earlier in the same bundle stops the op at execution), and the lock held while an agent batch runs.
library AgentSession {
    using TransientSlot for *;

    // keccak256(abi.encode(uint256(keccak256("stopline.transient.AgentKeys")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant _KEYS = 0x4a316bd1848de63221b05b2d2494dbe1ba0bc992be4eb5a4c1474df5fb61fc00;
    // keccak256(abi.encode(uint256(keccak256("stopline.transient.LaneSigners")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant _LANE_SIGNERS = 0x99e9d2b51aa4bc44286d412b45a5031fd755b7d16aab7b71e1afee411f8c9900;
    // keccak256(abi.encode(uint256(keccak256("stopline.transient.AgentLock")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant _LOCK = 0x17ab84a7e57d69493de0cb72e11b85864236004c451cd984831f9942827d9d00;

    function _keySlot(bytes32 agentId) private pure returns (TransientSlot.Uint256Slot) {
        return _slot(agentId, _KEYS);
    }

    function _slot(bytes32 agentId, bytes32 base) private pure returns (TransientSlot.Uint256Slot s) {
        assembly ("memory-safe") {
            // keccak256(abi.encode(agentId, base)), hashed in the scratch space
            mstore(0, agentId)
            mstore(0x20, base)
            s := keccak256(0, 0x40)
        }
    }

    /// @notice Records who signed a validated `openLane` op of `agentId` (its key or the owner), apart from the keys of
    ///         its `executeAsAgent` ops, so that one never stands for the other.
    function recordLaneSigner(bytes32 agentId, address signer) internal {
        _slot(agentId, _LANE_SIGNERS).tstore(uint256(uint160(signer)));
    }

    /// @return signer who signed the agent's validated `openLane` op in this transaction (zero if none)
    function laneSigner(bytes32 agentId) internal view returns (address signer) {
        return address(uint160(_slot(agentId, _LANE_SIGNERS).tload()));
    }

    /// @notice Records the key that validated `agentId`'s op and the state version it was validated against.
    function recordValidated(bytes32 agentId, address key, uint64 version) internal {
        _keySlot(agentId).tstore(uint256(uint160(key)) | (uint256(version) << 160));
    }

    /// @return key the key that validated the agent's op in this transaction (zero if none)
    /// @return version AgentStorage.Layout.version at that validation
    function validated(bytes32 agentId) internal view returns (address key, uint64 version) {
        uint256 word = _keySlot(agentId).tload();
        return (address(uint160(word)), uint64(word >> 160));
    }

    /// @notice Reverts with AgentReentrancy while an agent batch runs.
    function checkNotLocked() internal view {
        if (_LOCK.asBoolean().tload()) revert IAgentGuardrails.AgentReentrancy();
    }

    function lock() internal {
        _LOCK.asBoolean().tstore(true);
    }

    function unlock() internal {
        _LOCK.asBoolean().tstore(false);
    }
}
