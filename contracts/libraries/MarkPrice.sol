// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {WadMath} from "./WadMath.sol";

/// @notice A market's mark-price method (SPEC section 5), chosen per market in its configuration. The
/// methods are functions of MarkPrice, computed in the caller: a mark is taken on every trade and after
/// every liquidation of a batch, where a call to a strategy contract would cost a cold account each time.
/// A new method is a new member here and a function below.
enum MarkMethod {
    Median, // median(P1, P2, last), the exchange-style mark
    Index // the index itself: the perp's own order flow cannot move it
}

/// @title MarkPrice
/// @notice The mark-price methods, before the market's optional price band (MarketLib.markPrice applies it).
library MarkPrice {
    /// @notice The mark by `method`, from what a method may look at, as values (no struct in memory): prices
    /// WAD USD, rates WAD, times in seconds; `emaBasis` is the EMA of (last - index) already advanced to now,
    /// `lastFundingRate` the F of the last funding boundary, per interval.
    function compute(
        MarkMethod method,
        uint256 indexPrice,
        uint256 lastPrice,
        int256 emaBasis,
        int256 lastFundingRate,
        uint256 timeToNextFunding,
        uint256 fundingInterval
    ) internal pure returns (uint256) {
        if (method == MarkMethod.Index) return indexPrice;
        return median(indexPrice, lastPrice, emaBasis, lastFundingRate, timeToNextFunding, fundingInterval);
    }

    /// @notice median(P1, P2, last) with P1 = index * (1 + F_last * timeToNextFunding / interval) and
    /// P2 = index + EMA(basis); a P1 or P2 that is not positive counts as 1 wei.
    function median(
        uint256 indexPrice,
        uint256 lastPrice,
        int256 emaBasis,
        int256 lastFundingRate,
        uint256 timeToNextFunding,
        uint256 fundingInterval
    ) internal pure returns (uint256) {
        int256 index = int256(indexPrice);
        int256 p1 = index +
            (index * lastFundingRate * int256(timeToNextFunding)) /
            (int256(fundingInterval) * WadMath.IWAD);
        int256 p2 = index + emaBasis;
        return WadMath.median3(_positive(p1), _positive(p2), lastPrice);
    }

    /// @notice A method's name for reports, as lib/math names it.
    function name(MarkMethod method) internal pure returns (string memory) {
        return method == MarkMethod.Index ? "index" : "median(P1,P2,last)";
    }

    function _positive(int256 x) private pure returns (uint256) {
        return x > 0 ? uint256(x) : 1;
    }
}
