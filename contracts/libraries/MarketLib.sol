// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {MarkMethod, MarkPrice} from "./MarkPrice.sol";
import {IFundingModel, FundingInputs} from "../interfaces/IFundingModel.sol";
import {IOracle} from "../interfaces/IOracle.sol";
import {WadMath} from "./WadMath.sol";
import {Pricing} from "./Pricing.sol";
import {Ema} from "./Ema.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @notice A market's configuration. Sizes in base units (WAD), USD amounts WAD, rates WAD fractions,
/// times in seconds. Set by the config role; every change is an event.
struct MarketConfig {
    bytes32 symbol;
    uint128 skewScale; // S: the skew at which the perp trades at twice (or zero times) the index
    uint128 maxOpenInterest; // per side, base units
    uint64 takerFee;
    uint64 makerFee;
    uint64 liquidationFeeRate; // keeper reward as a share of the liquidated notional
    uint64 insuranceFeeShare; // share of trading fees that goes to the insurance fund
    uint128 minLiquidationFee; // USD
    uint128 minMargin; // USD
    int64 fundingInterestRate; // I per interval, signed: the side it charges is the long side when positive
    uint64 fundingClamp; // band on (I - premium)
    uint64 fundingCap; // |F| cap per interval
    uint32 fundingInterval;
    uint32 emaHalfLife; // of the basis EMA behind P2
    uint64 markBand; // mark clamped to index * (1 +/- band); 0 = off
    uint64 reserveFactor; // pool assets reserved per unit of the larger side's notional
    // Traders' net profit the pool counts is capped at this share of its ledger; above it, closing profits
    // are paid pro rata and ADL opens.
    uint64 maxPnlFactor;
    uint64 partialLiquidationBuffer; // health buffer a partial remainder keeps; 0 = liquidate in full
    MarkMethod markModel; // the mark-price method (MarkPrice)
    uint96 minPositionNotional; // USD: no position may be opened or increased below this notional at fill
    IFundingModel fundingModel;
    uint64 maxFundingVelocity; // velocity funding only: the most the daily rate moves per day, at full skew
    uint32 oracleGracePeriod; // how long closing may use the last good index when no source is fresh
}

/// @notice A market's running state. Funding is an accumulator (Uniswap's fee-growth pattern):
/// `fundingIndex` is the funding paid per unit of long size since the market opened; a position owes
/// size * (fundingIndex - its snapshot). The premium accumulator integrates (last - index) / index over
/// time since the interval started, for the average premium at the next boundary.
///
/// The pool's side of every open position is kept in O(1) per-side aggregates, exact to the last
/// unit: a sum X of WAD^2 products (size * entry, size * snapshot) is held as X = sum * WAD + remainder
/// with 0 <= remainder < WAD, so adding and removing a position never rounds and the pool's valuation
/// (MarketLib.poolPnl) equals the sum over every open position recomputed exactly, then rounded once.
/// The remainders sit in the slots that every trade already writes.
struct MarketState {
    uint128 longOpenInterest;
    uint128 shortOpenInterest;
    uint128 longEntryNotional; // floor(sum of |size| * entry over longs / WAD); exact with longEntryRemainder
    uint128 shortEntryNotional; // the same over shorts, with shortEntryRemainder
    int128 fundingIndex; // USD per unit of base; held in 112 bits (PerpEngineStorage.StoredState)
    int64 lastFundingRate;
    uint40 lastFundingTime; // the last boundary settled
    int96 premiumCum; // premium * seconds since premiumStart
    int64 lastPremium; // premium at the last sample, held until the next
    uint40 lastSampleTime;
    uint40 premiumStart;
    // Stored as PerpEngineStorage.StoredState: the premium accumulator and the basis EMA share a word.
    int96 emaBasis;
    uint128 uncoveredBadDebt; // bad debt the insurance fund could not pay, absorbed by the pool
    bool paused;
    uint64 longEntryRemainder; // (sum of |size| * entry over longs) mod WAD
    int128 fundingSnapshotSum; // floor(sum of signed size * fundingSnapshot over all positions / WAD)
    uint64 fundingSnapshotRemainder; // (that sum) mod WAD
    uint64 shortEntryRemainder; // (sum of |size| * entry over shorts) mod WAD
}

/// @title MarketLib
/// @notice The market's time-driven state as pure functions of (config, state, index, now): funding
/// boundaries, the premium accumulator and the basis EMA. The engine applies them and writes the
/// result; views apply them to a copy, so both see the same numbers.
library MarketLib {
    using WadMath for uint256;
    using SafeCast for int256;
    using SafeCast for uint256;

    int256 private constant IWAD = WadMath.IWAD;

    function skew(MarketState memory st) internal pure returns (int256) {
        // Unchecked: both sides are below 2^128, so their difference cannot overflow int256.
        unchecked {
            return int256(uint256(st.longOpenInterest)) - int256(uint256(st.shortOpenInterest));
        }
    }

    function lastPrice(MarketConfig memory cfg, MarketState memory st, uint256 index) internal pure returns (uint256) {
        return Pricing.lastPrice(index, skew(st), cfg.skewScale);
    }

    /// @notice The market as a transaction at `nowTs` sees it: `st` advanced to now (`sync`, in place) and
    /// its mark. The engine's liquidations and ADL, PerpLens, the order book's triggers and the pool's
    /// valuation all project a market with it; lib/math's projectMarket mirrors it. The engine's trading
    /// paths `sync` alone: they mark after their trade has moved the skew (`markOf`).
    /// @return intervals The funding boundaries settled on the way (`sync`'s).
    /// @return rate The last one's rate.
    /// @return boundary The last one's timestamp.
    /// @return mark The mark of the synced market.
    function asOfNow(
        MarketConfig memory cfg,
        MarketState memory st,
        uint256 index,
        uint256 nowTs
    ) internal pure returns (uint256 intervals, int256 rate, uint256 boundary, uint256 mark) {
        uint256 last;
        (intervals, rate, boundary, last) = sync(cfg, st, index, nowTs);
        mark = markPrice(cfg, st, index, last, nowTs); // `markOf`: sync moves no open interest
    }

    /// @notice The mark of the market as it stands: its method on the index and the last price its skew
    /// gives, then the band. On a synced market; after a trade, the mark the next check sees.
    function markOf(
        MarketConfig memory cfg,
        MarketState memory st,
        uint256 index,
        uint256 nowTs
    ) internal pure returns (uint256) {
        return markPrice(cfg, st, index, lastPrice(cfg, st, index), nowTs);
    }

    /// @notice The index a view projects a market at: the oracle's fresh index, or its last one when no
    /// source is fresh (`fresh` false; the engine decides by its grace period whether a close may use it).
    function indexOf(IOracle oracle, uint256 marketId) internal view returns (uint256 index, bool fresh) {
        uint256 freshSources;
        (index, freshSources) = oracle.indexPrice(marketId);
        fresh = freshSources != 0;
        if (!fresh) (index, ) = oracle.lastIndexPrice(marketId);
    }

    /// @notice First funding boundary strictly after `time`, boundaries aligned to multiples of the interval.
    function nextBoundary(uint256 time, uint256 interval) internal pure returns (uint256) {
        return (time / interval + 1) * interval;
    }

    /// @notice Advances state to `nowTs`: the basis EMA, every funding boundary passed (missed ones
    /// catch up at the current premium, O(1) however many), and the premium accumulator.
    /// @return intervals Boundaries settled, 0 when none was due.
    /// @return rate F of the last boundary settled.
    /// @return settledTo Its timestamp.
    /// @return last The market's last price (`lastPrice`), which sync reads and leaves as it was.
    function sync(
        MarketConfig memory cfg,
        MarketState memory st,
        uint256 index,
        uint256 nowTs
    ) internal pure returns (uint256 intervals, int256 rate, uint256 settledTo, uint256 last) {
        last = lastPrice(cfg, st, index);
        uint256 dtSample = nowTs - st.lastSampleTime;
        if (dtSample > 0) {
            st.emaBasis = Ema.update(st.emaBasis, int256(last) - int256(index), dtSample, cfg.emaHalfLife).toInt96();
        }
        uint256 boundary = uint256(st.lastFundingTime) + cfg.fundingInterval;
        if (nowTs >= boundary) {
            (intervals, rate, settledTo) = _settleBoundaries(cfg, st, index, last, boundary, nowTs);
        } else {
            st.premiumCum = (st.premiumCum + int256(st.lastPremium) * int256(dtSample)).toInt96();
        }
        st.lastSampleTime = nowTs.toUint40();
    }

    /// @dev `sync`'s funding step, when `boundary` (the first one after the last settled) is at or before
    /// `nowTs`: every boundary passed, the first at the interval's average premium, the missed ones at the
    /// current premium; the premium accumulator restarts at the last. `last`: the market's last price.
    function _settleBoundaries(
        MarketConfig memory cfg,
        MarketState memory st,
        uint256 index,
        uint256 last,
        uint256 boundary,
        uint256 nowTs
    ) private pure returns (uint256 intervals, int256 rate, uint256 settledTo) {
        int256 cum = st.premiumCum + int256(st.lastPremium) * int256(boundary - st.lastSampleTime);
        uint256 elapsed = boundary - st.premiumStart;
        int256 avgPremium = elapsed == 0 ? int256(st.lastPremium) : cum / int256(elapsed);
        uint256 mark = markPrice(cfg, st, index, last, nowTs);
        int256 firstRate = _fundingRate(cfg, avgPremium, st.lastFundingRate);
        intervals = 1 + (nowTs - boundary) / cfg.fundingInterval;
        rate = firstRate;
        int256 growth = firstRate * int256(mark);
        if (intervals > 1) {
            rate = _fundingRate(cfg, st.lastPremium, firstRate);
            growth += rate * int256(mark) * int256(intervals - 1);
        }
        settledTo = boundary + (intervals - 1) * cfg.fundingInterval;
        st.fundingIndex = (st.fundingIndex + growth / WadMath.IWAD).toInt112(); // stored in 112 bits
        st.lastFundingRate = rate.toInt64();
        st.lastFundingTime = settledTo.toUint40();
        st.premiumStart = settledTo.toUint40();
        st.premiumCum = (int256(st.lastPremium) * int256(nowTs - settledTo)).toInt96();
    }

    /// @notice Re-samples the premium after the skew changed (a trade, a liquidation).
    /// @return last The last price it sampled at, for a mark of the market as it now stands (`markPrice`).
    function samplePremium(
        MarketConfig memory cfg,
        MarketState memory st,
        uint256 index
    ) internal pure returns (uint256 last) {
        last = lastPrice(cfg, st, index);
        st.lastPremium = Pricing.premium(last, index).toInt64();
    }

    /// @notice Mark price by the market's method, then the optional band around the index.
    function markPrice(
        MarketConfig memory cfg,
        MarketState memory st,
        uint256 index,
        uint256 last,
        uint256 nowTs
    ) internal pure returns (uint256 mark) {
        uint256 next = uint256(st.lastFundingTime) + cfg.fundingInterval;
        mark = MarkPrice.compute(
            cfg.markModel,
            index,
            last,
            st.emaBasis,
            st.lastFundingRate,
            next > nowTs ? next - nowTs : 0,
            cfg.fundingInterval
        );
        if (cfg.markBand != 0) {
            uint256 lo = index.mulUp(WadMath.WAD - cfg.markBand);
            uint256 hi = index.mulDown(WadMath.WAD + cfg.markBand);
            mark = mark < lo ? lo : (mark > hi ? hi : mark);
        }
    }

    /// @notice The rate the next boundary would settle at if the premium held until then.
    function predictedFundingRate(
        MarketConfig memory cfg,
        MarketState memory st,
        uint256 nowTs
    ) internal pure returns (int256) {
        uint256 boundary = uint256(st.lastFundingTime) + cfg.fundingInterval;
        uint256 until = nowTs < boundary ? nowTs : boundary;
        int256 cum = st.premiumCum + int256(st.lastPremium) * int256(until - st.lastSampleTime);
        uint256 elapsed = until - st.premiumStart;
        return _fundingRate(cfg, elapsed == 0 ? int256(st.lastPremium) : cum / int256(elapsed), st.lastFundingRate);
    }

    /* ------------------------------------------------------------------ POOL AGGREGATES */

    /// @notice Adds a position (`sign` +1) to, or removes it (`sign` -1) from, its side's open size, exact
    /// entry notional and the market's exact size x funding-snapshot sum. Every path that changes a
    /// position's size, entry or snapshot removes the old position and adds the new one.
    /// The amounts come at a position's widths (PositionLib's Position), which bound the products below.
    /// @param size Signed size (long > 0).
    /// @param entry Entry price (WAD).
    /// @param snapshot The position's funding snapshot.
    /// @param sign +1 to add, -1 to remove.
    function aggregate(MarketState memory st, int128 size, uint128 entry, int128 snapshot, int256 sign) internal pure {
        if (size == 0) return;
        uint256 absSize = WadMath.abs(size);
        int256 notional; // WAD^2, exact
        // Unchecked: |size| <= 2^127 and entry < 2^128, so |size| * entry <= 2^255 - 2^127 fits an int256,
        // and so does its negation.
        unchecked {
            notional = int256(absSize * entry);
            if (sign < 0) notional = -notional;
        }
        if (size > 0) {
            st.longOpenInterest = _addSigned(st.longOpenInterest, absSize, sign);
            (int256 sum, uint256 rem) = _accumulate(
                int256(uint256(st.longEntryNotional)),
                st.longEntryRemainder,
                notional
            );
            st.longEntryNotional = sum.toUint256().toUint128();
            st.longEntryRemainder = rem.toUint64(); // < WAD
        } else {
            st.shortOpenInterest = _addSigned(st.shortOpenInterest, absSize, sign);
            (int256 sum, uint256 rem) = _accumulate(
                int256(uint256(st.shortEntryNotional)),
                st.shortEntryRemainder,
                notional
            );
            st.shortEntryNotional = sum.toUint256().toUint128();
            st.shortEntryRemainder = rem.toUint64(); // < WAD
        }
        moveFundingSnapshot(st, size, 0, snapshot, sign);
    }

    /// @notice Moves a position's term in the size x snapshot sum from snapshot `from` to `to` (times
    /// `sign`, +1 or -1): a margin change that realises funding rewrites the snapshot without touching the
    /// size. The amounts come at a position's widths, which bound the product below.
    function moveFundingSnapshot(
        MarketState memory st,
        int128 size,
        int128 from,
        int128 to,
        int256 sign
    ) internal pure {
        int256 term;
        // Unchecked: |to - from| <= 2^128 - 1 and |size| <= 2^127, so |size * (to - from)| <= 2^255 - 2^127
        // fits an int256, and so does its negation.
        unchecked {
            term = int256(size) * (int256(to) - int256(from));
            if (sign < 0) term = -term;
        }
        (int256 sum, uint256 rem) = _accumulate(st.fundingSnapshotSum, st.fundingSnapshotRemainder, term);
        st.fundingSnapshotSum = sum.toInt128();
        st.fundingSnapshotRemainder = rem.toUint64(); // < WAD
    }

    /// @notice Traders' net unrealised PnL at `mark`, sum over every open position of
    /// size * (mark - entry), computed exactly and rounded up once (against the pool's value):
    ///   ceil((mark * (L - S) - (E_L - E_S)) / WAD).
    function tradersPnl(MarketState memory st, uint256 mark) internal pure returns (int256) {
        int256 exact = int256(mark) * skew(st) - _entrySum(st, true) + _entrySum(st, false);
        return WadMath.ceilDiv(exact, IWAD);
    }

    /// @notice Unrealised PnL of one side at `mark`, exact and rounded down (for the ADL side test).
    function sidePnl(MarketState memory st, uint256 mark, bool isLong) internal pure returns (int256) {
        int256 atMark = int256(uint256(isLong ? st.longOpenInterest : st.shortOpenInterest) * mark);
        int256 exact = isLong ? atMark - _entrySum(st, true) : _entrySum(st, false) - atMark;
        return WadMath.floorDiv(exact, IWAD);
    }

    /// @notice Net funding the traders owe and have not paid (negative: owed to them), sum over every
    /// open position of size * (fundingIndex - snapshot), exact and rounded down once:
    ///   floor((fundingIndex * (L - S) - sum(size * snapshot)) / WAD).
    function tradersFundingOwed(MarketState memory st) internal pure returns (int256) {
        int256 snapshots = int256(st.fundingSnapshotSum) * IWAD + int256(uint256(st.fundingSnapshotRemainder));
        return WadMath.floorDiv(int256(st.fundingIndex) * skew(st) - snapshots, IWAD);
    }

    /// @notice The ADL test: the market carries uncovered bad debt, or its traders' net unrealised profit at
    /// `mark` is above the profit the pool counts (`maxPnlFactor` x its assets `poolAssets`).
    function adlActive(
        MarketState memory st,
        uint256 mark,
        uint256 poolAssets,
        uint256 maxPnlFactor
    ) internal pure returns (bool) {
        if (st.uncoveredBadDebt != 0) return true;
        int256 pnl = tradersPnl(st, mark);
        return pnl > 0 && uint256(pnl) > poolAssets.mulDown(maxPnlFactor);
    }

    /// @notice The traders' PnL the pool counts against itself: all of a loss, a profit only up to
    /// `maxPnlFactor` x the pool's ledger (GMX v2's PnL factor).
    function cappedTradersPnl(int256 pnl, uint256 ledger, uint256 maxPnlFactor) internal pure returns (int256) {
        if (pnl <= 0) return pnl;
        uint256 cap = ledger.mulDown(maxPnlFactor);
        return uint256(pnl) > cap ? int256(cap) : pnl;
    }

    /// @notice A realised profit as paid while the traders' net unrealised PnL `traderPnl` (the closing
    /// position still in it) is above `cap` (maxPnlFactor x the pool's ledger): pro rata, profit x cap /
    /// traders' PnL, rounded down; a loss, or any profit under the cap, in full. The rule of a trader's
    /// close and of ADL (SPEC 9.1).
    function payableProfit(int256 realized, int256 traderPnl, uint256 cap) internal pure returns (int256) {
        if (realized <= 0 || traderPnl <= 0 || uint256(traderPnl) <= cap) return realized;
        return (realized * int256(cap)) / traderPnl; // cap < traderPnl < 2^255
    }

    /// @dev `x` + `amount` (`sign` +1) or - `amount` (-1), checked: below zero reverts (arithmetic underflow)
    /// and above uint128 SafeCast's overflow.
    function _addSigned(uint128 x, uint256 amount, int256 sign) private pure returns (uint128) {
        return (sign > 0 ? x + amount : x - amount).toUint128();
    }

    /// @dev (sum * WAD + rem) + delta, split again into floor and remainder: exact, never rounds.
    /// Unchecked, and no overflow goes unseen: every caller passes a 128-bit `sum` and a 64-bit `rem`, so
    /// |sum * WAD + rem| < 2^189 cannot overflow; adding `delta` can only when the exact total is beyond
    /// +/-(2^255 - 2^189), and then the wrapped total is still beyond +/-2^254, so `q` is beyond 2^194 and
    /// the caller's narrowing of it to 128 bits (SafeCast) reverts, as the checked sum would have.
    function _accumulate(int256 sum, uint256 rem, int256 delta) private pure returns (int256 q, uint256 r) {
        int256 total;
        unchecked {
            total = sum * IWAD + int256(rem) + delta;
        }
        (q, r) = WadMath.floorDivMod(total, IWAD);
    }

    /// @dev Exact sum of |size| * entry over one side, WAD^2.
    /// Unchecked: a 128-bit notional times WAD plus a 64-bit remainder is below 2^189.
    function _entrySum(MarketState memory st, bool isLong) private pure returns (int256) {
        unchecked {
            return
                isLong
                    ? int256(uint256(st.longEntryNotional)) * IWAD + int256(uint256(st.longEntryRemainder))
                    : int256(uint256(st.shortEntryNotional)) * IWAD + int256(uint256(st.shortEntryRemainder));
        }
    }

    /// @dev `lastRate` is the rate of the boundary before: a model that drifts (velocity) moves from it.
    function _fundingRate(MarketConfig memory cfg, int256 avgPremium, int256 lastRate) private pure returns (int256) {
        return
            cfg.fundingModel.fundingRate(
                FundingInputs({
                    avgPremium: avgPremium,
                    interestRate: cfg.fundingInterestRate,
                    clampRate: int256(uint256(cfg.fundingClamp)),
                    cap: int256(uint256(cfg.fundingCap)),
                    lastRate: lastRate,
                    interval: cfg.fundingInterval,
                    maxVelocity: cfg.maxFundingVelocity
                })
            );
    }
}
