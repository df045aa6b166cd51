// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Tier} from "../libraries/MarginMath.sol";
import {MarketConfig} from "../libraries/MarketLib.sol";

/// @title IPerpEngineEvents
/// @notice The engine's events (PerpEngine and its admin module emit them from the engine's address).
/// Trade, Liquidation and PositionUpdated carry a position's full state after the change, so an indexer
/// rebuilds every position from events alone. Amounts WAD; sizes signed (long > 0).
interface IPerpEngineEvents {
    /// @notice A market was created under `symbol`; its configuration and tiers follow in their events.
    event MarketCreated(uint256 indexed marketId, bytes32 symbol);
    /// @notice A market's whole configuration, as set.
    event MarketConfigured(uint256 indexed marketId, MarketConfig config);
    /// @notice A market's maintenance tiers, with their derived maintenance amounts.
    event TiersSet(uint256 indexed marketId, Tier[] tiers);
    /// @notice New risk on the market paused or resumed.
    event MarketPaused(uint256 indexed marketId, bool paused);
    /// @notice The full state of a position after a margin change or ADL (size 0: closed). With Trade and
    /// Liquidation, which carry the same fields, enough to rebuild every position.
    event PositionUpdated(
        uint256 indexed id,
        address indexed account,
        uint256 indexed marketId,
        int256 size,
        uint256 entryPrice,
        uint256 margin,
        int256 fundingSnapshot
    );
    /// @notice A market order on a position, and the position's full state after it (size 0: closed), as
    /// PositionUpdated would carry it: one event per trade.
    event Trade(
        uint256 indexed id,
        address indexed account,
        uint256 indexed marketId,
        int256 sizeDelta,
        uint256 fillPrice,
        uint256 fee,
        int256 realizedPnl,
        int256 fundingPaid,
        int256 size,
        uint256 entryPrice,
        uint256 margin,
        int256 fundingSnapshot
    );
    /// @notice Margin added (`amount` > 0) or removed; `fundingPaid` is the funding realised with it.
    event MarginChanged(uint256 indexed id, address indexed account, int256 amount, int256 fundingPaid);
    /// @notice A liquidation at mark, and the position's full state after it (size 0: closed in full), as
    /// PositionUpdated would carry it: one event per liquidation.
    event Liquidation(
        uint256 indexed id,
        address indexed account,
        uint256 indexed marketId,
        address keeper,
        int256 closedSize,
        uint256 markPrice,
        int256 equity,
        uint256 reward,
        uint256 badDebt,
        int256 size,
        uint256 entryPrice,
        uint256 margin,
        int256 fundingSnapshot
    );
    /// @notice A loss beyond a closed position's margin: the insurance fund paid `coveredByInsurance`, the
    /// pool absorbed `uncovered` (which opens ADL on the market).
    event BadDebt(uint256 indexed marketId, uint256 amount, uint256 coveredByInsurance, uint256 uncovered);
    /// @notice A profitable position closed by ADL at mark: `haircut` of its profit repaid uncovered bad debt.
    event AutoDeleveraged(
        uint256 indexed id,
        address indexed account,
        uint256 indexed marketId,
        int256 closedSize,
        uint256 markPrice,
        int256 realizedPnl,
        uint256 haircut
    );
    /// @notice A closing profit paid pro rata: the market's traders' net unrealised profit was above
    /// maxPnlFactor x the pool's ledger, so `paid` = realised x cap / traders' PnL.
    event ProfitCapped(uint256 indexed id, uint256 indexed marketId, int256 realizedPnl, int256 paid);
    /// @notice `intervals` funding boundaries settled, the last at `boundary` with `rate`; the index after.
    event FundingSettled(
        uint256 indexed marketId,
        int256 rate,
        int256 fundingIndex,
        uint256 boundary,
        uint256 intervals
    );
}
