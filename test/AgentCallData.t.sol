// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Execution} from "@openzeppelin/contracts/interfaces/draft-IERC7579.sol";
import {IAgentGuardrails} from "../contracts/interfaces/IAgentGuardrails.sol";
import {AgentCallData} from "../contracts/libraries/AgentCallData.sol";
import {SolTestBase} from "./SolTestBase.t.sol";

/// @notice AgentCallData.decode (validation reads a UserOperation's `executeAsAgent` arguments with it) against
///         Solidity's own ABI decoder, which reads the same bytes when the EntryPoint calls the account: for any
///         bytes, both refuse or both accept, and when they accept they see the same agent id and the same array
///         (offset and length). A disagreement would let validation check other calls than execution runs
///         (THREATS class 5).
contract AgentCallDataTest is SolTestBase {
    bytes4 internal constant EXECUTE_AS_AGENT = bytes4(keccak256("executeAsAgent(bytes32,(address,uint256,bytes)[])"));

    /// @notice AgentCallData.decode: the agent id, then where the array's elements start (relative to the first byte
    ///         of `data`) and how many there are.
    function libraryHead(bytes calldata data) external pure returns (bytes32, uint256, uint256) {
        (bytes32 agentId, Execution[] calldata calls) = AgentCallData.decode(data);
        uint256 start;
        assembly ("memory-safe") {
            start := sub(calls.offset, data.offset)
        }
        return (agentId, start, calls.length);
    }

    /// @notice Solidity's decoder on the same arguments (called with this function's selector in front of them).
    function solidityHead(
        bytes32 agentId,
        Execution[] calldata calls
    ) external pure returns (bytes32, uint256, uint256) {
        uint256 start;
        assembly ("memory-safe") {
            start := calls.offset
        }
        return (agentId, start, calls.length);
    }

    /// @notice The calls as the library decodes them, copied to memory element by element.
    function libraryCalls(bytes calldata data) external pure returns (bytes32 agentId, Execution[] memory out) {
        Execution[] calldata calls;
        (agentId, calls) = AgentCallData.decode(data);
        out = calls;
    }

    /// @dev `data` without its first four bytes (the arguments).
    function _args(bytes memory data) internal pure returns (bytes memory args) {
        args = new bytes(data.length - 4);
        for (uint256 i; i < args.length; ++i) args[i] = data[i + 4];
    }

    /// @dev Both decoders on `data`: same verdict; the library's refusal is exactly MalformedAgentCallData(); when both
    ///      accept, the same agent id, element offset and length.
    function _agree(bytes memory data) internal view returns (bool accepted) {
        (bool libOk, bytes memory libRet) = address(this).staticcall(abi.encodeCall(this.libraryHead, (data)));
        bool solOk;
        bytes memory solRet;
        if (data.length >= 4) {
            (solOk, solRet) = address(this).staticcall(bytes.concat(this.solidityHead.selector, _args(data)));
        }
        vm.assertEq(libOk, solOk, "the library and Solidity's decoder agree on accepting");
        if (!libOk) {
            vm.assertEq(
                libRet,
                abi.encodeWithSelector(IAgentGuardrails.MalformedAgentCallData.selector),
                "MalformedAgentCallData()"
            );
            return false;
        }
        (bytes32 libId, uint256 libStart, uint256 libLength) = abi.decode(libRet, (bytes32, uint256, uint256));
        (bytes32 solId, uint256 solStart, uint256 solLength) = abi.decode(solRet, (bytes32, uint256, uint256));
        vm.assertEq(libId, solId, "agent id");
        vm.assertEq(libLength, solLength, "array length");
        vm.assertEq(libStart, solStart, "where the elements start");
        bytes32 head;
        assembly ("memory-safe") {
            head := mload(add(data, 36))
        }
        vm.assertEq(libId, head, "the agent id is the first argument word");
        return true;
    }

    /// @notice Arbitrary bytes (mostly refused: too short, or an offset or length that does not fit).
    function testFuzz_decode_agreesWithSolidityOnArbitraryBytes(bytes calldata data) public view {
        _agree(data);
    }

    /// @notice Heads built to sit near the edges: an offset around the end of the arguments, a length word at that
    ///         offset (or cut short), a length claiming around as many elements as there are words after it.
    function testFuzz_decode_agreesWithSolidityAtTheEdges(
        bytes32 agentId,
        uint256 offsetSeed,
        uint256 lengthSeed,
        uint8 words,
        uint8 cut,
        bytes32 filler
    ) public view {
        uint256 tailWords = words % 8;
        // argsLength = 64 + 32 * tailWords - cut (the last word cut short by up to 31 bytes)
        uint256 cutBytes = tailWords == 0 ? 0 : cut % 32;
        uint256 argsLength = 64 + 32 * tailWords - cutBytes;
        uint256 offset = offsetSeed % 5 == 0 ? offsetSeed : _bound(offsetSeed, 0, argsLength + 33);
        bytes memory data = bytes.concat(EXECUTE_AS_AGENT, agentId, bytes32(offset));
        for (uint256 i; i < tailWords; ++i) data = bytes.concat(data, filler);
        // the length word, where the offset says, if it lies inside the tail
        uint256 room = offset <= argsLength && argsLength - offset >= 32 ? (argsLength - offset - 32) / 32 : 0;
        uint256 length = lengthSeed % 5 == 0 ? lengthSeed : _bound(lengthSeed, room == 0 ? 0 : room - 1, room + 1);
        if (offset >= 64 && offset <= 32 + 32 * tailWords) {
            uint256 at = 4 + offset;
            for (uint256 b; b < 32; ++b) data[at + b] = bytes32(length)[b];
        }
        assembly ("memory-safe") {
            mstore(data, sub(mload(data), cutBytes))
        }
        _agree(data);
    }

    /// @notice The canonical encoding of any batch decodes to that batch, element by element.
    function testFuzz_decode_readsTheCanonicalEncoding(
        bytes32 agentId,
        address[3] calldata targets,
        uint256[3] calldata values,
        bytes[3] calldata datas,
        uint8 n
    ) public view {
        uint256 count = n % 4;
        Execution[] memory calls = new Execution[](count);
        for (uint256 i; i < count; ++i) calls[i] = Execution(targets[i], values[i], datas[i]);
        bytes memory data = abi.encodeWithSelector(EXECUTE_AS_AGENT, agentId, calls);
        vm.assertTrue(_agree(data), "the canonical encoding is accepted");
        (bytes32 id, Execution[] memory decoded) = this.libraryCalls(data);
        vm.assertEq(id, agentId, "agent id");
        vm.assertEq(decoded.length, count, "length");
        for (uint256 i; i < count; ++i) {
            vm.assertEq(decoded[i].target, targets[i], "target");
            vm.assertEq(decoded[i].value, values[i], "value");
            vm.assertEq(decoded[i].callData, datas[i], "callData");
        }
    }
}
