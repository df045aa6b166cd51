// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title ISpotTwap
/// @notice A spot market's time-weighted average price (the SpotPool).
interface ISpotTwap {
    /// @notice The time-weighted average price over the last `window` seconds (0 = spot), WAD USD per coin.
    function twap(uint32 window) external view returns (uint256);
}

/// @title ISpotTwapSource
/// @notice A price source that answers a pool's TWAP over a fixed window (the SpotTwapFeed adapter). The
/// oracle lists such a source by reading the pool directly: the same answer, one call fewer.
interface ISpotTwapSource {
    /// @notice The pool and the window (seconds) whose TWAP this source answers, as fresh as the block.
    function twapSource() external view returns (ISpotTwap pool, uint32 window);
}
