// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title HookedToken
/// @notice Test only: a 6-decimal collateral token with ERC-777-style transfer hooks. When armed, every
/// `transfer` and `transferFrom` calls `hookTarget` with `hookData`, either before the balances move
/// (like ERC-777's tokensToSend) or after (like tokensReceived). The hook is not re-armed while it runs,
/// so it fires at most once per outer transfer. `bubble` chooses what a failing hook does: revert the
/// transfer with the hook's own revert data (the attack as a real hook would run it), or swallow it and
/// record the result (so a test can check both that the re-entrant call failed and that the outer call
/// left consistent state).
contract HookedToken is ERC20 {
    address public hookTarget;
    bytes public hookData;
    bool public hookBefore;
    bool public bubble;

    /// @notice Outcome of the last hook call.
    bool public hookCalled;
    bool public lastHookSuccess;
    bytes public lastHookReturn;

    bool private _inHook;

    event HookCalled(address indexed target, bool success, bytes returnData);

    constructor() ERC20("hooked USD", "hUSD") {}

    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @notice Anyone may mint: test only.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Arms the hook: every later transfer calls `target` with `data`.
    function arm(address target, bytes calldata data, bool before, bool bubble_) external {
        hookTarget = target;
        hookData = data;
        hookBefore = before;
        bubble = bubble_;
        hookCalled = false;
        lastHookSuccess = false;
        delete lastHookReturn;
    }

    function disarm() external {
        hookTarget = address(0);
    }

    function transfer(address to, uint256 value) public override returns (bool) {
        if (hookBefore) _hook();
        bool ok = super.transfer(to, value);
        if (!hookBefore) _hook();
        return ok;
    }

    function transferFrom(address from, address to, uint256 value) public override returns (bool) {
        if (hookBefore) _hook();
        bool ok = super.transferFrom(from, to, value);
        if (!hookBefore) _hook();
        return ok;
    }

    function _hook() private {
        address target = hookTarget;
        if (target == address(0) || _inHook) return;
        _inHook = true;
        (bool success, bytes memory ret) = target.call(hookData);
        _inHook = false;
        hookCalled = true;
        lastHookSuccess = success;
        lastHookReturn = ret;
        emit HookCalled(target, success, ret);
        if (!success && bubble) {
            assembly {
                revert(add(ret, 32), mload(ret))
            }
        }
    }
}
