// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @title SpotPool
/// @notice The spot market a market maker can push: a constant-product pool (x * y = k, 0.3% fee)
/// between a coin and the collateral, with a cumulative-price accumulator for TWAPs.
/// Prices are WAD USD per whole coin. The accumulator integrates the price over time; an observation
/// (timestamp, cumulative) is written in each block that trades, before the trade, into a ring buffer,
/// so between two observations the price was constant and interpolation is exact. Liquidity added here
/// is permanent (no LP shares): the pool only has to be a market that can be moved.
contract SpotPool is ReentrancyGuardTransient {
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

    uint128 public reserveCoin;
    uint128 public reserveUsd;
    uint216 public priceCumulative;
    uint40 public lastUpdate;
    Observation[OBSERVATION_SLOTS] private _observations;
    uint16 private _newest;
    uint16 public observationCount;

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
        if (reserveCoin == 0) {
            usdAmount = maxUsdAmount;
            _observe(block.timestamp.toUint40());
        } else {
            _accumulate();
            usdAmount = (coinAmount * reserveUsd + reserveCoin - 1) / reserveCoin;
            if (usdAmount > maxUsdAmount) revert UsdAmountTooHigh(usdAmount, maxUsdAmount);
        }
        reserveCoin += coinAmount.toUint128();
        reserveUsd += usdAmount.toUint128();
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
        if (reserveCoin == 0) revert EmptyPool();
        _accumulate();
        amountOut = quote(buyCoin, amountIn);
        if (amountOut < minOut || amountOut == 0) revert SlippageExceeded(amountOut, minOut);
        if (buyCoin) {
            reserveUsd += amountIn.toUint128();
            reserveCoin -= amountOut.toUint128();
        } else {
            reserveCoin += amountIn.toUint128();
            reserveUsd -= amountOut.toUint128();
        }
        emit Swap(msg.sender, to, buyCoin, amountIn, amountOut, spotPrice());
        (IERC20 tokenIn, IERC20 tokenOut) = buyCoin ? (usd, coin) : (coin, usd);
        tokenIn.safeTransferFrom(msg.sender, address(this), amountIn);
        tokenOut.safeTransfer(to, amountOut);
    }

    /// @notice Output of a swap of `amountIn` at the current reserves, after the 0.3% fee.
    function quote(bool buyCoin, uint256 amountIn) public view returns (uint256) {
        (uint256 rIn, uint256 rOut) = buyCoin ? (reserveUsd, reserveCoin) : (reserveCoin, reserveUsd);
        uint256 inAfterFee = amountIn * (BPS - FEE_BPS);
        return (rOut * inAfterFee) / (rIn * BPS + inAfterFee);
    }

    /// @notice Instantaneous price, WAD USD per coin.
    function spotPrice() public view returns (uint256) {
        if (reserveCoin == 0) revert EmptyPool();
        return (uint256(reserveUsd) * usdScale * WAD) / (uint256(reserveCoin) * coinScale);
    }

    /// @notice Time-weighted average price over the last `window` seconds (0 = spot). When the pool's
    /// history is shorter than the window, the average covers the history it has.
    function twap(uint32 window) external view returns (uint256) {
        uint256 spot = spotPrice();
        if (window == 0) return spot;
        uint256 nowTs = block.timestamp;
        uint256 cumNow = priceCumulative + spot * (nowTs - lastUpdate);
        (uint256 cumThen, uint256 tThen) = _cumulativeAt(nowTs - window, spot);
        if (tThen >= nowTs) return spot;
        return (cumNow - cumThen) / (nowTs - tThen);
    }

    /// @dev Cumulative price at `target` (clamped to the oldest observation) and the time it is for; `spot`
    /// is the price since the last update.
    function _cumulativeAt(uint256 target, uint256 spot) private view returns (uint256, uint256) {
        if (target >= lastUpdate) return (priceCumulative + spot * (target - lastUpdate), target);
        uint256 count = observationCount;
        uint256 start = count < OBSERVATION_SLOTS ? 0 : (uint256(_newest) + 1) % OBSERVATION_SLOTS;
        Observation memory oldest = _observations[start];
        if (target <= oldest.timestamp) return (oldest.cumulative, oldest.timestamp);
        // Largest logical index whose timestamp <= target; the next one exists because target < lastUpdate.
        uint256 lo = 0;
        uint256 hi = count - 1;
        while (lo < hi) {
            uint256 mid = (lo + hi + 1) / 2;
            if (_observations[(start + mid) % OBSERVATION_SLOTS].timestamp <= target) lo = mid;
            else hi = mid - 1;
        }
        Observation memory a = _observations[(start + lo) % OBSERVATION_SLOTS];
        Observation memory b = _observations[(start + lo + 1) % OBSERVATION_SLOTS];
        uint256 span = uint256(b.cumulative) - a.cumulative;
        return (a.cumulative + (span * (target - a.timestamp)) / (b.timestamp - a.timestamp), target);
    }

    /// @dev Integrates the current price up to now and records an observation once per block.
    function _accumulate() private {
        uint40 nowTs = block.timestamp.toUint40();
        uint40 dt = nowTs - lastUpdate;
        if (dt == 0) return;
        priceCumulative += (spotPrice() * dt).toUint216();
        _observe(nowTs);
    }

    function _observe(uint40 nowTs) private {
        uint256 count = observationCount;
        uint256 slot = count == 0 ? 0 : (uint256(_newest) + 1) % OBSERVATION_SLOTS;
        _observations[slot] = Observation(nowTs, priceCumulative);
        _newest = uint16(slot);
        if (count < OBSERVATION_SLOTS) observationCount = uint16(count + 1);
        lastUpdate = nowTs;
    }
}
