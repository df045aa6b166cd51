// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {WadMath} from "./WadMath.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @notice One maintenance bracket. A tier holds notional n when tiers[i-1].notionalCap < n <= notionalCap.
/// MM(n) = n * mmr - maintenanceAmount; the amounts are derived (never configured) so that MM is
/// continuous across tiers. All fields WAD: USD for cap and amount, rates and leverage as multipliers.
struct Tier {
    uint128 notionalCap;
    uint128 maintenanceAmount;
    uint128 mmr;
    uint128 maxLeverage;
}

/// @title MarginMath
/// @notice Isolated-margin health, maintenance brackets and liquidation prices (SPEC section 5).
/// The liquidation check is exact: with M the margin net of pending funding (WAD USD), size signed
/// (long > 0) and p the mark,
///   H(p) = M*WAD^2 + size*(p - entry)*WAD - |size|*p*mmr + amt*WAD^2
/// is WAD^3 times (equity - MM) with no rounding, and a position is liquidatable iff H(p) < 0.
/// H is continuous and monotone in p, so the liquidation price is the exact integer boundary of this
/// predicate: the view and the on-chain check agree to the last unit of price.
library MarginMath {
    using WadMath for uint256;

    uint256 private constant WAD = WadMath.WAD;
    int256 private constant WAD2 = 1e36;

    /// @notice Index of the tier that holds the notional |size| * price (exact), clamped to the last tier.
    function tierOf(Tier[] memory tiers, uint256 absSize, uint256 price) internal pure returns (uint256 i) {
        uint256 scaledNotional = absSize * price; // notional * WAD, exact
        uint256 last = tiers.length - 1;
        for (; i < last; ++i) {
            if (scaledNotional <= uint256(tiers[i].notionalCap) * WAD) return i;
        }
    }

    /// @notice Whether a notional (WAD USD) is above the last tier's cap.
    function aboveMaxTier(Tier[] memory tiers, uint256 notional) internal pure returns (bool) {
        return notional > tiers[tiers.length - 1].notionalCap;
    }

    /// @notice Maintenance margin of a notional (WAD USD), rounded up.
    function maintenanceMargin(Tier[] memory tiers, uint256 absSize, uint256 price) internal pure returns (uint256) {
        Tier memory t = tiers[tierOf(tiers, absSize, price)];
        uint256 mm = absSize.mulUp(price).mulUp(t.mmr);
        return mm > t.maintenanceAmount ? mm - t.maintenanceAmount : 0;
    }

    /// @notice WAD^3 * (equity - maintenance margin) at `price`, exact. Negative means liquidatable.
    function health(
        Tier[] memory tiers,
        int256 size,
        uint256 entry,
        int256 netMargin,
        uint256 price
    ) internal pure returns (int256) {
        uint256 absSize = WadMath.abs(size);
        Tier memory t = tiers[tierOf(tiers, absSize, price)];
        return
            netMargin *
            WAD2 +
            size *
            (int256(price) - int256(entry)) *
            int256(WAD) -
            int256(absSize * price * t.mmr) +
            int256(uint256(t.maintenanceAmount)) *
            WAD2;
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

    /// @notice The first mark at which the position is liquidatable: for a long the highest such price,
    /// for a short the lowest. 0 for a long whose margin covers a fall to zero (never liquidatable) and
    /// for a short under water at any price (liquidatable at every mark): in both cases "mark <= 0" for
    /// a long and "mark >= 0" for a short keep meaning "liquidatable".
    function liquidationPrice(
        Tier[] memory tiers,
        int256 size,
        uint256 entry,
        int256 netMargin
    ) internal pure returns (uint256 fallbackPrice) {
        if (size < 0 && isLiquidatable(tiers, size, entry, netMargin, 1)) return 0;
        uint256 absSize = WadMath.abs(size);
        for (uint256 i; i < tiers.length; ++i) {
            uint256 p = _rootInTier(tiers[i], size > 0, absSize, entry, netMargin);
            if (p != 0 && tierOf(tiers, absSize, p) == i) return p;
            fallbackPrice = p;
        }
    }

    /// @dev The integer boundary of H(p) < 0 using tier `t`'s mmr and amount (see the library header).
    function _rootInTier(
        Tier memory t,
        bool isLong,
        uint256 absSize,
        uint256 entry,
        int256 netMargin
    ) private pure returns (uint256) {
        int256 cushion = (netMargin + int256(uint256(t.maintenanceAmount))) * WAD2;
        int256 entryTerm = int256(absSize * entry * WAD);
        if (isLong) {
            int256 num = entryTerm - cushion;
            if (num <= 0) return 0;
            uint256 den = absSize * (WAD - t.mmr);
            uint256 q = uint256(num) / den;
            return uint256(num) % den == 0 ? q - 1 : q;
        }
        int256 numShort = entryTerm + cushion;
        if (numShort <= 0) return 0;
        return uint256(numShort) / (absSize * (WAD + t.mmr)) + 1;
    }

    /// @notice Whether equity covers the initial margin of the notional: equity * maxLeverage >= notional.
    function meetsInitialMargin(
        Tier[] memory tiers,
        uint256 absSize,
        uint256 price,
        int256 equity
    ) internal pure returns (bool ok, uint256 leverage, uint256 maxLeverage) {
        maxLeverage = tiers[tierOf(tiers, absSize, price)].maxLeverage;
        uint256 notional = absSize.mulUp(price);
        if (equity <= 0) return (false, type(uint256).max, maxLeverage);
        leverage = notional.divUp(uint256(equity));
        ok = leverage <= maxLeverage;
    }

    /// @notice Largest notional that stays healthy with a buffer after closing the rest at `feeRate`:
    /// (E - f * (N - n)) >= (1 + b) * MM(n). Returns 0 when no partial remainder is healthy.
    function partialRemainder(
        Tier[] memory tiers,
        uint256 notional,
        int256 equity,
        uint256 feeRate,
        uint256 buffer
    ) internal pure returns (uint256) {
        for (uint256 i = tiers.length; i > 0; --i) {
            Tier memory t = tiers[i - 1];
            uint256 scaledMmr = uint256(t.mmr).mulUp(WAD + buffer);
            if (scaledMmr <= feeRate) continue;
            int256 rhs = equity -
                int256(feeRate.mulUp(notional)) +
                int256(uint256(t.maintenanceAmount).mulDown(WAD + buffer));
            if (rhs <= 0) continue;
            uint256 n = WadMath.min(uint256(rhs).divDown(scaledMmr - feeRate), t.notionalCap);
            uint256 floorCap = i > 1 ? tiers[i - 2].notionalCap : 0;
            if (n > floorCap && n < notional) return n;
        }
        return 0;
    }

    /// @notice Derives continuous maintenance amounts: amt_i = amt_{i-1} + cap_{i-1} * (mmr_i - mmr_{i-1}).
    function deriveMaintenanceAmounts(Tier[] memory tiers) internal pure {
        tiers[0].maintenanceAmount = 0;
        for (uint256 i = 1; i < tiers.length; ++i) {
            tiers[i].maintenanceAmount = SafeCast.toUint128(
                tiers[i - 1].maintenanceAmount +
                    uint256(tiers[i - 1].notionalCap).mulDown(tiers[i].mmr - tiers[i - 1].mmr)
            );
        }
    }
}
