// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @notice A token whose `authorizationState` burns all the gas it is given: settling a lane on it must neither run out of
///         gas nor give anything back (a failing answer counts the nonce as used).
contract LaneMockGasBurner {
    function authorizationState(address, bytes32) external view returns (bool) {
        uint256 x;
        while (gasleft() > 0) x = uint256(keccak256(abi.encode(x)));
        return x == 0;
    }
}

/// @notice A token whose `authorizationState` answers with nothing (a function it does not have): every nonce counts as
///         used.
contract LaneMockMute {
    fallback() external {}
}
