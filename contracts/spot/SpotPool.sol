// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ISpotTwap} from "../interfaces/ISpotTwap.sol";

/// @title SpotPool
/// @notice The spot market a market maker can push: a constant-product pool (x * y = k, 0.3% fee)
/// between a coin and the collateral, with a cumulative-price accumulator for TWAPs.
/// Prices are WAD USD per whole coin. The accumulator integrates the price over time; an observation
/// (timestamp, cumulative) is written in each block that trades, before the trade, into a ring buffer,
/// so between two observations the price was constant and interpolation is exact. Liquidity added here
/// is permanent (no LP shares): the pool only has to be a market that can be moved.
contract SpotPool is ISpotTwap, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;

    uint256 public constant FEE_BPS = 30;
    uint256 private constant BPS = 10_000;
    uint256 private constant WAD = 1e18;
    uint256 public constant OBSERVATION_SLOTS = 512;

    /// @dev Seconds in 40 bits (as the engine's timestamps), so the pool keeps working past 2106; the
    /// cumulative price keeps 216 bits, room for a 10^12 USD price over 10^12 seconds.
    struct Observation {
        uint40 timestamp;
        uint216 cumulative;
    }

    IERC20 public immutable coin;
    IERC20 public immutable usd;
    uint256 private immutable coinScale; // 10^(18 - coin decimals)
    uint256 private immutable usdScale; // 10^(18 - usd decimals)

    /// @dev Read first by every swap and every TWAP: the reserves and the ring's position (one slot).
    struct Reserves {
        uint112 coin;
        uint112 usd;
        uint16 newest; // the ring index of the newest observation
        uint16 count; // observations written, up to OBSERVATION_SLOTS
    }

    /// @dev The accumulator (one slot), read by a TWAP only when the pool traded inside its window: the
    /// price integrated up to `lastUpdate`, which is also the newest observation, and the first
    /// observation's time (its cumulative is 0), the oldest until the ring wraps. So a TWAP reads the ring
    /// only to find the observations around the window's start, and not even that for a window older than
    /// the pool. 176 bits of cumulative hold a 10^12 USD price over 10^12 seconds.
    struct Accumulator {
        uint176 cumulative;
        uint40 lastUpdate;
        uint40 firstObservation;
    }

    Reserves private _reserves;
    Accumulator private _accumulator;
    Observation[OBSERVATION_SLOTS] private _observations;

    event LiquidityAdded(address indexed provider, uint256 coinAmount, uint256 usdAmount);
    event Swap(
        address indexed sender,
        address indexed to,
        bool buyCoin,
        uint256 amountIn,
        uint256 amountOut,
        uint256 spotPrice
    );

    error ZeroAmount();
    error EmptyPool();
    error SlippageExceeded(uint256 amountOut, uint256 minOut);
    error UsdAmountTooHigh(uint256 needed, uint256 maxUsdAmount);

    constructor(IERC20 coin_, IERC20 usd_) {
        coin = coin_;
        usd = usd_;
        coinScale = 10 ** (18 - IERC20Metadata(address(coin_)).decimals());
        usdScale = 10 ** (18 - IERC20Metadata(address(usd_)).decimals());
    }

    /// @notice Adds liquidity at the current price (any price when empty). `coinAmount` in coin units;
    /// the USD side is taken in proportion, at most `maxUsdAmount`.
    function addLiquidity(uint256 coinAmount, uint256 maxUsdAmount) external nonReentrant returns (uint256 usdAmount) {
        if (coinAmount == 0 || maxUsdAmount == 0) revert ZeroAmount();
        Reserves memory r = _reserves;
        if (r.coin == 0) {
            usdAmount = maxUsdAmount;
            uint40 nowTs = block.timestamp.toUint40();
            _accumulator = Accumulator(0, nowTs, nowTs);
            _observe(r, nowTs, 0);
        } else {
            _accumulate(r);
            usdAmount = (coinAmount * r.usd + r.coin - 1) / r.coin;
            if (usdAmount > maxUsdAmount) revert UsdAmountTooHigh(usdAmount, maxUsdAmount);
        }
        r.coin = (r.coin + coinAmount).toUint112();
        r.usd = (r.usd + usdAmount).toUint112();
        _reserves = r;
        emit LiquidityAdded(msg.sender, coinAmount, usdAmount);
        coin.safeTransferFrom(msg.sender, address(this), coinAmount);
        usd.safeTransferFrom(msg.sender, address(this), usdAmount);
    }

    /// @notice Swaps `amountIn` of USD for coin (`buyCoin`) or of coin for USD, paying at least `minOut` to `to`.
    function swap(
        bool buyCoin,
        uint256 amountIn,
        uint256 minOut,
        address to
    ) external nonReentrant returns (uint256 amountOut) {
        if (amountIn == 0) revert ZeroAmount();
        Reserves memory r = _reserves;
        if (r.coin == 0) revert EmptyPool();
        _accumulate(r);
        amountOut = _quote(r, buyCoin, amountIn);
        if (amountOut < minOut || amountOut == 0) revert SlippageExceeded(amountOut, minOut);
        if (buyCoin) {
            r.usd = (r.usd + amountIn).toUint112();
            r.coin -= amountOut.toUint112();
        } else {
            r.coin = (r.coin + amountIn).toUint112();
            r.usd -= amountOut.toUint112();
        }
        _reserves = r;
        emit Swap(msg.sender, to, buyCoin, amountIn, amountOut, _spot(r));
        (IERC20 tokenIn, IERC20 tokenOut) = buyCoin ? (usd, coin) : (coin, usd);
        tokenIn.safeTransferFrom(msg.sender, address(this), amountIn);
        tokenOut.safeTransfer(to, amountOut);
    }

    /// @notice Output of a swap of `amountIn` at the current reserves, after the 0.3% fee.
    function quote(bool buyCoin, uint256 amountIn) external view returns (uint256) {
        return _quote(_reserves, buyCoin, amountIn);
    }

    /// @notice Instantaneous price, WAD USD per coin.
    function spotPrice() external view returns (uint256) {
        return _spot(_reserves);
    }

    /// @notice The coin reserve (coin units).
    function reserveCoin() external view returns (uint256) {
        return _reserves.coin;
    }

    /// @notice The USD reserve (collateral units).
    function reserveUsd() external view returns (uint256) {
        return _reserves.usd;
    }

    /// @notice Observations written, up to OBSERVATION_SLOTS (the ring's size).
    function observationCount() external view returns (uint256) {
        return _reserves.count;
    }

    /// @notice The price integrated over time up to `lastUpdate` (WAD USD per coin * seconds).
    function priceCumulative() external view returns (uint256) {
        return _accumulator.cumulative;
    }

    /// @notice The last time the price was integrated: the first block of the pool's latest trades.
    function lastUpdate() external view returns (uint256) {
        return _accumulator.lastUpdate;
    }

    /// @inheritdoc ISpotTwap
    /// @dev When the pool's history is shorter than the window, the average covers the history it has.
    /// A window that starts after the last update averages a constant price: spot, with no more reads.
    function twap(uint32 window) external view returns (uint256) {
        Reserves memory r = _reserves;
        uint256 spot = _spot(r);
        if (window == 0) return spot;
        Accumulator memory acc = _accumulator;
        uint256 nowTs = block.timestamp;
        uint256 target = nowTs - window;
        if (target >= acc.lastUpdate) return spot;
        uint256 cumNow = acc.cumulative + spot * (nowTs - acc.lastUpdate);
        (uint256 cumThen, uint256 tThen) = _cumulativeAt(r, acc, target);
        if (tThen >= nowTs) return spot;
        return (cumNow - cumThen) / (nowTs - tThen);
    }

    /// @dev Cumulative price at `target`, before the last update (clamped to the oldest observation), and
    /// the time it is for.
    function _cumulativeAt(
        Reserves memory r,
        Accumulator memory acc,
        uint256 target
    ) private view returns (uint256, uint256) {
        uint256 count = r.count;
        uint256 start;
        if (count < OBSERVATION_SLOTS) {
            if (target <= acc.firstObservation) return (0, acc.firstObservation);
        } else {
            start = (uint256(r.newest) + 1) % OBSERVATION_SLOTS;
            Observation memory oldest = _observations[start];
            if (target <= oldest.timestamp) return (oldest.cumulative, oldest.timestamp);
        }
        // Largest logical index whose timestamp <= target: below the newest, which is the last update.
        uint256 lo = 0;
        uint256 hi = count - 2;
        while (lo < hi) {
            uint256 mid = (lo + hi + 1) / 2;
            if (_observations[(start + mid) % OBSERVATION_SLOTS].timestamp <= target) lo = mid;
            else hi = mid - 1;
        }
        Observation memory a = _observations[(start + lo) % OBSERVATION_SLOTS];
        Observation memory b = lo + 2 == count
            ? Observation(acc.lastUpdate, acc.cumulative)
            : _observations[(start + lo + 1) % OBSERVATION_SLOTS];
        uint256 span = uint256(b.cumulative) - a.cumulative;
        return (a.cumulative + (span * (target - a.timestamp)) / (b.timestamp - a.timestamp), target);
    }

    function _quote(Reserves memory r, bool buyCoin, uint256 amountIn) private pure returns (uint256) {
        (uint256 rIn, uint256 rOut) = buyCoin ? (r.usd, r.coin) : (r.coin, r.usd);
        uint256 inAfterFee = amountIn * (BPS - FEE_BPS);
        return (rOut * inAfterFee) / (rIn * BPS + inAfterFee);
    }

    function _spot(Reserves memory r) private view returns (uint256) {
        if (r.coin == 0) revert EmptyPool();
        return (uint256(r.usd) * usdScale * WAD) / (uint256(r.coin) * coinScale);
    }

    /// @dev Integrates the current price up to now and records an observation, once per block; the
    /// caller writes `r` back.
    function _accumulate(Reserves memory r) private {
        Accumulator memory acc = _accumulator;
        uint40 nowTs = block.timestamp.toUint40();
        if (nowTs == acc.lastUpdate) return;
        uint176 cumulative = (acc.cumulative + _spot(r) * (nowTs - acc.lastUpdate)).toUint176();
        _accumulator = Accumulator(cumulative, nowTs, acc.firstObservation);
        _observe(r, nowTs, cumulative);
    }

    /// @dev Writes the observation (`nowTs`, `cumulative`) after the newest; the caller writes `r` back.
    function _observe(Reserves memory r, uint40 nowTs, uint176 cumulative) private {
        uint256 slot = r.count == 0 ? 0 : (uint256(r.newest) + 1) % OBSERVATION_SLOTS;
        _observations[slot] = Observation(nowTs, cumulative);
        r.newest = uint16(slot);
        if (r.count < OBSERVATION_SLOTS) ++r.count;
    }
}
