// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice What a mark-price method may look at. Prices WAD USD, rates WAD, times in seconds.
struct MarkInputs {
    uint256 index;
    uint256 lastPrice;
    int256 emaBasis; // EMA of (last - index), already advanced to now
    int256 lastFundingRate; // F of the last funding boundary, per interval
    uint256 timeToNextFunding;
    uint256 fundingInterval;
}

/// @title IMarkPriceModel
/// @notice A per-market mark-price method. A new method is a new contract; markets pick one by address.
interface IMarkPriceModel {
    /// @notice The mark price for these inputs (before the market's optional price band).
    function markPrice(MarkInputs calldata inputs) external pure returns (uint256);

    /// @notice A short name for reports, e.g. "median(P1,P2,last)".
    function name() external pure returns (string memory);
}
