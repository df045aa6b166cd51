// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title DecimalFloat
/// @notice A price kept to nine significant digits, as m x 10^e, so that it packs into 36 bits: a
/// position's entry price and funding snapshot, which together with its size and margin fill one slot
/// (PerpEngineStorage._positions). An entry is unsigned with a 31-bit mantissa (relative step at
/// most 4.7e-9: 0.00014 USD at 30,000); a snapshot carries a sign and a 30-bit mantissa (at most 9.4e-9
/// of the index). The exponent takes 5 bits, which covers every value below 2^128.
/// `round` chooses the representable value on the side the caller names, so each rounding can favour the
/// protocol; `encode` packs a value `round` returned, and `decode` gives it back exactly.
library DecimalFloat {
    /// @dev An entry's mantissa bound (31 bits) and a snapshot's (30 bits: the 36th bit is the sign).
    uint256 internal constant ENTRY_MANTISSA = 1 << 31;
    uint256 internal constant SNAPSHOT_MANTISSA = 1 << 30;

    /// @notice `v` rounded to the nearest value m x 10^e with m < `limit`: up (toward positive infinity)
    /// or down. A value below `limit` is returned as it is.
    function round(uint256 v, uint256 limit, bool up) internal pure returns (uint256) {
        (uint256 m, , uint256 unit) = _normalize(v, limit);
        if (!up || m * unit == v) return m * unit;
        // Up: one step above the floor, unless the step reaches `limit`; then the next decade's grid.
        if (++m == limit) (m, unit) = ((v - 1) / (unit * 10) + 1, unit * 10);
        return m * unit;
    }

    /// @notice `v` rounded to a signed snapshot's grid: up (toward positive infinity) or down.
    function roundSigned(int256 v, bool up) internal pure returns (int256) {
        return
            v >= 0
                ? int256(round(uint256(v), SNAPSHOT_MANTISSA, up))
                : -int256(round(uint256(-v), SNAPSHOT_MANTISSA, !up));
    }

    /// @notice The 36-bit code of `v`, a value `round` returned for `limit` (so m x 10^e holds it exactly):
    /// e in the five bits above the mantissa.
    function encode(uint256 v, uint256 limit) internal pure returns (uint256) {
        (uint256 m, uint256 e, ) = _normalize(v, limit);
        return (e * limit) | m;
    }

    /// @notice The signed snapshot `v` as 36 bits: the sign above `encode`'s 35.
    function encodeSigned(int256 v) internal pure returns (uint256) {
        return v >= 0 ? encode(uint256(v), SNAPSHOT_MANTISSA) : (1 << 35) | encode(uint256(-v), SNAPSHOT_MANTISSA);
    }

    /// @notice The value of an unsigned code for `limit`.
    function decode(uint256 code, uint256 limit) internal pure returns (uint256) {
        // Unchecked: m < 2^31 and 10^31 < 2^104, so the product is below 2^135.
        unchecked {
            return (code % limit) * 10 ** (code / limit);
        }
    }

    /// @notice The value of a signed snapshot code.
    function decodeSigned(uint256 code) internal pure returns (int256) {
        int256 v = int256(decode(code & ((1 << 35) - 1), SNAPSHOT_MANTISSA));
        return code >> 35 == 0 ? v : -v;
    }

    /// @dev The smallest e with floor(v / 10^e) < limit, that floor m, and 10^e: one decade a step (at most
    /// 30 for a value below 2^128; a position's prices take 5 to 14).
    function _normalize(uint256 v, uint256 limit) private pure returns (uint256 m, uint256 e, uint256 unit) {
        (m, unit) = (v, 1);
        // Unchecked: e <= 31 and unit <= 10^31.
        unchecked {
            while (m >= limit) (m, e, unit) = (m / 10, e + 1, unit * 10);
        }
    }
}
