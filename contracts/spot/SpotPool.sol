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
/// so between two observations the price was constant and interpolation is exact; the newest observation
/// is the accumulator's value at the last update. Liquidity added here
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

    /// @dev The reserves and the ring's position (one slot), read by swaps, and by a TWAP only when the
    /// pool traded inside its window.
    struct Reserves {
        uint112 coin;
        uint112 usd;
        uint16 newest; // the ring index of the newest observation, whose cumulative is the price's up to now
        uint16 count; // observations written, up to OBSERVATION_SLOTS
    }

    /// @dev What a TWAP reads first (one slot): the spot price as the last swap left it, the last update
    /// (the newest observation's time) and the first observation's time (its cumulative is 0). The price
    /// has been `spot` since the last update, and since the first observation when the two are equal: a
    /// window that starts after the last update, or a pool that has not traded since it was seeded, reads
    /// this slot only.
    struct Price {
        uint128 spot; // WAD USD per coin
        uint40 lastUpdate;
        uint40 firstObservation;
    }

    Reserves private _reserves;
    Price private _price;
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
        Price memory p = _price;
        if (r.coin == 0) {
            usdAmount = maxUsdAmount;
            uint40 nowTs = block.timestamp.toUint40();
            (p.lastUpdate, p.firstObservation) = (nowTs, nowTs);
            _observe(r, nowTs, 0);
        } else {
            _accumulate(r, p);
            usdAmount = (coinAmount * r.usd + r.coin - 1) / r.coin;
            if (usdAmount > maxUsdAmount) revert UsdAmountTooHigh(usdAmount, maxUsdAmount);
        }
        r.coin = (r.coin + coinAmount).toUint112();
        r.usd = (r.usd + usdAmount).toUint112();
        _store(r, p);
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
        Price memory p = _price;
        _accumulate(r, p);
        amountOut = _quote(r, buyCoin, amountIn);
        if (amountOut < minOut || amountOut == 0) revert SlippageExceeded(amountOut, minOut);
        if (buyCoin) {
            r.usd = (r.usd + amountIn).toUint112();
            r.coin -= amountOut.toUint112();
        } else {
            r.coin = (r.coin + amountIn).toUint112();
            r.usd -= amountOut.toUint112();
        }
        uint256 spot = _store(r, p);
        emit Swap(msg.sender, to, buyCoin, amountIn, amountOut, spot);
        (IERC20 tokenIn, IERC20 tokenOut) = buyCoin ? (usd, coin) : (coin, usd);
        tokenIn.safeTransferFrom(msg.sender, address(this), amountIn);
        tokenOut.safeTransfer(to, amountOut);
    }

    /// @notice Output of a swap of `amountIn` at the current reserves, after the 0.3% fee.
    function quote(bool buyCoin, uint256 amountIn) external view returns (uint256) {
        return _quote(_reserves, buyCoin, amountIn);
    }

    /// @notice Instantaneous price, WAD USD per coin.
    function spotPrice() public view returns (uint256) {
        Price memory p = _price;
        if (p.lastUpdate == 0) revert EmptyPool();
        return p.spot;
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
        Reserves memory r = _reserves;
        return r.count == 0 ? 0 : _observations[r.newest].cumulative;
    }

    /// @notice The last time the price was integrated: the first block of the pool's latest trades.
    function lastUpdate() external view returns (uint256) {
        return _price.lastUpdate;
    }

    /// @inheritdoc ISpotTwap
    /// @dev When the pool's history is shorter than the window, the average covers the history it has.
    function twap(uint32 window) external view returns (uint256) {
        Price memory p = _price;
        if (p.lastUpdate == 0) revert EmptyPool();
        uint256 nowTs = block.timestamp;
        uint256 target = nowTs - window;
        if (target >= p.lastUpdate || p.lastUpdate == p.firstObservation) return p.spot;
        Reserves memory r = _reserves;
        uint256 cumNow = _observations[r.newest].cumulative + uint256(p.spot) * (nowTs - p.lastUpdate);
        (uint256 cumThen, uint256 tThen) = _cumulativeAt(r, p, target);
        return (cumNow - cumThen) / (nowTs - tThen);
    }

    /// @dev Cumulative price at `target`, before the last update (clamped to the oldest observation), and
    /// the time it is for.
    function _cumulativeAt(Reserves memory r, Price memory p, uint256 target) private view returns (uint256, uint256) {
        uint256 count = r.count;
        uint256 start;
        Observation memory oldest = Observation(p.firstObservation, 0);
        if (count == OBSERVATION_SLOTS) {
            start = (uint256(r.newest) + 1) % OBSERVATION_SLOTS;
            oldest = _observations[start];
        }
        if (target <= oldest.timestamp) return (oldest.cumulative, oldest.timestamp);
        // Largest logical index whose timestamp <= target: at least the oldest, below the newest (the last
        // update, after the target).
        uint256 lo = 0;
        uint256 hi = count - 2;
        while (lo < hi) {
            uint256 mid = (lo + hi + 1) / 2;
            if (_observations[(start + mid) % OBSERVATION_SLOTS].timestamp <= target) lo = mid;
            else hi = mid - 1;
        }
        Observation memory a = lo == 0 ? oldest : _observations[(start + lo) % OBSERVATION_SLOTS];
        Observation memory b = _observations[(start + lo + 1) % OBSERVATION_SLOTS];
        uint256 span = uint256(b.cumulative) - a.cumulative;
        return (a.cumulative + (span * (target - a.timestamp)) / (b.timestamp - a.timestamp), target);
    }

    function _quote(Reserves memory r, bool buyCoin, uint256 amountIn) private pure returns (uint256) {
        (uint256 rIn, uint256 rOut) = buyCoin ? (r.usd, r.coin) : (r.coin, r.usd);
        uint256 inAfterFee = amountIn * (BPS - FEE_BPS);
        return (rOut * inAfterFee) / (rIn * BPS + inAfterFee);
    }

    /// @dev Writes the reserves and the price they make; returns that spot price.
    function _store(Reserves memory r, Price memory p) private returns (uint256 spot) {
        spot = (uint256(r.usd) * usdScale * WAD) / (uint256(r.coin) * coinScale);
        p.spot = spot.toUint128();
        _reserves = r;
        _price = p;
    }

    /// @dev Integrates the price up to now and records an observation, once per block; the caller
    /// stores `r` and `p`.
    function _accumulate(Reserves memory r, Price memory p) private {
        uint40 nowTs = block.timestamp.toUint40();
        if (nowTs == p.lastUpdate) return;
        uint256 cumulative = _observations[r.newest].cumulative + uint256(p.spot) * (nowTs - p.lastUpdate);
        p.lastUpdate = nowTs;
        _observe(r, nowTs, cumulative.toUint216());
    }

    /// @dev Writes the observation (`nowTs`, `cumulative`) after the newest; the caller stores `r`.
    function _observe(Reserves memory r, uint40 nowTs, uint216 cumulative) private {
        uint256 slot = r.count == 0 ? 0 : (uint256(r.newest) + 1) % OBSERVATION_SLOTS;
        _observations[slot] = Observation(nowTs, cumulative);
        r.newest = uint16(slot);
        if (r.count < OBSERVATION_SLOTS) ++r.count;
    }
}
