// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title ReentrantAttacker
/// @notice Test only: an account that is a contract, so a token hook can make it act in the middle of a
/// transfer. `run` performs any call as this account and bubbles a revert unchanged; the test arms a
/// HookedToken with `run(target, data)` as the hook, which turns a deposit or withdrawal of this account
/// into a re-entrant call by the same account.
contract ReentrantAttacker {
    /// @notice Calls `target` with `data` as this contract; reverts with the callee's revert data.
    function run(address target, bytes calldata data) external returns (bytes memory ret) {
        bool ok;
        (ok, ret) = target.call(data);
        if (!ok) {
            assembly {
                revert(add(ret, 32), mload(ret))
            }
        }
    }
}
