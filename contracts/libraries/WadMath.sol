// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title WadMath
/// @notice 18-decimal fixed-point arithmetic. The rounding direction is in every name, so a reader sees
/// who a rounding favours: `Down` rounds toward negative infinity, `Up` toward positive infinity.
library WadMath {
    uint256 internal constant WAD = 1e18;
    int256 internal constant IWAD = 1e18;

    function mulDown(uint256 a, uint256 b) internal pure returns (uint256) {
        return (a * b) / WAD;
    }

    function mulUp(uint256 a, uint256 b) internal pure returns (uint256) {
        return divRoundUp(a * b, WAD);
    }

    function divDown(uint256 a, uint256 b) internal pure returns (uint256) {
        return (a * WAD) / b;
    }

    function divUp(uint256 a, uint256 b) internal pure returns (uint256) {
        return divRoundUp(a * WAD, b);
    }

    function divRoundUp(uint256 a, uint256 b) internal pure returns (uint256) {
        return a == 0 ? 0 : (a - 1) / b + 1;
    }

    /// @dev a * b / WAD for a signed a, rounded toward negative infinity.
    function mulDownSigned(int256 a, uint256 b) internal pure returns (int256) {
        return floorDiv(a * int256(b), IWAD);
    }

    /// @dev a * b / WAD for a signed a, rounded toward positive infinity.
    function mulUpSigned(int256 a, uint256 b) internal pure returns (int256) {
        return ceilDiv(a * int256(b), IWAD);
    }

    /// @dev a / b rounded toward negative infinity (b > 0).
    function floorDiv(int256 a, int256 b) internal pure returns (int256 q) {
        q = a / b;
        if (a % b != 0 && a < 0) q -= 1;
    }

    /// @dev floorDiv(a, b) and the remainder it leaves, a - q * b, in [0, b) (b > 0), from one division.
    function floorDivMod(int256 a, int256 b) internal pure returns (int256 q, uint256 r) {
        q = a / b;
        int256 m = a % b; // the sign of `a`: a negative remainder is floored
        if (m < 0) (q, m) = (q - 1, m + b);
        r = uint256(m);
    }

    /// @dev a / b rounded toward positive infinity (b > 0): -floorDiv(-a, b) without the two negations.
    function ceilDiv(int256 a, int256 b) internal pure returns (int256 q) {
        q = a / b;
        if (a % b != 0 && a > 0) q += 1;
    }

    function abs(int256 a) internal pure returns (uint256) {
        return uint256(a >= 0 ? a : -a);
    }

    function min(uint256 a, uint256 b) internal pure returns (uint256) {
        return a < b ? a : b;
    }

    function max(uint256 a, uint256 b) internal pure returns (uint256) {
        return a > b ? a : b;
    }

    function clamp(int256 x, int256 lo, int256 hi) internal pure returns (int256) {
        return x < lo ? lo : (x > hi ? hi : x);
    }

    function median3(uint256 a, uint256 b, uint256 c) internal pure returns (uint256) {
        if (a > b) (a, b) = (b, a);
        if (b > c) b = c;
        return a > b ? a : b;
    }
}
