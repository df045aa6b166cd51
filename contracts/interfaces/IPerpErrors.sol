// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {OrderType, OrderStatus} from "./OrderTypes.sol";

/// @title IPerpErrors
/// @notice Every custom error of the engine (PerpEngine and its admin module) and the order book, declared
/// once: the order book raises the engine's refusals with the engine's signatures, and a keeper decodes
/// either contract's revert with either ABI. Amounts WAD (USD, or base units for sizes) unless stated.
interface IPerpErrors {
    /* ------------------------------------------------------------------ DEPLOYMENT */

    /// @notice The engine's vault, oracle or admin module is not a deployed contract: the engine calls the
    /// vault and the oracle without the compiler's code-size check, so it refuses to start without them.
    error NotAContract(address account);

    /* ------------------------------------------------------------------ MARKETS */

    /// @notice No market has this id.
    error UnknownMarket(uint256 marketId);
    /// @notice A market with this symbol exists already.
    error DuplicateSymbol(bytes32 symbol);
    /// @notice A market configuration field out of its range.
    error InvalidConfig(bytes32 field);
    /// @notice A maintenance tier's field out of its range, or out of order with the tier before.
    error InvalidTiers(uint256 index, bytes32 field);
    /// @notice The market takes no new risk while paused.
    error MarketIsPaused(uint256 marketId);
    /// @notice No fresh index, and the call adds risk or the oracle's grace period is over.
    error NoFreshPrice(uint256 marketId);

    /* ------------------------------------------------------------------ POSITIONS */

    /// @notice A zero size.
    error ZeroSize();
    /// @notice A zero amount.
    error ZeroAmount();
    /// @notice An increase on the other side of the open position (one-way mode: close it first).
    error SideMismatch(int256 size, int256 sizeDelta);
    /// @notice The account has no position on the market.
    error NoPosition(address account, uint256 marketId);
    /// @notice No open position has this id.
    error PositionNotFound(uint256 id);
    /// @notice A size above the position's (absolute sizes).
    error SizeExceedsPosition(uint256 size, uint256 positionSize);
    /// @notice The fill is worse than the acceptable price.
    error SlippageExceeded(uint256 fillPrice, uint256 acceptablePrice);
    /// @notice The side's open interest would pass the market's cap (base units).
    error OpenInterestCapExceeded(bool isLong, uint256 openInterest, uint256 cap);
    /// @notice The margin, after funding, would be below the market's minimum (or not positive).
    error MarginTooLow(int256 margin, uint256 minMargin);
    /// @notice Notional / equity above the maximum leverage of the tier that holds the notional.
    error LeverageTooHigh(uint256 leverage, uint256 maxLeverage);
    /// @notice A notional above the last tier's cap.
    error PositionTooLarge(uint256 notional, uint256 maxNotional);
    /// @notice A notional below the market's minimum position notional.
    error PositionTooSmall(uint256 notional, uint256 minNotional);
    /// @notice A partial close or margin removal that would leave the position liquidatable.
    error WouldBeLiquidatable(uint256 id);

    /* ------------------------------------------------------------------ LIQUIDATION AND ADL */

    /// @notice The position is not liquidatable at this mark.
    error PositionHealthy(uint256 id, uint256 markPrice);
    /// @notice The market carries no uncovered bad debt and its traders' profit is within the cap.
    error AdlNotActive(uint256 marketId);
    /// @notice ADL closes only a position in profit, net of funding (and of the bad debt it repays).
    error NotProfitable(uint256 id, int256 pnl);
    /// @notice ADL closes only positions of a side in net profit.
    error NotWinningSide(uint256 id);

    /* ------------------------------------------------------------------ ORDERS */

    /// @notice The oracle has never priced the market.
    error NoPrice(uint256 marketId);
    /// @notice A zero trigger or acceptable price.
    error ZeroPrice();
    /// @notice An execution fee below the order book's minimum.
    error ExecutionFeeTooLow(uint256 fee, uint256 minFee);
    /// @notice An expiry that is not in the future (0 means none).
    error InvalidExpiry(uint256 expiry, uint256 timestamp);
    /// @notice A trigger order must be a take-profit or a stop-loss.
    error InvalidOrderType(OrderType orderType);
    /// @notice A TP/SL trigger on the wrong side of the entry (e.g. a long's take-profit at or below entry).
    error InvalidTrigger(OrderType orderType, bool isLong, uint256 triggerPrice, uint256 entryPrice);
    /// @notice The limit would fill now; pass `allowImmediate` to take it as a market fill.
    error WouldFillImmediately(uint256 fillPrice, uint256 limitPrice);
    /// @notice The order is not live (never created, executed, cancelled or expired).
    error OrderNotLive(uint256 id, OrderStatus status);
    /// @notice Only the owner may cancel a live order before its expiry.
    error NotOrderOwner(uint256 id, address caller, address owner);
    /// @notice The order expired; anyone may cancel it.
    error ExpiredOrder(uint256 id, uint256 expiry);
    /// @notice The mark has not reached the take-profit or stop-loss trigger.
    error TriggerNotReached(uint256 id, uint256 markPrice, uint256 triggerPrice);
}
