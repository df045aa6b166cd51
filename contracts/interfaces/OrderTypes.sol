// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice What an order does: a limit open, a reduce-only limit close, or a reduce-only take-profit or
/// stop-loss triggered by the mark.
enum OrderType {
    LimitOpen,
    LimitClose,
    TakeProfit,
    StopLoss
}

/// @notice An order's life: Live until executed, cancelled or removed after its expiry.
enum OrderStatus {
    None,
    Live,
    Executed,
    Cancelled,
    Expired
}

/// @notice Why a live order was cancelled.
enum CancelReason {
    Owner, // the owner cancelled it
    PositionClosed // a reduce-only order found no position to reduce
}

/// @notice An order; four storage slots. Prices and amounts WAD.
struct Order {
    address account;
    uint32 marketId;
    OrderType orderType;
    OrderStatus status;
    uint40 expiry; // seconds; executable while block.timestamp < expiry; 0 = good till cancelled
    int128 sizeDelta; // signed trade: + buys, - sells (base units)
    uint128 triggerPrice; // the limit (limit orders) or the mark trigger (TP/SL)
    uint128 acceptablePrice; // worst fill: the limit itself for limit orders
    uint128 margin; // escrowed margin, limit opens only (USD)
    uint128 executionFee; // escrowed, paid to the executing keeper (USD)
}
