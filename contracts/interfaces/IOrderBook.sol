// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IPerpErrors} from "./IPerpErrors.sol";
import {OrderType, CancelReason} from "./OrderTypes.sol";

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
}
