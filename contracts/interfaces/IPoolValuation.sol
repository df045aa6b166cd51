// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice The liquidity pool valued at mark (SPEC 9.1), summed over markets, WAD USD.
///   value = ledger - traderPnl + fundingOwed
/// Per market, traderPnl and fundingOwed are the exact sums over every open position of
/// size * (mark - entry) and size * (fundingIndex - snapshot), each rounded once (PnL up, funding down:
/// the pool never counts a unit it may not receive); a market's profit counts at most maxPnlFactor x ledger.
struct PoolValuation {
    uint256 ledger; // the vault's pool ledger: realised assets
    int256 traderPnl; // traders' net unrealised PnL counted against the pool (profits capped per market)
    int256 fundingOwed; // net funding the traders owe and have not paid (negative: owed to them)
    int256 value; // ledger - traderPnl + fundingOwed
    uint256 staleMarketId; // the first market with no fresh index (valued at its last index); 0 when none
}

/// @notice What the liquidity pool needs from the engine.
interface IPoolValuation {
    /// @notice Pool assets (WAD USD) reserved for open interest; redemptions may not take them.
    function reservedAssets() external view returns (uint256);

    /// @notice The pool valued at the current marks, as a transaction in this block would see them.
    function poolValuation() external view returns (PoolValuation memory);
}
