// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

// Test-only attacker contracts for the adversarial suite (test/agent-adversaries.test.ts, THREATS classes 1, 11 and 12).
// Each one is what a hostile merchant, token or bundler could deploy; none of them is trusted by the account.

/// @notice The hook an AdversaryHookToken calls on a recipient with code (ERC-777 `tokensReceived` in spirit).
interface IAdversaryTokenReceiver {
    function tokensReceived(address from, uint256 amount) external;
}

/// @title AdversaryHookToken
/// @notice Test-only ERC-20 whose `transfer` to a contract calls the recipient's `tokensReceived` hook after the balance
///         moves, and bubbles the hook's revert (the ERC-777 / ERC-1363 receive hook that lets a merchant run code in
///         the middle of an agent's batch).
contract AdversaryHookToken is ERC20 {
    constructor() ERC20("Adversary Hook Token", "HOOK") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function transfer(address to, uint256 amount) public override returns (bool) {
        super.transfer(to, amount);
        if (to.code.length != 0) IAdversaryTokenReceiver(to).tokensReceived(msg.sender, amount);
        return true;
    }
}

/// @title AdversaryHookMerchant
/// @notice Test-only merchant that, when its `tokensReceived` hook runs, calls `reentryTarget` with a stored payload. With
///         `swallow` off it bubbles the callee's revert (failing the whole token transfer); with it on it keeps the
///         revert data in `lastRevert` and lets the transfer succeed, as a merchant would that only probes.
contract AdversaryHookMerchant is IAdversaryTokenReceiver {
    address public reentryTarget;
    bytes public payload;
    bool public swallow;
    bytes public lastRevert;
    uint256 public hooks;

    function arm(address target_, bytes calldata payload_, bool swallow_) external {
        reentryTarget = target_;
        payload = payload_;
        swallow = swallow_;
    }

    function tokensReceived(address, uint256) external {
        ++hooks;
        if (payload.length == 0) return;
        (bool ok, bytes memory ret) = reentryTarget.call(payload);
        if (ok) return;
        if (!swallow) {
            assembly ("memory-safe") {
                revert(add(ret, 0x20), mload(ret))
            }
        }
        lastRevert = ret;
    }
}

/// @title AdversaryFeeToken
/// @notice Test-only fee-on-transfer ERC-20: every transfer debits the sender the full amount and burns `FEE_BPS` of it,
///         so the recipient receives less than was sent.
contract AdversaryFeeToken is ERC20 {
    uint256 public constant FEE_BPS = 200; // 2%

    constructor() ERC20("Adversary Fee Token", "FEE") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 amount) internal override {
        if (from == address(0) || to == address(0)) {
            super._update(from, to, amount);
            return;
        }
        uint256 fee = (amount * FEE_BPS) / 10_000;
        super._update(from, address(0), fee);
        super._update(from, to, amount - fee);
    }
}

/// @title AdversaryPullMerchant
/// @notice Test-only pull-payment merchant: once an account approves it, anyone may make it pull with `transferFrom`.
///         `drain` pulls all it can (the allowance, bounded by the balance); `pulled` is what it took in total.
contract AdversaryPullMerchant {
    mapping(address token => uint256) public pulled;

    function pull(address token, address from, uint256 amount) public {
        pulled[token] += amount;
        require(IERC20(token).transferFrom(from, address(this), amount), "pull: false");
    }

    function drain(address token, address from) external {
        uint256 allowance = IERC20(token).allowance(from, address(this));
        uint256 balance = IERC20(token).balanceOf(from);
        pull(token, from, allowance < balance ? allowance : balance);
    }
}

/// @title AdversaryBeneficiary
/// @notice Test-only payee of a malicious bundler: it receives what `handleOps` pays the beneficiary and counts it.
contract AdversaryBeneficiary {
    uint256 public received;

    receive() external payable {
        received += msg.value;
    }
}
