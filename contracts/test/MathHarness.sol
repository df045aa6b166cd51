// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {WadMath} from "../libraries/WadMath.sol";
import {Pricing} from "../libraries/Pricing.sol";
import {Ema} from "../libraries/Ema.sol";
import {MarginMath, Tier} from "../libraries/MarginMath.sol";
import {MarketLib, MarketConfig, MarketState} from "../libraries/MarketLib.sol";
import {MarkMethod, MarkPrice} from "../libraries/MarkPrice.sol";
import {DecimalFloat} from "../libraries/DecimalFloat.sol";
import {Position, PositionLib} from "../libraries/PositionLib.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @notice MarkPrice.compute's inputs as one argument, as the vectors and lib/math's MarkInputs give them.
struct MarkInputs {
    uint256 index;
    uint256 lastPrice;
    int256 emaBasis;
    int256 lastFundingRate;
    uint256 timeToNextFunding;
    uint256 fundingInterval;
}

/// @notice What MarketLib.sync returns, as one value for the vectors and lib/math's FundingResult:
/// `intervals` boundaries settled (0 when none was due), `rate` the F of the last one, `boundary` its
/// timestamp, and `last` the market's last price, which sync reads and leaves as it was.
struct FundingResult {
    uint256 intervals;
    int256 rate;
    uint256 boundary;
    uint256 last;
}

/// @title MathHarness
/// @notice Test only: the math libraries as external functions, so the shared test vectors
/// (test/vectors/) are evaluated by the contracts themselves and compared with lib/math.ts.
/// Names are the libraries' own, except where two libraries share one (`marketLastPrice`,
/// `marketSkew`, `positionId`). MarketLib's mark and funding calls go to the strategy contracts named in
/// the config, whose interfaces are pure.
contract MathHarness {
    /* ------------------------------------------------------------------ WadMath */

    function mulDown(uint256 a, uint256 b) external pure returns (uint256) {
        return WadMath.mulDown(a, b);
    }

    function mulUp(uint256 a, uint256 b) external pure returns (uint256) {
        return WadMath.mulUp(a, b);
    }

    function divDown(uint256 a, uint256 b) external pure returns (uint256) {
        return WadMath.divDown(a, b);
    }

    function divUp(uint256 a, uint256 b) external pure returns (uint256) {
        return WadMath.divUp(a, b);
    }

    function divRoundUp(uint256 a, uint256 b) external pure returns (uint256) {
        return WadMath.divRoundUp(a, b);
    }

    function mulDownSigned(int256 a, uint256 b) external pure returns (int256) {
        return WadMath.mulDownSigned(a, b);
    }

    function mulUpSigned(int256 a, uint256 b) external pure returns (int256) {
        return WadMath.mulUpSigned(a, b);
    }

    function floorDiv(int256 a, int256 b) external pure returns (int256) {
        return WadMath.floorDiv(a, b);
    }

    function ceilDiv(int256 a, int256 b) external pure returns (int256) {
        return WadMath.ceilDiv(a, b);
    }

    function clamp(int256 x, int256 lo, int256 hi) external pure returns (int256) {
        return WadMath.clamp(x, lo, hi);
    }

    function median3(uint256 a, uint256 b, uint256 c) external pure returns (uint256) {
        return WadMath.median3(a, b, c);
    }

    /* ------------------------------------------------------------------ Pricing */

    function lastPrice(uint256 index, int256 skew, uint256 skewScale) external pure returns (uint256) {
        return Pricing.lastPrice(index, skew, skewScale);
    }

    function fillPrice(uint256 index, int256 skew, int256 delta, uint256 skewScale) external pure returns (uint256) {
        return Pricing.fillPrice(index, skew, delta, skewScale);
    }

    function premium(uint256 last, uint256 index) external pure returns (int256) {
        return Pricing.premium(last, index);
    }

    function fee(
        int256 skew,
        int256 delta,
        uint256 fill,
        uint256 takerRate,
        uint256 makerRate
    ) external pure returns (uint256) {
        return Pricing.fee(skew, delta, fill, takerRate, makerRate);
    }

    /* ------------------------------------------------------------------ Ema */

    function decay(uint256 dt, uint256 halfLife) external pure returns (uint256) {
        return Ema.decay(dt, halfLife);
    }

    function update(int256 ema, int256 sample, uint256 dt, uint256 halfLife) external pure returns (int256) {
        return Ema.update(ema, sample, dt, halfLife);
    }

    /* ------------------------------------------------------------------ MarginMath */

    function tierOf(Tier[] memory tiers, uint256 absSize, uint256 price) external pure returns (uint256) {
        return MarginMath.tierOf(tiers, absSize, price);
    }

    function aboveMaxTier(Tier[] memory tiers, uint256 notional) external pure returns (bool) {
        return MarginMath.aboveMaxTier(tiers, notional);
    }

    function maintenanceMargin(Tier[] memory tiers, uint256 absSize, uint256 price) external pure returns (uint256) {
        return MarginMath.maintenanceMargin(tiers, absSize, price);
    }

    function health(
        Tier[] memory tiers,
        int256 size,
        uint256 entry,
        int256 margin,
        uint256 price
    ) external pure returns (int256) {
        return MarginMath.health(tiers, size, entry, margin, price);
    }

    function isLiquidatable(
        Tier[] memory tiers,
        int256 size,
        uint256 entry,
        int256 margin,
        uint256 price
    ) external pure returns (bool) {
        return MarginMath.isLiquidatable(tiers, size, entry, margin, price);
    }

    function liquidationPrice(
        Tier[] memory tiers,
        int256 size,
        uint256 entry,
        int256 margin
    ) external pure returns (uint256) {
        return MarginMath.liquidationPrice(tiers, size, entry, margin);
    }

    function meetsInitialMargin(
        Tier[] memory tiers,
        uint256 absSize,
        uint256 price,
        int256 equity
    ) external pure returns (bool ok, uint256 leverage, uint256 maxLeverage) {
        return MarginMath.meetsInitialMargin(tiers, absSize, price, equity);
    }

    function partialRemainder(
        Tier[] memory tiers,
        uint256 notional,
        int256 equity,
        uint256 feeRate,
        uint256 buffer
    ) external pure returns (uint256) {
        return MarginMath.partialRemainder(tiers, notional, equity, feeRate, buffer);
    }

    function deriveMaintenanceAmounts(Tier[] memory tiers) external pure returns (Tier[] memory) {
        MarginMath.deriveMaintenanceAmounts(tiers);
        return tiers;
    }

    /* ------------------------------------------------------------------ PositionLib */

    function positionId(address owner, uint256 marketId) external pure returns (uint256) {
        return PositionLib.id(owner, marketId);
    }

    function pendingFunding(int256 size, int256 snapshot, int256 fundingIndex) external pure returns (int256) {
        return
            PositionLib.pendingFunding(
                SafeCast.toInt128(size),
                SafeCast.toInt128(snapshot),
                SafeCast.toInt128(fundingIndex)
            );
    }

    function pnl(int256 size, uint256 entry, uint256 price) external pure returns (int256) {
        return PositionLib.pnl(size, entry, price);
    }

    function netMargin(Position memory p, int256 fundingIndex) external pure returns (int256) {
        return PositionLib.netMargin(p, SafeCast.toInt128(fundingIndex));
    }

    function positionUpdate(
        Position memory p,
        int128 fundingIndex,
        int256 marginDelta,
        bool long
    ) external pure returns (Position memory, int256 owed, int256 margin) {
        (owed, margin) = PositionLib.update(p, fundingIndex, marginDelta, long);
        return (p, owed, margin);
    }

    /* ------------------------------------------------------------------ DecimalFloat */

    /// @dev An entry rounded to its grid, and its code decoded back (the stored value).
    function entryRound(uint256 v, bool up) external pure returns (uint256 rounded, uint256 stored) {
        rounded = DecimalFloat.round(v, DecimalFloat.ENTRY_MANTISSA, up);
        stored = DecimalFloat.decode(
            DecimalFloat.encode(rounded, DecimalFloat.ENTRY_MANTISSA),
            DecimalFloat.ENTRY_MANTISSA
        );
    }

    /// @dev A snapshot rounded to its grid, and its code decoded back (the stored value).
    function snapshotRound(int256 v, bool up) external pure returns (int256 rounded, int256 stored) {
        rounded = DecimalFloat.roundSigned(v, up);
        stored = DecimalFloat.decodeSigned(DecimalFloat.encodeSigned(rounded));
    }

    /* ------------------------------------------------------------------ MarketLib */

    function marketSkew(MarketState memory st) external pure returns (int256) {
        return MarketLib.skew(st);
    }

    function marketLastPrice(
        MarketConfig memory cfg,
        MarketState memory st,
        uint256 index
    ) external pure returns (uint256) {
        return MarketLib.lastPrice(cfg, st, index);
    }

    function nextBoundary(uint256 time, uint256 interval) external pure returns (uint256) {
        return MarketLib.nextBoundary(time, interval);
    }

    /// @notice The synced state and the funding result.
    function sync(
        MarketConfig memory cfg,
        MarketState memory st,
        uint256 index,
        uint256 nowTs
    ) external pure returns (MarketState memory, FundingResult memory r) {
        (r.intervals, r.rate, r.boundary, r.last) = MarketLib.sync(cfg, st, index, nowTs);
        return (st, r);
    }

    function asOfNow(
        MarketConfig memory cfg,
        MarketState memory st,
        uint256 index,
        uint256 nowTs
    ) external pure returns (MarketState memory, FundingResult memory r, uint256 mark) {
        (r.intervals, r.rate, r.boundary, mark) = MarketLib.asOfNow(cfg, st, index, nowTs);
        r.last = MarketLib.lastPrice(cfg, st, index); // sync's, left as it was
        return (st, r, mark);
    }

    /// @notice The state with the premium re-sampled.
    function samplePremium(
        MarketConfig memory cfg,
        MarketState memory st,
        uint256 index
    ) external pure returns (MarketState memory) {
        MarketLib.samplePremium(cfg, st, index);
        return st;
    }

    function markPriceOf(MarkMethod method, MarkInputs memory m) external pure returns (uint256) {
        return
            MarkPrice.compute(
                method,
                m.index,
                m.lastPrice,
                m.emaBasis,
                m.lastFundingRate,
                m.timeToNextFunding,
                m.fundingInterval
            );
    }

    function markPrice(
        MarketConfig memory cfg,
        MarketState memory st,
        uint256 index,
        uint256 last,
        uint256 nowTs
    ) external pure returns (uint256) {
        return MarketLib.markPrice(cfg, st, index, last, nowTs);
    }

    function predictedFundingRate(
        MarketConfig memory cfg,
        MarketState memory st,
        uint256 nowTs
    ) external pure returns (int256) {
        return MarketLib.predictedFundingRate(cfg, st, nowTs);
    }

    /// @notice The state with a position added to (sign 1) or removed from (sign -1) the aggregates.
    function aggregate(
        MarketState memory st,
        int256 size,
        uint256 entry,
        int256 snapshot,
        int256 sign
    ) external pure returns (MarketState memory) {
        // The library takes a position's widths.
        MarketLib.aggregate(st, SafeCast.toInt128(size), SafeCast.toUint128(entry), SafeCast.toInt128(snapshot), sign);
        return st;
    }

    /// @notice The state with a position's snapshot term moved from `from` to `to`.
    function moveFundingSnapshot(
        MarketState memory st,
        int256 size,
        int256 from,
        int256 to,
        int256 sign
    ) external pure returns (MarketState memory) {
        MarketLib.moveFundingSnapshot(
            st,
            SafeCast.toInt128(size),
            SafeCast.toInt128(from),
            SafeCast.toInt128(to),
            sign
        );
        return st;
    }

    function tradersPnl(MarketState memory st, uint256 mark) external pure returns (int256) {
        return MarketLib.tradersPnl(st, mark);
    }

    function sidePnl(MarketState memory st, uint256 mark, bool isLong) external pure returns (int256) {
        return MarketLib.sidePnl(st, mark, isLong);
    }

    function tradersFundingOwed(MarketState memory st) external pure returns (int256) {
        return MarketLib.tradersFundingOwed(st);
    }

    function adlActive(
        MarketState memory st,
        uint256 mark,
        uint256 poolAssets,
        uint256 maxPnlFactor
    ) external pure returns (bool) {
        return MarketLib.adlActive(st, mark, poolAssets, maxPnlFactor);
    }

    function cappedTradersPnl(int256 traderPnl, uint256 ledger, uint256 maxPnlFactor) external pure returns (int256) {
        return MarketLib.cappedTradersPnl(traderPnl, ledger, maxPnlFactor);
    }

    function payableProfit(int256 realized, int256 traderPnl, uint256 cap) external pure returns (int256) {
        return MarketLib.payableProfit(realized, traderPnl, cap);
    }
}
