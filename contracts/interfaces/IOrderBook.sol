// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IPerpErrors} from "./IPerpErrors.sol";
import {Order, OrderType, CancelReason} from "./OrderTypes.sol";

/// @title IOrderBook
/// @notice Resting orders that keepers execute (OrderBook): their events; the errors are IPerpErrors'.
interface IOrderBook is IPerpErrors {
    /// @notice A new order, with everything a keeper needs to track it without further calls.
    event OrderCreated(
        uint256 indexed id,
        address indexed account,
        uint256 indexed marketId,
        OrderType orderType,
        int256 sizeDelta,
        uint256 triggerPrice,
        uint256 acceptablePrice,
        uint256 margin,
        uint256 executionFee,
        uint256 expiry
    );
    /// @notice An order filled; `sizeDelta` is the size traded (a reduce-only order is capped at the
    /// position). `markPrice` is the mark that met a TP/SL trigger; 0 for limit orders, whose condition is
    /// on the fill price, which the engine's Trade event in the same transaction carries.
    event OrderExecuted(
        uint256 indexed id,
        address indexed account,
        uint256 indexed marketId,
        OrderType orderType,
        address keeper,
        int256 sizeDelta,
        uint256 markPrice,
        uint256 executionFee
    );
    /// @notice A live order cancelled; `refund` (margin + fee) went back to the owner's free balance.
    event OrderCancelled(
        uint256 indexed id,
        address indexed account,
        uint256 indexed marketId,
        address caller,
        CancelReason reason,
        uint256 refund
    );
    /// @notice An expired order removed by `caller`; `refund` went back to the owner's free balance.
    event OrderExpired(
        uint256 indexed id,
        address indexed account,
        uint256 indexed marketId,
        address caller,
        uint256 refund
    );
    /// @notice The minimum execution fee of new orders changed (WAD USD).
    event MinExecutionFeeSet(uint256 previousFee, uint256 fee);

    /// @notice The smallest execution fee a new order may carry (WAD USD).
    function minExecutionFee() external view returns (uint256);

    /// @notice Orders are numbered 1..orderCount.
    function orderCount() external view returns (uint256);

    /// @notice Places a limit order that opens or increases the caller's position by `sizeDelta` (positive
    /// long, negative short) with `margin` (WAD USD), filled when the fill price reaches `limitPrice`.
    /// Escrows `margin + executionFee` from the caller's free balance. A limit that would fill now is
    /// refused unless `allowImmediate`, in which case it fills at once as a market order within the limit
    /// (the caller is its own keeper: nothing is escrowed, no fee changes hands).
    /// @param marketId The market.
    /// @param sizeDelta Signed base units: positive opens or grows a long, negative a short.
    /// @param margin WAD USD escrowed now, locked as position margin on execution.
    /// @param limitPrice The limit: a buy fills at or below it, a sell at or above.
    /// @param executionFee WAD USD escrowed for the executing keeper (at least minExecutionFee).
    /// @param expiry Timestamp from which the order can no longer execute; 0 for none.
    /// @param allowImmediate Fill at once when the limit is already met, instead of refusing.
    /// @return id The order's id.
    function createLimitOpen(
        uint256 marketId,
        int256 sizeDelta,
        uint256 margin,
        uint256 limitPrice,
        uint256 executionFee,
        uint256 expiry,
        bool allowImmediate
    ) external returns (uint256 id);

    /// @notice Places a reduce-only limit order that closes `size` (absolute base units, at most the
    /// position) of the caller's position, filled when the fill price reaches `limitPrice` (a long's close
    /// sells at or above it, a short's buys at or below). Escrows `executionFee`. `allowImmediate` as for
    /// createLimitOpen.
    /// @param marketId The market of the caller's position.
    /// @param size Base units to close (absolute, at most the position).
    /// @param limitPrice The limit: a long's close sells at or above it, a short's buys at or below.
    /// @param executionFee WAD USD escrowed for the executing keeper.
    /// @param expiry Timestamp from which the order can no longer execute; 0 for none.
    /// @param allowImmediate Fill at once when the limit is already met, instead of refusing.
    /// @return id The order's id.
    function createLimitClose(
        uint256 marketId,
        uint256 size,
        uint256 limitPrice,
        uint256 executionFee,
        uint256 expiry,
        bool allowImmediate
    ) external returns (uint256 id);

    /// @notice Places a take-profit or stop-loss on the caller's position: when the mark reaches
    /// `triggerPrice` it closes `size` (absolute, at most the position) at market, reverting unless the fill
    /// is at or better than `acceptablePrice`. A long's take-profit triggers at a mark at or above the
    /// trigger, which must be above entry; its stop-loss at or below, below entry; a short's the other way
    /// round. Escrows `executionFee`.
    /// @param marketId The market of the caller's position.
    /// @param orderType TakeProfit or StopLoss.
    /// @param size Base units to close (absolute, at most the position).
    /// @param triggerPrice The mark that triggers it.
    /// @param acceptablePrice The worst fill once triggered.
    /// @param executionFee WAD USD escrowed for the executing keeper.
    /// @param expiry Timestamp from which the order can no longer execute; 0 for none.
    /// @return id The order's id.
    function createTriggerOrder(
        uint256 marketId,
        OrderType orderType,
        uint256 size,
        uint256 triggerPrice,
        uint256 acceptablePrice,
        uint256 executionFee,
        uint256 expiry
    ) external returns (uint256 id);

    /// @notice Executes a live order whose condition holds now; anyone may call, and the caller earns the
    /// execution fee. Reverts with ExpiredOrder past the expiry, TriggerNotReached for a TP/SL whose mark
    /// has not reached the trigger, and the engine's SlippageExceeded(fill, limit) for a limit not reached.
    /// A reduce-only order whose position is gone is cancelled instead, its escrow refunded to the owner.
    /// @param id The order.
    function executeOrder(uint256 id) external;

    /// @notice Cancels a live order and returns its whole escrow to its owner. The owner may cancel at any
    /// time; anyone may remove an order past its expiry (emits OrderExpired).
    /// @param id The order.
    function cancelOrder(uint256 id) external;

    /// @notice Sets the minimum execution fee (WAD USD) for new orders; config role only.
    /// @param fee WAD USD.
    function setMinExecutionFee(uint256 fee) external;

    /// @notice An order by id (status None when it does not exist).
    /// @param id The order.
    function getOrder(uint256 id) external view returns (Order memory);

    /// @notice What a live order holds in the vault's escrow (WAD USD): margin + execution fee; 0 otherwise.
    /// @param id The order.
    function escrowOf(uint256 id) external view returns (uint256);
}
