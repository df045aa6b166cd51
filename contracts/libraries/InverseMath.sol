// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {WadMath} from "./WadMath.sol";
import {Tier} from "./MarginMath.sol";

/// @title InverseMath
/// @notice Coin-margined (inverse) positions (SPEC section 9.2). A position's signed `size` is its face
/// in USD (WAD): contracts x face value, positive long. Prices are USD per coin (WAD); margin, PnL, fees,
/// funding, maintenance amounts and tier caps are in the coin (WAD). With Q = |size|, s its sign:
///   PnL(P) = s*Q*(1/E - 1/P),  notional(P) = Q/P,  MM(P) = (Q/P)*mmr - amt.
/// The liquidation check is exact: multiplying equity - MM by the positive E*P*WAD^3 gives
///   H(P) = (M + amt)*P*E + s*Q*WAD*(P - E) - Q*E*mmr,
/// an integer with no rounding, liquidatable iff H(P) < 0. equity - MM is monotone in P (a long gains
/// with P and its notional falls; a short loses with P and its notional falls more slowly than its
/// equity), so the liquidation price is the exact integer boundary of the predicate, as in MarginMath.
///
/// Liquidation prices keep the linear convention "a long is liquidatable iff mark <= price, a short iff
/// mark >= price": 0 when a long never is (or a short always is), type(uint256).max when a short never
/// is (a 1x short: a synthetic dollar) or a long always is.
library InverseMath {
    using WadMath for uint256;

    uint256 private constant WAD = WadMath.WAD;

    /// @notice PnL in coin of signed face `size` entered at `entry`, valued at `price`; rounded down.
    function pnl(int256 size, uint256 entry, uint256 price) internal pure returns (int256) {
        return WadMath.floorDiv(size * (int256(price) - int256(entry)) * WadMath.IWAD, int256(entry * price));
    }

    /// @notice Notional in coin of face `absSize` at `price`, rounded up (what margin is measured against).
    function notional(uint256 absSize, uint256 price) internal pure returns (uint256) {
        return absSize.divUp(price);
    }

    /// @notice Index of the tier that holds the coin notional absSize / price (exact), clamped to the last.
    function tierOf(Tier[] memory tiers, uint256 absSize, uint256 price) internal pure returns (uint256 i) {
        uint256 scaledFace = absSize * WAD; // notional <= cap  <=>  absSize * WAD <= cap * price
        uint256 last = tiers.length - 1;
        for (; i < last; ++i) {
            if (scaledFace <= uint256(tiers[i].notionalCap) * price) return i;
        }
    }

    /// @notice Maintenance margin in coin at `price`, rounded up.
    function maintenanceMargin(Tier[] memory tiers, uint256 absSize, uint256 price) internal pure returns (uint256) {
        Tier memory t = tiers[tierOf(tiers, absSize, price)];
        uint256 mm = notional(absSize, price).mulUp(t.mmr);
        return mm > t.maintenanceAmount ? mm - t.maintenanceAmount : 0;
    }

    /// @notice E * P * WAD^3 times (equity - maintenance margin) at `price`, exact. Negative: liquidatable.
    function health(
        Tier[] memory tiers,
        int256 size,
        uint256 entry,
        int256 netMargin,
        uint256 price
    ) internal pure returns (int256) {
        uint256 absSize = WadMath.abs(size);
        Tier memory t = tiers[tierOf(tiers, absSize, price)];
        int256 cushion = netMargin + int256(uint256(t.maintenanceAmount));
        return
            cushion *
            int256(price * entry) +
            size *
            int256(WAD) *
            (int256(price) - int256(entry)) -
            int256(absSize * entry * t.mmr);
    }

    function isLiquidatable(
        Tier[] memory tiers,
        int256 size,
        uint256 entry,
        int256 netMargin,
        uint256 price
    ) internal pure returns (bool) {
        return health(tiers, size, entry, netMargin, price) < 0;
    }

    /// @notice The first mark at which the position is liquidatable (a long's highest, a short's lowest),
    /// solved per tier, keeping the root that falls in its own tier; see the library header for 0 and max.
    function liquidationPrice(
        Tier[] memory tiers,
        int256 size,
        uint256 entry,
        int256 netMargin
    ) internal pure returns (uint256 fallbackPrice) {
        if (size < 0 && isLiquidatable(tiers, size, entry, netMargin, 1)) return 0;
        uint256 absSize = WadMath.abs(size);
        // Far up the price axis the notional tends to 0, in the first tier: no root there means a long
        // liquidatable at every price, or a short at none; by monotonicity that holds everywhere.
        if (_rootInTier(tiers[0], size > 0, absSize, entry, netMargin) == type(uint256).max) {
            return type(uint256).max;
        }
        for (uint256 i; i < tiers.length; ++i) {
            uint256 p = _rootInTier(tiers[i], size > 0, absSize, entry, netMargin);
            if (p != 0 && p != type(uint256).max && tierOf(tiers, absSize, p) == i) return p;
            fallbackPrice = p;
        }
    }

    /// @dev With H(P) = P*A - B, A = (M + amt)*E + s*Q*WAD and B = Q*E*(s*WAD + mmr): a long is
    /// liquidatable iff P*A < B, a short iff P*(-A) > -B (B < 0 for a short since mmr < 1).
    function _rootInTier(
        Tier memory t,
        bool isLong,
        uint256 absSize,
        uint256 entry,
        int256 netMargin
    ) private pure returns (uint256) {
        int256 cushion = (netMargin + int256(uint256(t.maintenanceAmount))) * int256(entry);
        int256 face = int256(absSize * WAD);
        if (isLong) {
            int256 a = cushion + face;
            if (a <= 0) return type(uint256).max; // liquidatable at every price
            uint256 b = absSize * entry * (WAD + t.mmr);
            return (b - 1) / uint256(a); // the largest P with P*A < B
        }
        int256 aShort = cushion - face;
        if (aShort >= 0) return type(uint256).max; // never liquidatable
        uint256 d = absSize * entry * (WAD - t.mmr);
        return d / uint256(-aShort) + 1; // the smallest P with P*(-A) > D
    }

    /// @notice Whether equity (coin) covers the initial margin of the coin notional at `price`.
    function meetsInitialMargin(
        Tier[] memory tiers,
        uint256 absSize,
        uint256 price,
        int256 equity
    ) internal pure returns (bool ok, uint256 leverage, uint256 maxLeverage) {
        maxLeverage = tiers[tierOf(tiers, absSize, price)].maxLeverage;
        if (equity <= 0) return (false, type(uint256).max, maxLeverage);
        leverage = notional(absSize, price).divUp(uint256(equity));
        ok = leverage <= maxLeverage;
    }

    /// @notice Trading fee in coin: rate * |delta| / fill; taker rate when the order grows |skew| (USD
    /// face), maker otherwise. Rounds up.
    function fee(
        int256 skew,
        int256 delta,
        uint256 fill,
        uint256 takerRate,
        uint256 makerRate
    ) internal pure returns (uint256) {
        uint256 rate = WadMath.abs(skew + delta) > WadMath.abs(skew) ? takerRate : makerRate;
        return WadMath.abs(delta).mulUp(rate).divUp(fill);
    }

    /// @notice Entry after adding face `delta` at `fill` to face `size` entered at `entry`: the harmonic
    /// mean weighted by face, (Q1 + Q2) / (Q1/E1 + Q2/E2), exact then rounded against the trader (up for a
    /// long, whose PnL falls as its entry rises; down for a short).
    function averageEntry(int256 size, uint256 entry, int256 delta, uint256 fill) internal pure returns (uint256) {
        uint256 q1 = WadMath.abs(size);
        uint256 q2 = WadMath.abs(delta);
        if (q1 == 0) return fill;
        uint256 num = (q1 + q2) * entry * fill;
        uint256 den = q1 * fill + q2 * entry;
        return delta > 0 ? WadMath.divRoundUp(num, den) : num / den;
    }

    /// @notice The funding index step of one boundary at `rate`: coin per USD of face, rate / mark, rounded
    /// toward positive infinity (longs pay when the rate is positive, so the index never under-charges them;
    /// PositionLib.pendingFunding then rounds each position's share in the protocol's favour).
    function fundingIndexDelta(int256 rate, uint256 mark) internal pure returns (int256) {
        return -WadMath.floorDiv(-rate * WadMath.IWAD, int256(mark));
    }
}
