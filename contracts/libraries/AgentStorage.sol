// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";

/// @title AgentStorage
/// @notice The account's agent state, in one ERC-7201 namespace shared by the account and its admin module.
/// @dev Fields are grouped by when they are read: a payment touches as few slots as possible.
///      Caps and counters are stored in 128 bits; `UNLIMITED` (2^128 - 1) stands for "no cap" (SPEC section 2 keeps every
///      real cap at or below 2^128 - 2 so that this sentinel is free). Structs are append-only.
library AgentStorage {
    /// @dev Stored form of an unlimited cap or budget.
    uint128 internal constant UNLIMITED = type(uint128).max;

    /// @dev TokenState.flags / Agent.flags bits.
    uint8 internal constant LISTED = 1; // the token is in the agent's limits
    uint8 internal constant ANY_HOUR = 2; // activeHours is all ones: no need to read it
    uint8 internal constant CALL_LIMIT = 4; // maxCallsPerPeriod is not unlimited: calls are counted
    uint8 internal constant LANE = 8; // TokenState only: the token's x402 lane is on (laneCount != 0)

    /// @dev One token (or ETH, token = address(0)) of one agent. Counters survive policy updates and unlisting.
    ///      Slot 0 also carries a copy of the agent's schedule and flags, so that a payment reads no agent slot but
    ///      the key's: policy writes keep the copies of every listed token equal to the agent's own (PolicyRules).
    struct TokenState {
        // slot 0, read in validation (listed, perPayment) and at execution (schedule, period tag)
        uint128 perPayment;
        uint40 periodEnd; // end (exclusive, unix seconds, truncated to 40 bits) of the period spentInPeriod belongs to
        uint8 flags;
        uint32 period;
        uint48 anchor;
        // slot 1, read at execution
        uint128 perPeriod;
        uint128 lifetime;
        // slot 2, read and written at execution. spentLifetime is stored plus one, so that the slot is non-zero from
        // the listing on and the agent's first payment does not pay for a fresh slot.
        uint128 spentInPeriod;
        uint128 spentLifetimePlusOne;
        // slot 3, the x402 lane (SPEC section 7): its settings, then the period its hold was taken for (its end, unix
        // seconds; 0 before any opening) and the slots reserved. A closed lane keeps its period with no slots. Read by
        // every payment of a lane token (is the lane open for this period?), by openings and by lane signatures.
        uint32 laneCount;
        uint128 laneMax;
        uint48 lanePeriod;
        uint16 laneSlots;
        // slot 4, the largest payment of each slot of the hold
        uint128 laneHoldMax;
    }

    /// @dev One agent. `validUntil != 0` for every agent ever granted (it is > validAfter >= 0); `key == 0` once revoked.
    struct Agent {
        // slot 0, read in validation
        address key;
        uint48 validAfter;
        uint48 validUntil;
        // slot 1, read and written in validation of UserOperations
        uint128 gasCharged;
        uint128 gasBudget;
        // slot 2, the schedule: read at execution only by batches that pay nothing, or for restricted hours
        uint168 activeHours;
        uint32 period;
        uint48 anchor; // a period boundary; periods before it end at `anchor` (see TimeWindow.periodEnd)
        uint8 flags; // ANY_HOUR | CALL_LIMIT
        // slot 3, read and written at execution when a call limit is set
        uint32 maxCallsPerPeriod;
        uint32 callsInPeriod;
        uint48 callsPeriodEnd;
        // slot 4
        bytes32 mandate;
        EnumerableSet.AddressSet merchants;
        EnumerableSet.AddressSet tokens;
        mapping(address token => TokenState) token;
    }

    /// @custom:storage-location erc7201:stopline.storage.Agents
    struct Layout {
        // slot 0: read by every agent action
        bool paused;
        address guardian;
        /// @dev Bumped by every owner or guardian action: execution skips re-proving what validation proved when it
        ///      is unchanged since (nothing an owner op earlier in the same bundle did can then matter).
        uint64 version;
        // slot 1
        uint256 grantNonce;
        mapping(bytes32 agentId => Agent) agents;
        /// @dev Every key ever registered, to the agent it was registered for (current or retired).
        mapping(address key => bytes32 agentId) keyAgent;
        /// @dev Nonce keys (low 192 bits of an agentId) of every agent ever granted.
        mapping(uint192 nonceKey => bool) nonceKeyUsed;
        mapping(address paymaster => bool) paymasterAllowed;
    }

    // keccak256(abi.encode(uint256(keccak256("stopline.storage.Agents")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant _LAYOUT_SLOT = 0x19f32dfd20a3ed42a83e0e83762562de79c91c1598dd2343c9fb6adcaedf8e00;

    function layout() internal pure returns (Layout storage $) {
        assembly ("memory-safe") {
            $.slot := _LAYOUT_SLOT
        }
    }

    // ---------------------------------------------------------------- packed words, for the payment path
    // The payment path reads each slot once as a whole word and takes its fields apart with these offsets (Solidity
    // packs struct fields from the low-order bits, in declaration order). They must follow the structs above; the views
    // read the same fields through the structs, so the tests compare both readings.

    /// @dev Layout slot 0: `paused` (bits 0-7), `guardian` (8-167), `version` (168-231).
    uint256 internal constant VERSION_SHIFT = 168;
    /// @dev Agent slot 0: `key` (bits 0-159), `validAfter` (160-207), `validUntil` (208-255).
    uint256 internal constant VALID_AFTER_SHIFT = 160;
    uint256 internal constant VALID_UNTIL_SHIFT = 208;
    /// @dev Agent slot holding `gasCharged` (low 128 bits) and `gasBudget` (high 128 bits).
    uint256 internal constant AGENT_GAS_SLOT = 1;
    /// @dev TokenState slot 0: `perPayment` (bits 0-127), `periodEnd` (128-167), `flags` (168-175), `period`
    ///      (176-207), `anchor` (208-255). Slot 1: `perPeriod` (low 128), `lifetime` (high 128). Slot 2: `spentInPeriod`
    ///      (low 128), `spentLifetimePlusOne` (high 128).
    uint256 internal constant PERIOD_END_SHIFT = 128;
    uint256 internal constant FLAGS_SHIFT = 168;
    uint256 internal constant PERIOD_SHIFT = 176;
    uint256 internal constant ANCHOR_SHIFT = 208;
    uint256 internal constant TOKEN_CAPS_SLOT = 1;
    uint256 internal constant TOKEN_SPENT_SLOT = 2;
    /// @dev TokenState slot 3: `laneCount` (bits 0-31), `laneMax` (32-159), `lanePeriod` (160-207), `laneSlots` (208-223).
    uint256 internal constant TOKEN_LANE_SLOT = 3;
    uint256 internal constant LANE_PERIOD_SHIFT = 160;

    /// @dev The word in storage slot `slot` (a slot of this namespace).
    function load(uint256 slot) internal view returns (uint256 w) {
        assembly ("memory-safe") {
            // a plain read: no memory, no effect
            w := sload(slot)
        }
    }

    /// @dev Slot 0 of the layout (paused, guardian, version), read by every agent action.
    function head(Layout storage $) internal view returns (uint256 w) {
        assembly ("memory-safe") {
            // a plain read of the struct's first slot
            w := sload($.slot)
        }
    }

    /// @dev Slot 0 of an agent (key, validAfter, validUntil).
    function keyWord(Agent storage a) internal view returns (uint256 w) {
        assembly ("memory-safe") {
            // a plain read of the struct's first slot
            w := sload(a.slot)
        }
    }

    /// @dev The storage slot of `a.token[token]` (computed once per call of a batch).
    function tokenSlot(Agent storage a, address token) internal view returns (uint256 s) {
        mapping(address => TokenState) storage m = a.token;
        assembly ("memory-safe") {
            // Solidity's mapping slot: keccak256(abi.encode(key, mappingSlot)), in the scratch space (key cleaned: the
            // upper bits of an address variable are not guaranteed in assembly)
            mstore(0, shr(96, shl(96, token)))
            mstore(0x20, m.slot)
            s := keccak256(0, 0x40)
        }
    }

    /// @dev The TokenState stored at `slot` (from tokenSlot).
    function tokenAt(uint256 slot) internal pure returns (TokenState storage ts) {
        assembly ("memory-safe") {
            // a storage pointer is its slot: `slot` always comes from tokenSlot
            ts.slot := slot
        }
    }

    /// @dev The flags byte of a TokenState slot-0 word.
    function flagsOf(uint256 t0) internal pure returns (uint256) {
        return (t0 >> FLAGS_SHIFT) & 0xff;
    }

    /// @dev Stored form of a cap: `type(uint256).max` becomes `UNLIMITED`; callers have checked the bound.
    function toStored(uint256 cap) internal pure returns (uint128) {
        return cap == type(uint256).max ? UNLIMITED : uint128(cap);
    }

    /// @dev External form of a stored cap.
    function fromStored(uint128 cap) internal pure returns (uint256) {
        return cap == UNLIMITED ? type(uint256).max : cap;
    }

    /// @dev Largest value of a counter; also the largest real cap, so a saturated counter exhausts any real cap.
    uint128 internal constant MAX_COUNT = type(uint128).max - 1;

    /// @dev a - b, floored at 0.
    function subFloor(uint128 a, uint256 b) internal pure returns (uint128) {
        unchecked {
            // b < a in the subtraction, so the result fits
            return b >= a ? 0 : a - uint128(b);
        }
    }

    /// @dev a + b, saturating at MAX_COUNT.
    function addSaturating(uint128 a, uint256 b) internal pure returns (uint128) {
        unchecked {
            // callers keep a <= MAX_COUNT, so MAX_COUNT - a cannot underflow
            return b >= MAX_COUNT - a ? MAX_COUNT : a + uint128(b);
        }
    }
}
