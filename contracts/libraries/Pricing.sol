// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {WadMath} from "./WadMath.sol";

/// @title Pricing
/// @notice Skew-based perp prices (SPEC section 5). Skew K = long OI - short OI in base units (WAD);
/// S is the market's skew scale. P_last = index * (1 + K/S); a market order of signed size d fills at
/// the mean premium before and after it: P_fill = index * (1 + (2K + d) / 2S).
library Pricing {
    using WadMath for uint256;

    error SkewBeyondScale(int256 skew, uint256 skewScale);

    /// @notice Perp last price; rounds down.
    function lastPrice(uint256 index, int256 skew, uint256 skewScale) internal pure returns (uint256) {
        int256 factor = int256(skewScale) + skew;
        if (factor <= 0) revert SkewBeyondScale(skew, skewScale);
        return (index * uint256(factor)) / skewScale;
    }

    /// @notice Fill price of a signed size `delta`; a buy rounds up, a sell rounds down (the protocol's favour).
    function fillPrice(uint256 index, int256 skew, int256 delta, uint256 skewScale) internal pure returns (uint256) {
        int256 factor = 2 * int256(skewScale) + 2 * skew + delta;
        if (factor <= 0) revert SkewBeyondScale(skew + delta, skewScale);
        uint256 num = index * uint256(factor);
        uint256 den = 2 * skewScale;
        return delta > 0 ? WadMath.divRoundUp(num, den) : num / den;
    }

    /// @notice Premium (P_last - index) / index as a signed WAD rate, rounded toward zero.
    function premium(uint256 last, uint256 index) internal pure returns (int256) {
        return ((int256(last) - int256(index)) * WadMath.IWAD) / int256(index);
    }

    /// @notice Trading fee: rate * |delta| * fill; taker rate when the order grows |skew|, maker otherwise. Rounds up.
    function fee(
        int256 skew,
        int256 delta,
        uint256 fill,
        uint256 takerRate,
        uint256 makerRate
    ) internal pure returns (uint256) {
        uint256 rate = WadMath.abs(skew + delta) > WadMath.abs(skew) ? takerRate : makerRate;
        return WadMath.abs(delta).mulUp(fill).mulUp(rate);
    }
}
