// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {WadMath} from "./WadMath.sol";
import {Tier} from "./MarginMath.sol";

/// @title InverseMath
/// @notice Coin-margined (inverse) positions (SPEC section 9.2). A position's signed `size` is its face
/// in USD (WAD): contracts x face value, positive long. Prices are USD per coin (WAD); margin, PnL, fees,
/// funding, maintenance amounts and tier caps are in the coin (WAD). With Q = |size| and s its sign:
///   PnL(P) = s*Q*(1/E - 1/P),  notional(P) = Q/P,  MM(P) = (Q/P)*mmr - amt.
///
/// A position carries its cost, not its entry price (BitMEX's cost basis): `cost` = Q/E in coin, the sum
/// of each fill's Q_i/P_i rounded against the trader. Adding face adds its cost, so the entry Q/cost is
/// the harmonic mean of the fills with no averaging step; and a side's PnL, s*(sum of costs - sum of
/// faces / P), is one fraction over P: the pool's per-side aggregates (sum of faces, sum of costs) value
/// every open position exactly, rounded once, as MarketLib does for linear markets.
///
/// The liquidation check is exact: multiplying equity - MM by the positive P gives
///   H(P) = (M + amt + s*cost)*P - Q*(s*WAD + mmr),
/// linear in P with no rounding, liquidatable iff H(P) < 0; equity - MM is monotone in P, so the
/// liquidation price is the exact integer boundary of the predicate, solved per tier as in MarginMath.
///
/// Liquidation prices keep the linear convention "a long is liquidatable iff mark <= price, a short iff
/// mark >= price": 0 when a long never is (or a short always is), type(uint256).max when a short never
/// is (a 1x short: a synthetic dollar) or a long always is.
library InverseMath {
    using WadMath for uint256;

    uint256 private constant WAD = WadMath.WAD;
    int256 private constant IWAD = WadMath.IWAD;

    /// @notice Cost in coin of signed face `size` filled at `price`, Q/P, rounded against the trader: down
    /// for a long (whose PnL is cost - Q/P), up for a short (Q/P - cost).
    function cost(int256 size, uint256 price) internal pure returns (uint256) {
        uint256 absSize = WadMath.abs(size);
        return size > 0 ? absSize.divDown(price) : absSize.divUp(price);
    }

    /// @notice PnL in coin of signed face `size` of cost `positionCost`, valued at `price`: s*(cost - Q/P),
    /// the Q/P term rounded against the trader.
    function pnl(int256 size, uint256 positionCost, uint256 price) internal pure returns (int256) {
        uint256 absSize = WadMath.abs(size);
        return
            size > 0
                ? int256(positionCost) - int256(absSize.divUp(price))
                : int256(absSize.divDown(price)) - int256(positionCost);
    }

    /// @notice The entry price Q/cost (USD per coin): the harmonic mean of the fills, weighted by face.
    function entryPrice(uint256 absSize, uint256 positionCost) internal pure returns (uint256) {
        return positionCost == 0 ? 0 : absSize.divDown(positionCost);
    }

    /// @notice The cost that leaves with `closed` face of signed `size`: cost * closed / Q, rounded against
    /// the trader's realised PnL (down for a long, up for a short); the rest stays with the position, so the
    /// two parts always add up to the whole.
    function closedCost(int256 size, uint256 positionCost, uint256 closed) internal pure returns (uint256) {
        uint256 absSize = WadMath.abs(size);
        uint256 product = positionCost * closed;
        return size > 0 ? product / absSize : WadMath.divRoundUp(product, absSize);
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

    /// @notice P times (equity - maintenance margin) at `price`, in WAD^2, exact. Negative: liquidatable.
    function health(
        Tier[] memory tiers,
        int256 size,
        uint256 positionCost,
        int256 netMargin,
        uint256 price
    ) internal pure returns (int256) {
        uint256 absSize = WadMath.abs(size);
        Tier memory t = tiers[tierOf(tiers, absSize, price)];
        (int256 a, int256 b) = _line(t, size, positionCost, netMargin);
        return a * int256(price) - b;
    }

    function isLiquidatable(
        Tier[] memory tiers,
        int256 size,
        uint256 positionCost,
        int256 netMargin,
        uint256 price
    ) internal pure returns (bool) {
        return health(tiers, size, positionCost, netMargin, price) < 0;
    }

    /// @notice The first mark at which the position is liquidatable (a long's highest, a short's lowest),
    /// solved per tier, keeping the root that falls in its own tier; see the library header for 0 and max.
    function liquidationPrice(
        Tier[] memory tiers,
        int256 size,
        uint256 positionCost,
        int256 netMargin
    ) internal pure returns (uint256 fallbackPrice) {
        if (size < 0 && isLiquidatable(tiers, size, positionCost, netMargin, 1)) return 0;
        uint256 absSize = WadMath.abs(size);
        // Far up the price axis the notional tends to 0, in the first tier: no root there means a long
        // liquidatable at every price, or a short at none; by monotonicity that holds everywhere.
        if (_rootInTier(tiers[0], size, positionCost, netMargin) == type(uint256).max) return type(uint256).max;
        for (uint256 i; i < tiers.length; ++i) {
            uint256 p = _rootInTier(tiers[i], size, positionCost, netMargin);
            if (p != 0 && p != type(uint256).max && tierOf(tiers, absSize, p) == i) return p;
            fallbackPrice = p;
        }
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

    /// @notice The funding index step of one boundary at `rate`: coin per USD of face, rate / mark, rounded
    /// toward positive infinity (longs pay when the rate is positive, so the index never under-charges them;
    /// PositionLib.pendingFunding then rounds each position's share in the protocol's favour).
    function fundingIndexDelta(int256 rate, uint256 mark) internal pure returns (int256) {
        return -WadMath.floorDiv(-rate * IWAD, int256(mark));
    }

    /// @notice The traders' net unrealised PnL in coin at `mark` from the per-side aggregates (sums of face
    /// and of cost): the exact sum over every open position of s*(cost - Q/mark), rounded up once (against
    /// the pool's value), ceil(((C_L - C_S)*mark - (Q_L - Q_S)*WAD) / mark).
    function tradersPnl(
        uint256 longFace,
        uint256 longCost,
        uint256 shortFace,
        uint256 shortCost,
        uint256 mark
    ) internal pure returns (int256) {
        int256 exact = (int256(longCost) - int256(shortCost)) *
            int256(mark) -
            (int256(longFace) - int256(shortFace)) *
            IWAD;
        return -WadMath.floorDiv(-exact, int256(mark));
    }

    /// @notice One side's unrealised PnL in coin at `mark`, exact and rounded down (for the ADL side test).
    function sidePnl(uint256 face, uint256 sideCost, uint256 mark, bool isLong) internal pure returns (int256) {
        int256 exact = int256(sideCost) * int256(mark) - int256(face) * IWAD;
        return WadMath.floorDiv(isLong ? exact : -exact, int256(mark));
    }

    /// @dev H(P) = A*P - B with A = M + amt + s*cost (coin) and B = Q*(s*WAD + mmr), for tier `t`.
    function _line(
        Tier memory t,
        int256 size,
        uint256 positionCost,
        int256 netMargin
    ) private pure returns (int256 a, int256 b) {
        int256 signedCost = size > 0 ? int256(positionCost) : -int256(positionCost);
        a = netMargin + int256(uint256(t.maintenanceAmount)) + signedCost;
        b = int256(WadMath.abs(size)) * ((size > 0 ? IWAD : -IWAD) + int256(uint256(t.mmr)));
    }

    /// @dev A long is liquidatable iff P*A < B (B > 0): none above (B - 1)/A, every P if A <= 0. A short iff
    /// P*(-A) > -B (-B > 0 since mmr < 1): the smallest such P is -B/(-A) + 1, none if A >= 0.
    function _rootInTier(
        Tier memory t,
        int256 size,
        uint256 positionCost,
        int256 netMargin
    ) private pure returns (uint256) {
        (int256 a, int256 b) = _line(t, size, positionCost, netMargin);
        if (size > 0) return a <= 0 ? type(uint256).max : uint256(b - 1) / uint256(a);
        return a >= 0 ? type(uint256).max : uint256(-b) / uint256(-a) + 1;
    }
}
