// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Tier} from "../libraries/MarginMath.sol";
import {MarketConfig} from "../libraries/MarketLib.sol";
import {IVault} from "./IVault.sol";
import {IOracle} from "./IOracle.sol";
import {IPerpErrors} from "./IPerpErrors.sol";

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
    /// @notice A profitable position closed by ADL at mark: `realizedPnl` is the profit paid (pro rata above
    /// the cap, as a close's Trade, with ProfitCapped before it); `haircut` of it repaid uncovered bad debt.
    event AutoDeleveraged(
        uint256 indexed id,
        address indexed account,
        uint256 indexed marketId,
        int256 closedSize,
        uint256 markPrice,
        int256 realizedPnl,
        uint256 haircut
    );
    /// @notice A closing profit (a close or ADL) paid pro rata: the market's traders' net unrealised profit was above
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

/// @title IPerpEngine
/// @notice Markets and isolated positions (PerpEngine): market orders at the skew fill price, margin,
/// funding, liquidation and auto-deleveraging, every movement of money one zero-sum vault settlement.
/// Sizes signed base units (WAD, long > 0), USD amounts and prices WAD. Market administration and raw
/// getters run in the admin module on the engine's storage (PerpEngineAdmin's ABI at this address).
interface IPerpEngine is IPerpEngineEvents, IPerpErrors {
    /// @notice The module that runs market administration and raw getters on the engine's storage.
    function adminModule() external view returns (address);

    /// @notice The vault every trade, fee, funding payment and liquidation settles in.
    function vault() external view returns (IVault);

    /// @notice The oracle the engine reads each market's index from.
    function oracle() external view returns (IOracle);

    /// @notice Opens or increases the caller's position by a market order: `sizeDelta` base units
    /// (positive long, negative short), adding `margin` (WAD USD) from the free balance; the fee is
    /// paid from the free balance. Reverts unless the fill is at or better than `acceptablePrice`.
    /// @param marketId The market.
    /// @param sizeDelta Signed base units to add: positive buys (long), negative sells (short).
    /// @param margin WAD USD moved from the free balance into the position's margin.
    /// @param acceptablePrice The worst fill: a buy reverts above it, a sell below.
    function increasePosition(uint256 marketId, int256 sizeDelta, uint256 margin, uint256 acceptablePrice) external;

    /// @notice Decreases the caller's position by `size` base units (absolute) by a market order.
    /// @param marketId The market.
    /// @param size Base units to close (absolute, at most the position).
    /// @param acceptablePrice The worst fill: closing a long sells, a short buys.
    function decreasePosition(uint256 marketId, uint256 size, uint256 acceptablePrice) external;

    /// @notice Closes the caller's whole position by a market order.
    /// @param marketId The market.
    /// @param acceptablePrice The worst fill.
    function closePosition(uint256 marketId, uint256 acceptablePrice) external;

    /// @notice As increasePosition, for `account`; executor role (the order book) only.
    /// @param account The position's owner, whose free balance pays margin and fee.
    function increasePositionFor(
        address account,
        uint256 marketId,
        int256 sizeDelta,
        uint256 margin,
        uint256 acceptablePrice
    ) external;

    /// @notice As decreasePosition, for `account` (`size` = type(uint256).max closes all); executor role only.
    /// @param account The position's owner.
    function decreasePositionFor(address account, uint256 marketId, uint256 size, uint256 acceptablePrice) external;

    /// @notice Adds `amount` (WAD USD) of free balance to the caller's position margin.
    /// @param marketId The market of the caller's position.
    /// @param amount WAD USD from the free balance.
    function addMargin(uint256 marketId, uint256 amount) external;

    /// @notice Removes `amount` (WAD USD) of margin to the free balance; the position must keep its
    /// initial margin (leverage within its tier) and the market's minimum margin.
    /// @param marketId The market of the caller's position.
    /// @param amount WAD USD back to the free balance.
    function removeMargin(uint256 marketId, uint256 amount) external;

    /// @notice Settles every funding boundary passed (a no-op before the next one) and refreshes the
    /// market's premium and EMA samples. Permissionless; O(1) in the number of positions.
    /// @param marketId The market.
    function settleFunding(uint256 marketId) external;

    /// @notice Liquidates a position that is liquidatable at the current mark; the caller earns the reward.
    /// @param id The position (PerpEngineAdmin.positionId).
    /// @return reward WAD USD credited to the caller's free balance.
    function liquidate(uint256 id) external returns (uint256 reward);

    /// @notice Liquidates every listed position that is liquidatable now, skipping the rest; each
    /// liquidation moves the skew and the mark before the next is checked. Returns how many it liquidated.
    /// @param ids Positions, grouped by market for the cheapest batch; closed ids are skipped.
    /// @return count How many were liquidated.
    function liquidateMany(uint256[] calldata ids) external returns (uint256 count);

    /// @notice Closes `size` of a profitable position on the winning side at mark, with no fee, while the
    /// market's ADL condition holds (uncovered bad debt, or traders' net unrealised profit above
    /// maxPnlFactor x the pool's ledger). The realised profit is paid as a close pays it: pro rata
    /// (profit x cap / traders' PnL, rounded down, ProfitCapped emitted) while the traders' PnL, judged
    /// with this position still in it, is above the cap. Uncovered bad debt is then repaid first from
    /// that payable profit (the haircut); the trader gets the rest.
    /// @param id The position to close from.
    /// @param size Base units to close (absolute, at most the position).
    function autoDeleverage(uint256 id, uint256 size) external;
}
