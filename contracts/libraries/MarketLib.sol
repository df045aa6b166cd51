// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IMarkPriceModel, MarkInputs} from "../interfaces/IMarkPriceModel.sol";
import {IFundingModel, FundingInputs} from "../interfaces/IFundingModel.sol";
import {WadMath} from "./WadMath.sol";
import {Pricing} from "./Pricing.sol";
import {Ema} from "./Ema.sol";

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
    uint64 fundingInterestRate; // I per interval
    uint64 fundingClamp; // band on (I - premium)
    uint64 fundingCap; // |F| cap per interval
    uint32 fundingInterval;
    uint32 emaHalfLife; // of the basis EMA behind P2
    uint64 markBand; // mark clamped to index * (1 +/- band); 0 = off
    uint64 reserveFactor; // pool assets reserved per unit of the larger side's notional
    uint64 adlProfitShare; // ADL opens when traders' unrealised profit exceeds this share of the pool
    uint64 partialLiquidationBuffer; // health buffer a partial remainder keeps; 0 = liquidate in full
    uint32 oracleGracePeriod; // how long closing may use the last good index when no source is fresh
    IMarkPriceModel markModel;
    IFundingModel fundingModel;
    uint64 maxFundingVelocity; // velocity funding only: the most the daily rate moves per day, at full skew
}

/// @notice A market's running state. Funding is an accumulator (Uniswap's fee-growth pattern):
/// `fundingIndex` is the funding paid per unit of long size since the market opened; a position owes
/// size * (fundingIndex - its snapshot). The premium accumulator integrates (last - index) / index over
/// time since the interval started, for the average premium at the next boundary.
struct MarketState {
    uint128 longOpenInterest;
    uint128 shortOpenInterest;
    uint128 longEntryNotional; // sum of size * entry over longs, for aggregate PnL views
    uint128 shortEntryNotional;
    int128 fundingIndex; // USD per unit of base
    int64 lastFundingRate;
    uint40 lastFundingTime; // the last boundary settled
    int96 premiumCum; // premium * seconds since premiumStart
    int64 lastPremium; // premium at the last sample, held until the next
    uint40 lastSampleTime;
    uint40 premiumStart;
    int128 emaBasis;
    uint128 lastIndex; // the fresh index the market last traded on (the pool values its reserve at it)
    uint40 lastIndexTime; // when
    uint128 uncoveredBadDebt; // bad debt the insurance fund could not pay, absorbed by the pool
    bool paused;
}

/// @title MarketLib
/// @notice The market's time-driven state as pure functions of (config, state, index, now): funding
/// boundaries, the premium accumulator and the basis EMA. The engine applies them and writes the
/// result; views apply them to a copy, so both see the same numbers.
library MarketLib {
    using WadMath for uint256;

    struct FundingResult {
        uint256 intervals; // boundaries settled, 0 when none was due
        int256 rate; // F of the last boundary settled
        uint256 boundary; // its timestamp
    }

    function skew(MarketState memory st) internal pure returns (int256) {
        return int256(uint256(st.longOpenInterest)) - int256(uint256(st.shortOpenInterest));
    }

    function lastPrice(MarketConfig memory cfg, MarketState memory st, uint256 index) internal pure returns (uint256) {
        return Pricing.lastPrice(index, skew(st), cfg.skewScale);
    }

    /// @notice First funding boundary strictly after `time`, boundaries aligned to multiples of the interval.
    function nextBoundary(uint256 time, uint256 interval) internal pure returns (uint256) {
        return (time / interval + 1) * interval;
    }

    /// @notice Advances state to `nowTs`: the basis EMA, every funding boundary passed (missed ones
    /// catch up at the current premium, O(1) however many), and the premium accumulator.
    function sync(
        MarketConfig memory cfg,
        MarketState memory st,
        uint256 index,
        uint256 nowTs
    ) internal pure returns (FundingResult memory r) {
        uint256 last = lastPrice(cfg, st, index);
        uint256 dtSample = nowTs - st.lastSampleTime;
        if (dtSample > 0) {
            st.emaBasis = int128(Ema.update(st.emaBasis, int256(last) - int256(index), dtSample, cfg.emaHalfLife));
        }
        uint256 boundary = uint256(st.lastFundingTime) + cfg.fundingInterval;
        if (nowTs >= boundary) {
            int256 cum = st.premiumCum + int256(st.lastPremium) * int256(boundary - st.lastSampleTime);
            uint256 elapsed = boundary - st.premiumStart;
            int256 avgPremium = elapsed == 0 ? int256(st.lastPremium) : cum / int256(elapsed);
            uint256 mark = markPrice(cfg, st, index, last, nowTs);
            int256 firstRate = _fundingRate(cfg, avgPremium, st.lastFundingRate);
            r.intervals = 1 + (nowTs - boundary) / cfg.fundingInterval;
            r.rate = firstRate;
            int256 growth = firstRate * int256(mark);
            if (r.intervals > 1) {
                r.rate = _fundingRate(cfg, st.lastPremium, firstRate);
                growth += r.rate * int256(mark) * int256(r.intervals - 1);
            }
            r.boundary = boundary + (r.intervals - 1) * cfg.fundingInterval;
            st.fundingIndex += int128(growth / WadMath.IWAD);
            st.lastFundingRate = int64(r.rate);
            st.lastFundingTime = uint40(r.boundary);
            st.premiumStart = uint40(r.boundary);
            st.premiumCum = int96(int256(st.lastPremium) * int256(nowTs - r.boundary));
        } else {
            st.premiumCum += int96(int256(st.lastPremium) * int256(dtSample));
        }
        st.lastSampleTime = uint40(nowTs);
    }

    /// @notice Re-samples the premium after the skew changed (a trade, a liquidation).
    function samplePremium(MarketConfig memory cfg, MarketState memory st, uint256 index) internal pure {
        st.lastPremium = int64(Pricing.premium(lastPrice(cfg, st, index), index));
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
        mark = cfg.markModel.markPrice(
            MarkInputs({
                index: index,
                lastPrice: last,
                emaBasis: st.emaBasis,
                lastFundingRate: st.lastFundingRate,
                timeToNextFunding: next > nowTs ? next - nowTs : 0,
                fundingInterval: cfg.fundingInterval
            })
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

    /// @dev `lastRate` is the rate of the boundary before: a model that drifts (velocity) moves from it.
    function _fundingRate(MarketConfig memory cfg, int256 avgPremium, int256 lastRate) private pure returns (int256) {
        return
            cfg.fundingModel.fundingRate(
                FundingInputs({
                    avgPremium: avgPremium,
                    interestRate: int256(uint256(cfg.fundingInterestRate)),
                    clampRate: int256(uint256(cfg.fundingClamp)),
                    cap: int256(uint256(cfg.fundingCap)),
                    lastRate: lastRate,
                    interval: cfg.fundingInterval,
                    maxVelocity: cfg.maxFundingVelocity
                })
            );
    }
}
