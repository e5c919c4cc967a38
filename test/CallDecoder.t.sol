// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Execution} from "@openzeppelin/contracts/interfaces/draft-IERC7579.sol";
import {SolTestDecoderHarness} from "../contracts/test/SolTestDecoderHarness.sol";
import {AgentPolicy, TokenLimit, IAgentGuardrails} from "../contracts/interfaces/IAgentGuardrails.sol";
import {SolTestBase} from "./SolTestBase.t.sol";

/// @notice CallDecoder against SPEC section 3's table, written out independently below (`_expected`): for any
///         (target, value, calldata) the decoder must return exactly the table's verdict, and never revert.
contract CallDecoderTest is SolTestBase {
    bytes4 internal constant TRANSFER = bytes4(keccak256("transfer(address,uint256)"));
    bytes4 internal constant APPROVE = bytes4(keccak256("approve(address,uint256)"));
    address internal constant PERMIT2 = 0x000000000022D473030F116dDEE9F6B43aC78BA3;
    address internal constant ENTRY_POINT = address(0xE7E7);

    SolTestDecoderHarness internal harness;
    bytes32 internal agentId;
    address[] internal tokens; // listed (tokens[2] = address(0): ETH is listed too)
    address[] internal merchants;

    function setUp() public {
        harness = new SolTestDecoderHarness(ENTRY_POINT);
        agentId = harness.AGENT_ID();
        tokens.push(address(0x70CE1));
        tokens.push(address(0x70CE2));
        tokens.push(address(0));
        merchants.push(address(0x3E1));
        merchants.push(address(0x3E2));
        merchants.push(address(0x3E3));

        TokenLimit[] memory limits = new TokenLimit[](tokens.length);
        for (uint256 i; i < tokens.length; ++i) limits[i] = TokenLimit(tokens[i], 10, 100, 1000, 0, 0);
        harness.configure(
            AgentPolicy({
                validAfter: 0,
                validUntil: type(uint48).max,
                period: 1 days,
                activeHours: type(uint168).max,
                maxCallsPerPeriod: type(uint32).max,
                gasBudget: 0,
                mandate: bytes32(0),
                limits: limits,
                merchants: merchants
            })
        );
    }

    // ---------------------------------------------------------------- the table, independently

    function _isListedToken(address a) internal view returns (bool) {
        for (uint256 i; i < tokens.length; ++i) if (tokens[i] == a && a != address(0)) return true;
        return false;
    }

    function _isMerchant(address a) internal view returns (bool) {
        for (uint256 i; i < merchants.length; ++i) if (merchants[i] == a) return true;
        return false;
    }

    /// @dev The first four bytes of `data`, right-padded with zeros (byte by byte, no assembly).
    function _selector(bytes memory data) internal pure returns (bytes4 sel) {
        for (uint256 i; i < 4 && i < data.length; ++i) sel |= bytes4(data[i]) >> (8 * i);
    }

    /// @dev The 32-byte big-endian word of `data` at `offset` (byte by byte, no assembly); `data` is long enough.
    function _word(bytes memory data, uint256 offset) internal pure returns (uint256 w) {
        for (uint256 i; i < 32; ++i) w = (w << 8) | uint8(data[offset + i]);
    }

    /// @dev SPEC section 3's table, plus the lead's design choices for where SPEC is silent (value to a listed token is
    ///      MerchantNotAllowed(token); a dirty recipient word is CallNotAllowed).
    function _expected(
        Execution memory c
    ) internal view returns (bytes memory violation, SolTestDecoderHarness.Payment memory p) {
        bytes4 sel = _selector(c.callData);
        address t = c.target;
        if (t == address(harness) || t == ENTRY_POINT || t == PERMIT2 || t == address(0)) {
            return (abi.encodeWithSelector(IAgentGuardrails.CallNotAllowed.selector, agentId, t, sel), p);
        }
        bool shaped = c.callData.length == 68 && (sel == TRANSFER || sel == APPROVE);
        if (_isListedToken(t)) {
            if (c.value != 0) {
                return (abi.encodeWithSelector(IAgentGuardrails.MerchantNotAllowed.selector, agentId, t), p);
            }
            if (!shaped) {
                return (abi.encodeWithSelector(IAgentGuardrails.CallNotAllowed.selector, agentId, t, sel), p);
            }
            uint256 to = _word(c.callData, 4);
            if (to >= 2 ** 160) {
                return (abi.encodeWithSelector(IAgentGuardrails.CallNotAllowed.selector, agentId, t, sel), p);
            }
            if (!_isMerchant(address(uint160(to)))) {
                return (
                    abi.encodeWithSelector(IAgentGuardrails.MerchantNotAllowed.selector, agentId, address(uint160(to))),
                    p
                );
            }
            return ("", SolTestDecoderHarness.Payment(true, t, address(uint160(to)), _word(c.callData, 36)));
        }
        if (_isMerchant(t)) {
            if (c.value == 0) return ("", p);
            return ("", SolTestDecoderHarness.Payment(true, address(0), t, c.value));
        }
        if (c.value != 0) {
            return (abi.encodeWithSelector(IAgentGuardrails.MerchantNotAllowed.selector, agentId, t), p);
        }
        if (shaped) return (abi.encodeWithSelector(IAgentGuardrails.TokenNotAllowed.selector, agentId, t), p);
        return (abi.encodeWithSelector(IAgentGuardrails.CallNotAllowed.selector, agentId, t, sel), p);
    }

    function _checkAgainstTable(Execution memory c) internal view {
        (bytes memory wantV, SolTestDecoderHarness.Payment memory want) = _expected(c);
        try harness.decode(c.target, c.value, c.callData) returns (
            bytes memory v,
            SolTestDecoderHarness.Payment memory p
        ) {
            vm.assertEq(v, wantV, "violation");
            vm.assertEq(p.isPayment, want.isPayment, "isPayment");
            vm.assertTrue(!p.isPayment || v.length == 0, "a payment with a violation");
            if (want.isPayment) {
                vm.assertEq(p.token, want.token, "payment token");
                vm.assertEq(p.merchant, want.merchant, "payment merchant");
                vm.assertEq(p.amount, want.amount, "payment amount");
            }
            if (v.length == 0) {
                // execution re-reads an allowed call with paymentOf: it must find exactly the same payment
                SolTestDecoderHarness.Payment memory q = harness.paymentOf(c.target, c.value, c.callData);
                vm.assertEq(q.isPayment, p.isPayment, "paymentOf: isPayment");
                if (p.isPayment) {
                    vm.assertEq(q.token, p.token, "paymentOf: token");
                    vm.assertEq(q.merchant, p.merchant, "paymentOf: merchant");
                    vm.assertEq(q.amount, p.amount, "paymentOf: amount");
                }
            }
        } catch {
            vm.assertTrue(false, "the decoder reverted");
        }
    }

    // ---------------------------------------------------------------- input builders

    function _pick(address[] storage set, uint256 seed) internal view returns (address) {
        return set[seed % set.length];
    }

    function _target(uint256 kind, uint256 seed, address other) internal view returns (address) {
        kind %= 8;
        if (kind == 0) return address(harness);
        if (kind == 1) return ENTRY_POINT;
        if (kind == 2) return PERMIT2;
        if (kind == 3) return address(0);
        if (kind == 4 || kind == 5) return tokens[seed % 2]; // a listed ERC-20 (twice as likely: the payment rows)
        if (kind == 6) return _pick(merchants, seed);
        return other;
    }

    /// @dev A recipient word: a merchant, a non-merchant (the other address, a token, the EntryPoint), or a merchant
    ///      with dirty upper 96 bits.
    function _recipientWord(uint256 kind, uint256 seed, address other) internal view returns (uint256) {
        kind %= 5;
        if (kind <= 1) return uint160(_pick(merchants, seed));
        if (kind == 2) return uint160(other);
        if (kind == 3) return uint160(seed % 2 == 0 ? tokens[0] : ENTRY_POINT);
        uint256 dirty = _bound(seed >> 8, 1, 2 ** 96 - 1);
        return (dirty << 160) | uint160(_pick(merchants, seed));
    }

    function _callData(
        uint256 kind,
        uint256 seed,
        uint256 amount,
        address other,
        bytes memory junk
    ) internal view returns (bytes memory) {
        kind %= 7;
        bytes4 sel = seed % 2 == 0 ? TRANSFER : APPROVE;
        uint256 to = _recipientWord(seed >> 1, seed >> 4, other);
        if (kind <= 2) return abi.encodePacked(sel, to, amount); // exactly 68 bytes
        if (kind == 3) {
            // payment-shaped selector, wrong length: truncated (4..67 bytes) or with trailing bytes
            bytes memory full = abi.encodePacked(sel, to, amount, junk);
            uint256 len = seed % 3 == 0 ? _bound(seed >> 16, 4, 67) : 68 + _bound(seed >> 16, 1, junk.length + 1);
            if (len > full.length) full = abi.encodePacked(full, bytes1(0x01));
            assembly ("memory-safe") {
                mstore(full, len)
            }
            return full;
        }
        if (kind == 4) {
            // another selector on a 68-byte body: transferFrom, permit, increaseAllowance, transferAndCall, or random
            bytes4[5] memory others = [
                bytes4(keccak256("transferFrom(address,address,uint256)")),
                bytes4(0xd505accf), // permit
                bytes4(keccak256("increaseAllowance(address,uint256)")),
                bytes4(0x4000aea0), // transferAndCall
                bytes4(uint32(seed >> 32))
            ];
            return abi.encodePacked(others[(seed >> 8) % 5], to, amount);
        }
        if (kind == 5) {
            // shorter than a selector
            bytes memory s = abi.encodePacked(bytes4(uint32(seed >> 40)));
            uint256 len = (seed >> 8) % 4;
            assembly ("memory-safe") {
                mstore(s, len)
            }
            return s;
        }
        return junk;
    }

    // ---------------------------------------------------------------- fuzz

    /// @notice Every row of the table, built on purpose: special targets, listed tokens, merchants and strangers, with
    ///         and without ETH, with payment-shaped, wrongly sized, foreign-selector, short and random calldata.
    function testFuzz_decode_matchesSpecTable(
        uint8 targetKind,
        uint8 dataKind,
        bool withValue,
        uint256 value,
        uint256 seed,
        uint256 amount,
        address other,
        bytes calldata junk
    ) public view {
        vm.assume(
            other != address(harness) &&
                other != ENTRY_POINT &&
                other != PERMIT2 &&
                other != address(0) &&
                !_isListedToken(other) &&
                !_isMerchant(other)
        );
        Execution memory c = Execution({
            target: _target(targetKind, seed, other),
            value: withValue ? value : 0,
            callData: _callData(dataKind, seed >> 2, amount, other, junk)
        });
        _checkAgainstTable(c);
    }

    /// @notice Unstructured inputs: whatever arrives, the decoder answers exactly as the table and never reverts.
    function testFuzz_decode_neverRevertsOnArbitraryInput(
        address target,
        uint256 value,
        bytes calldata data
    ) public view {
        _checkAgainstTable(Execution({target: target, value: value, callData: data}));
    }

    /// @notice Calldata that is exactly a transfer/approve to a listed token is a payment iff the recipient is a merchant
    ///         with clean upper bits; otherwise the exact refusal.
    function testFuzz_decode_tokenPaymentIffMerchantRecipientWithCleanWord(
        bool isApprove,
        uint256 toWord,
        uint256 amount,
        uint8 tokenIndex
    ) public view {
        // half the time, a merchant (with or without dirt above it)
        if (toWord % 2 == 0) toWord = (toWord & ~uint256(type(uint160).max)) | uint160(_pick(merchants, toWord >> 1));
        if (toWord % 3 == 0) toWord &= type(uint160).max;
        address token = tokens[tokenIndex % 2];
        bytes memory data = abi.encodePacked(isApprove ? APPROVE : TRANSFER, toWord, amount);
        (bytes memory v, SolTestDecoderHarness.Payment memory p) = harness.decode(token, 0, data);
        bool isPayment = p.isPayment;
        bool clean = toWord >> 160 == 0;
        bool toMerchant = clean && _isMerchant(address(uint160(toWord)));
        vm.assertEq(isPayment, toMerchant, "payment iff a merchant recipient with a clean word");
        if (toMerchant) {
            vm.assertEq(v.length, 0, "no violation");
            vm.assertEq(p.token, token, "token");
            vm.assertEq(p.merchant, address(uint160(toWord)), "merchant");
            vm.assertEq(p.amount, amount, "amount");
        } else if (!clean) {
            vm.assertEq(
                v,
                abi.encodeWithSelector(
                    IAgentGuardrails.CallNotAllowed.selector,
                    agentId,
                    token,
                    isApprove ? APPROVE : TRANSFER
                ),
                "dirty recipient word"
            );
        } else {
            vm.assertEq(
                v,
                abi.encodeWithSelector(IAgentGuardrails.MerchantNotAllowed.selector, agentId, address(uint160(toWord))),
                "non-merchant recipient"
            );
        }
    }

    /// @notice ETH is a payment iff the value is non-zero and the target a merchant; a zero-value merchant call is
    ///         allowed and is not a payment, whatever its calldata.
    function testFuzz_decode_ethPaymentIffValueToMerchant(uint8 m, uint256 value, bytes calldata data) public view {
        address merchant = _pick(merchants, m);
        (bytes memory v, SolTestDecoderHarness.Payment memory p) = harness.decode(merchant, value, data);
        vm.assertEq(v.length, 0, "a merchant call is allowed");
        vm.assertEq(p.isPayment, value != 0, "payment iff value != 0");
        if (value != 0) {
            vm.assertEq(p.token, address(0), "ETH");
            vm.assertEq(p.merchant, merchant, "merchant");
            vm.assertEq(p.amount, value, "amount");
        }
    }

    /// @notice The selector is the first four bytes, right-padded with zeros, even when the calldata right after a short
    ///         slice holds more (non-zero) bytes.
    function testFuzz_selectorOf_isFirstFourBytesRightPadded(bytes calldata data, uint256 len) public view {
        len = _bound(len, 0, data.length);
        vm.assertEq(harness.selectorOfPrefix(data, len), _selector(data[:len]), "selector");
    }

    /// @notice Calldata of 0 to 3 bytes: the selector is what there is, right-padded with zeros, whatever follows it.
    function testFuzz_selectorOf_shortCalldataIsRightPaddedWithZeros(bytes4 raw, uint8 len, bytes32 tail) public view {
        uint256 n = len % 4;
        bytes4 mask = n == 0 ? bytes4(0) : bytes4(~(type(uint32).max >> (8 * n)));
        // the short selector, followed by 32 more bytes that must not leak into it
        bytes memory data = abi.encodePacked(raw, tail);
        vm.assertEq(bytes32(harness.selectorOfPrefix(data, n)), bytes32(raw & mask), "right-padded selector");
    }

    /// @notice The reported selector of refused short calldata is the right-padded one (end to end through decode).
    function testFuzz_decode_shortCalldataReportsRightPaddedSelector(
        bytes3 raw,
        uint8 len,
        address target
    ) public view {
        vm.assume(!_isMerchant(target));
        uint256 n = len % 4;
        bytes memory data = new bytes(n);
        for (uint256 i; i < n; ++i) data[i] = raw[i];
        (bytes memory v, SolTestDecoderHarness.Payment memory p) = harness.decode(target, 0, data);
        vm.assertFalse(p.isPayment, "not a payment");
        vm.assertEq(
            v,
            abi.encodeWithSelector(IAgentGuardrails.CallNotAllowed.selector, agentId, target, _selector(data)),
            "CallNotAllowed with the right-padded selector"
        );
    }

    // ---------------------------------------------------------------- reading the batch (THREATS class 5)

    /// @dev A valid encoding of `readWith*(Execution[])` arguments (without the selector) for up to three calls.
    function _encodedBatch(uint8 n, bytes memory data) internal pure returns (bytes memory) {
        Execution[] memory calls = new Execution[](n % 4);
        for (uint256 i; i < calls.length; ++i) {
            calls[i] = Execution(address(uint160(0x3E1 + i)), i * 7, i == 1 ? bytes("") : data);
        }
        return abi.encode(calls);
    }

    /// @notice CallDecoder.read (what the account executes) reads any calldata exactly as Solidity's accessors do:
    ///         for a valid batch and for one with a word overwritten anywhere (offsets, lengths, dirty targets, past the
    ///         end), both revert or both return the same calls.
    function testFuzz_read_matchesSolidityAccessors(
        uint8 n,
        bytes memory data,
        uint16 at,
        uint256 word,
        uint8 cut,
        bool small
    ) public view {
        bytes memory args = _encodedBatch(n, data);
        if (args.length >= 32) {
            // overwrite one 32-byte word (word-aligned or not) with an arbitrary or a small value (offsets, lengths)
            uint256 pos = uint256(at) % (args.length - 31);
            uint256 v = small ? word % 512 : word;
            assembly ("memory-safe") {
                mstore(add(add(args, 0x20), pos), v)
            }
        }
        // and maybe drop a few trailing bytes
        uint256 len = args.length - (uint256(cut) % 8 < args.length ? uint256(cut) % 8 : 0);
        assembly ("memory-safe") {
            mstore(args, len)
        }
        (bool okS, bytes memory retS) = address(harness).staticcall(
            abi.encodePacked(SolTestDecoderHarness.readWithSolidity.selector, args)
        );
        (bool okD, bytes memory retD) = address(harness).staticcall(
            abi.encodePacked(SolTestDecoderHarness.readWithDecoder.selector, args)
        );
        vm.assertEq(okD, okS, "both revert or neither");
        vm.assertEq(retD, retS, "same calls, or the same revert data");
    }
}
