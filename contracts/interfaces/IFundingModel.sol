// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice What a funding method may look at; all WAD rates per funding interval.
struct FundingInputs {
    int256 avgPremium; // time-weighted (last - index) / index over the interval, which is skew / skewScale here
    int256 interestRate; // I, e.g. 0.01%
    int256 clampRate; // the +/- band on (I - premium), e.g. 0.05%
    int256 cap; // |F| <= cap
    int256 lastRate; // F of the boundary before this one
    uint256 interval; // the funding interval, seconds
    uint256 maxVelocity; // the market's maxFundingVelocity: per day, of a rate per day, at full skew
}

/// @title IFundingModel
/// @notice A per-market funding method. A new method is a new contract; markets pick one by address.
interface IFundingModel {
    /// @notice The funding rate F for one interval: F > 0 longs pay shorts, F < 0 shorts pay longs.
    function fundingRate(FundingInputs calldata inputs) external pure returns (int256);

    /// @notice A short name for reports.
    function name() external pure returns (string memory);
}
