// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IOracle
/// @notice Index prices per market, as the engine, the lens and the order book read them.
interface IOracle {
    /// @notice The index (WAD) and how many sources were fresh; price is 0 when none was.
    function indexPrice(uint256 marketId) external view returns (uint256 price, uint256 freshSources);

    /// @notice The last index the market had: the median of the sources that stayed fresh the longest,
    /// and the last second they were fresh (their updatedAt + heartbeat). With no fresh source this is
    /// the index as it stood when the oracle went stale; price is 0 when no source ever answered.
    function lastIndexPrice(uint256 marketId) external view returns (uint256 price, uint256 freshUntil);
}

/// @title IPriceRecorder
/// @notice An oracle that keeps its pushed feeds' rounds in its own storage, so a trade reads them with no call.
interface IPriceRecorder {
    /// @notice Records the caller's latest round (a pushed feed mirroring each push) into the source slot of
    /// each market that lists the caller as a recorded source, which a trade then reads with no call. A
    /// caller writes only where it is listed, so a feed that is not a market's source changes nothing.
    /// @param answer the round's answer, in the feed's decimals
    /// @param updatedAt the round's timestamp (seconds)
    function recordPrice(int256 answer, uint256 updatedAt) external;
}
