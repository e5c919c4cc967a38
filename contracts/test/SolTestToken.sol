// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title SolTestToken
/// @notice Test-only: a plain OpenZeppelin ERC-20 that anyone may mint.
contract SolTestToken is ERC20 {
    constructor() ERC20("SolTest Token", "SOLT") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}
