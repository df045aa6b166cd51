// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";
import {SpotPool} from "../spot/SpotPool.sol";
import {ISpotTwap, ISpotTwapSource} from "../interfaces/ISpotTwap.sol";

/// @title SpotTwapFeed
/// @notice Adapts a spot pool's time-weighted average price to AggregatorV3Interface (18 decimals).
/// Window 0 reads the instantaneous spot price: a market maker's single-block push then moves the index
/// at once. A window of W seconds averages the pool's price over the last W seconds, so a push in the
/// current block moves it not at all. The window is fixed (an immutable, so a read costs no storage
/// slot): another window is another feed, listed in the oracle in this one's place. The oracle reads a
/// listed adapter's pool directly (`twapSource`), with the answer `latestRoundData` gives.
contract SpotTwapFeed is AggregatorV3Interface, ISpotTwapSource {
    SpotPool public immutable pool;
    /// @notice The TWAP window in seconds (0 = spot).
    uint32 public immutable window;

    error RoundNotAvailable(uint80 roundId);

    constructor(SpotPool pool_, uint32 window_) {
        pool = pool_;
        window = window_;
    }

    /// @inheritdoc ISpotTwapSource
    function twapSource() external view returns (ISpotTwap, uint32) {
        return (pool, window);
    }

    /// @inheritdoc AggregatorV3Interface
    function decimals() external pure returns (uint8) {
        return 18;
    }

    /// @inheritdoc AggregatorV3Interface
    function description() external pure returns (string memory) {
        return "spot pool TWAP";
    }

    /// @inheritdoc AggregatorV3Interface
    function version() external pure returns (uint256) {
        return 1;
    }

    /// @inheritdoc AggregatorV3Interface
    function getRoundData(uint80 roundId) external view returns (uint80, int256, uint256, uint256, uint80) {
        if (roundId != block.number) revert RoundNotAvailable(roundId);
        return _latest();
    }

    /// @inheritdoc AggregatorV3Interface
    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80) {
        return _latest();
    }

    /// @dev The pool is read live, so the answer is always as fresh as the current block.
    function _latest() private view returns (uint80, int256, uint256, uint256, uint80) {
        uint80 round = uint80(block.number);
        return (round, int256(pool.twap(window)), block.timestamp, block.timestamp, round);
    }
}
