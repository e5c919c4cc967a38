// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IAccount, PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";

/// @title E2ENonCompliantAccount
/// @notice Test-only ERC-4337 account that breaks ERC-7562 on purpose: its validation reads the block's TIMESTAMP
///         (banned opcode, [OP-011]). Otherwise it accepts every UserOperation from its EntryPoint, so a bundler that
///         refuses it can only be refusing the opcode (test/e2e-bundler.test.ts, with Alto in safe mode).
contract E2ENonCompliantAccount is IAccount {
    error E2ENotEntryPoint(address caller);

    address public immutable ENTRY_POINT;

    constructor(address entryPoint) {
        ENTRY_POINT = entryPoint;
    }

    function validateUserOp(
        PackedUserOperation calldata,
        bytes32,
        uint256 missingAccountFunds
    ) external returns (uint256 validationData) {
        if (msg.sender != ENTRY_POINT) revert E2ENotEntryPoint(msg.sender);
        // the clock decides nothing that matters (it is never 0), but reading it is what a bundler must refuse
        validationData = block.timestamp == 0 ? 1 : 0;
        if (missingAccountFunds != 0) {
            (bool ok, ) = payable(msg.sender).call{value: missingAccountFunds}("");
            ok;
        }
    }

    receive() external payable {}
}
