// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title SimReads
/// @notice Never deployed. The simulator runs this creation code in one eth_call (no `to`) to read
///         many view functions at one block in one request: the constructor makes each static call and
///         returns `abi.encode(results)` as the creation's output (sim/chain.ts). A call that reverts
///         reverts the whole read with that call's own revert data, so the caller decodes it as before.
contract SimReads {
    /// @notice Reads `calls[i]` from `targets[i]` for every i and returns the results, in order.
    /// @param targets The contract each call reads.
    /// @param calls The calldata of each call.
    constructor(address[] memory targets, bytes[] memory calls) {
        bytes[] memory results = new bytes[](calls.length);
        for (uint256 i = 0; i < calls.length; ++i) {
            (bool ok, bytes memory out) = targets[i].staticcall(calls[i]);
            if (!ok) {
                assembly ("memory-safe") {
                    revert(add(out, 32), mload(out))
                }
            }
            results[i] = out;
        }
        bytes memory encoded = abi.encode(results);
        assembly ("memory-safe") {
            return(add(encoded, 32), mload(encoded))
        }
    }
}
