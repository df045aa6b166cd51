// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {WadMath} from "./WadMath.sol";

/// @title Ema
/// @notice Exponential moving average over irregular samples with a half-life in seconds:
/// ema' = sample + (ema - sample) * 2^(-dt / halfLife). The decay factor is computed in WAD with
/// whole halvings as shifts and the fractional part as a Taylor series of e^(-f ln 2), which the
/// TypeScript mirror (lib/math) reproduces to the unit.
library Ema {
    uint256 private constant LN2 = 693147180559945309; // ln(2) in WAD
    uint256 private constant MAX_HALVINGS = 64;

    /// @notice 2^(-dt / halfLife) in WAD, rounded down; 0 when halfLife is 0 (no smoothing).
    function decay(uint256 dt, uint256 halfLife) internal pure returns (uint256) {
        if (halfLife == 0) return 0;
        uint256 halvings = dt / halfLife;
        if (halvings >= MAX_HALVINGS) return 0;
        uint256 y = ((dt % halfLife) * LN2) / halfLife; // f * ln2 in WAD, in [0, ln2)
        // e^(-y) = sum (-y)^k / k! to k = 12, unrolled (a loop's counter and test cost more gas than its
        // terms): each odd term subtracted, the even one after it added.
        // Each term is floor(floor(term * y / WAD) / k), taken as one division by the constant WAD * k:
        // floor(floor(a / b) / c) = floor(a / (b * c)) for positive integers, so the terms are the same.
        // Unchecked, and the same integer steps as the checked form: term <= WAD and y < WAD, so term * y
        // < 2^120; the partial sums of this alternating series with falling terms stay within [1 - y, 1],
        // so sum never goes below zero.
        uint256 term = WadMath.WAD;
        uint256 sum = WadMath.WAD;
        unchecked {
            term = (term * y) / WadMath.WAD;
            sum -= term;
            term = (term * y) / (WadMath.WAD * 2);
            sum += term;
            term = (term * y) / (WadMath.WAD * 3);
            sum -= term;
            term = (term * y) / (WadMath.WAD * 4);
            sum += term;
            term = (term * y) / (WadMath.WAD * 5);
            sum -= term;
            term = (term * y) / (WadMath.WAD * 6);
            sum += term;
            term = (term * y) / (WadMath.WAD * 7);
            sum -= term;
            term = (term * y) / (WadMath.WAD * 8);
            sum += term;
            term = (term * y) / (WadMath.WAD * 9);
            sum -= term;
            term = (term * y) / (WadMath.WAD * 10);
            sum += term;
            term = (term * y) / (WadMath.WAD * 11);
            sum -= term;
            term = (term * y) / (WadMath.WAD * 12);
            sum += term;
        }
        return sum >> halvings;
    }

    /// @notice The EMA advanced by dt seconds toward `sample`; rounds toward zero.
    function update(int256 ema, int256 sample, uint256 dt, uint256 halfLife) internal pure returns (int256) {
        return sample + ((ema - sample) * int256(decay(dt, halfLife))) / WadMath.IWAD;
    }
}
