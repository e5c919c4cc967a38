// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AgentPolicy, TokenLimit} from "../interfaces/IAgentGuardrails.sol";

/// @title GrantTypedData
/// @notice EIP-712 struct hashes for `grantAgentBySig` (SPEC section 4), so that a wallet shows the owner the whole policy.
library GrantTypedData {
    bytes internal constant TOKEN_LIMIT_TYPE =
        "TokenLimit(address token,uint256 perPayment,uint256 perPeriod,uint256 lifetime,uint32 laneCount,uint256 laneMax)";
    bytes internal constant AGENT_POLICY_TYPE =
        "AgentPolicy(uint48 validAfter,uint48 validUntil,uint32 period,uint168 activeHours,uint32 maxCallsPerPeriod,"
        "uint256 gasBudget,bytes32 mandate,TokenLimit[] limits,address[] merchants)";
    bytes internal constant AGENT_GRANT_TYPE =
        "AgentGrant(bytes32 agentId,address key,AgentPolicy policy,uint256 nonce,uint256 deadline)";

    bytes32 internal constant TOKEN_LIMIT_TYPEHASH = keccak256(TOKEN_LIMIT_TYPE);
    bytes32 internal constant AGENT_POLICY_TYPEHASH = keccak256(abi.encodePacked(AGENT_POLICY_TYPE, TOKEN_LIMIT_TYPE));
    bytes32 internal constant AGENT_GRANT_TYPEHASH = keccak256(
        abi.encodePacked(AGENT_GRANT_TYPE, AGENT_POLICY_TYPE, TOKEN_LIMIT_TYPE)
    );

    function hashPolicy(AgentPolicy calldata p) internal pure returns (bytes32) {
        bytes32[] memory limitHashes = new bytes32[](p.limits.length);
        for (uint256 i; i < p.limits.length; ++i) {
            TokenLimit calldata lim = p.limits[i];
            limitHashes[i] = keccak256(
                abi.encode(
                    TOKEN_LIMIT_TYPEHASH,
                    lim.token,
                    lim.perPayment,
                    lim.perPeriod,
                    lim.lifetime,
                    lim.laneCount,
                    lim.laneMax
                )
            );
        }
        return
            keccak256(
                abi.encode(
                    AGENT_POLICY_TYPEHASH,
                    p.validAfter,
                    p.validUntil,
                    p.period,
                    p.activeHours,
                    p.maxCallsPerPeriod,
                    p.gasBudget,
                    p.mandate,
                    keccak256(abi.encodePacked(limitHashes)),
                    // elements of an array are each encoded in 32 bytes, which is what encodePacked does for arrays
                    keccak256(abi.encodePacked(p.merchants))
                )
            );
    }

    function hashGrant(
        bytes32 agentId,
        address key,
        AgentPolicy calldata p,
        uint256 nonce,
        uint256 deadline
    ) internal pure returns (bytes32) {
        return keccak256(abi.encode(AGENT_GRANT_TYPEHASH, agentId, key, hashPolicy(p), nonce, deadline));
    }
}
