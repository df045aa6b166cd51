// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IOracle} from "../interfaces/IOracle.sol";
import {WadMath} from "../libraries/WadMath.sol";
import {MarginMath, Tier} from "../libraries/MarginMath.sol";
import {MarketLib, MarketConfig, MarketState} from "../libraries/MarketLib.sol";
import {Position, PositionLib} from "../libraries/PositionLib.sol";
import {PerpEngineAdmin} from "./PerpEngineAdmin.sol";

/// @title PerpLens
/// @notice Read-only views for the trader's panel, the keeper and the simulator. It projects each market
/// to the current block with the same library functions the engine runs in a transaction (MarketLib.sync
/// and markPrice, MarginMath), so what it shows is what a transaction in this block would see: the
/// liquidation price shown is the price at which `liquidate` succeeds.
contract PerpLens {
    using WadMath for uint256;

    PerpEngineAdmin public immutable engine;
    IOracle public immutable oracle;

    struct MarketView {
        uint256 marketId;
        bytes32 symbol;
        uint256 indexPrice;
        bool indexFresh;
        uint256 markPrice;
        uint256 lastPrice;
        int256 skew;
        uint256 longOpenInterest;
        uint256 shortOpenInterest;
        int256 fundingIndex;
        int256 lastFundingRate;
        int256 predictedFundingRate;
        uint256 nextFundingTime;
        int256 traderPnl; // all positions' unrealised PnL at mark, before funding
        uint256 uncoveredBadDebt;
        bool paused;
    }

    struct PositionView {
        uint256 id;
        address owner;
        uint256 marketId;
        int256 size;
        uint256 entryPrice;
        uint256 margin;
        int256 pendingFunding;
        uint256 markPrice;
        uint256 notional; // at mark
        int256 unrealizedPnl; // at mark
        int256 equity; // margin + PnL - pending funding
        uint256 maintenanceMargin;
        uint256 leverage; // notional / equity; max uint when equity <= 0
        uint256 liquidationPrice;
        bool liquidatable;
    }

    struct Projection {
        MarketConfig cfg;
        MarketState st;
        Tier[] tiers;
        uint256 index;
        bool fresh;
        uint256 last;
        uint256 mark;
    }

    constructor(PerpEngineAdmin engine_, IOracle oracle_) {
        engine = engine_;
        oracle = oracle_;
    }

    /// @notice A market as a transaction in this block would see it.
    function market(uint256 marketId) public view returns (MarketView memory v) {
        Projection memory m = _project(marketId);
        v.marketId = marketId;
        v.symbol = m.cfg.symbol;
        v.indexPrice = m.index;
        v.indexFresh = m.fresh;
        v.markPrice = m.mark;
        v.lastPrice = m.last;
        v.skew = MarketLib.skew(m.st);
        v.longOpenInterest = m.st.longOpenInterest;
        v.shortOpenInterest = m.st.shortOpenInterest;
        v.fundingIndex = m.st.fundingIndex;
        v.lastFundingRate = m.st.lastFundingRate;
        v.predictedFundingRate = MarketLib.predictedFundingRate(m.cfg, m.st, block.timestamp);
        v.nextFundingTime = uint256(m.st.lastFundingTime) + m.cfg.fundingInterval;
        v.traderPnl =
            int256(uint256(m.st.longOpenInterest).mulDown(m.mark)) -
            int256(uint256(m.st.longEntryNotional)) +
            int256(uint256(m.st.shortEntryNotional)) -
            int256(uint256(m.st.shortOpenInterest).mulDown(m.mark));
        v.uncoveredBadDebt = m.st.uncoveredBadDebt;
        v.paused = m.st.paused;
    }

    /// @notice Every market, ids 1..marketCount.
    function markets() external view returns (MarketView[] memory list) {
        uint256 count = engine.marketCount();
        list = new MarketView[](count);
        for (uint256 i; i < count; ++i) list[i] = market(i + 1);
    }

    /// @notice The trader's panel for one position; size 0 (and nothing else) when it is not open.
    function position(uint256 id) external view returns (PositionView memory v) {
        Position memory p = engine.position(id);
        if (p.size == 0) {
            v.id = id;
            return v;
        }
        return _positionView(id, p, _project(p.marketId));
    }

    /// @notice Panels for many positions; closed ids come back with size 0. Markets are projected once.
    function positions(uint256[] calldata ids) external view returns (PositionView[] memory list) {
        list = new PositionView[](ids.length);
        Projection memory m;
        uint256 projected;
        for (uint256 i; i < ids.length; ++i) {
            Position memory p = engine.position(ids[i]);
            if (p.size == 0) {
                list[i].id = ids[i];
                continue;
            }
            if (p.marketId != projected) {
                m = _project(p.marketId);
                projected = p.marketId;
            }
            list[i] = _positionView(ids[i], p, m);
        }
    }

    /// @notice Whether each position is liquidatable now (closed ids: false). Cheaper than `positions`:
    /// only the health predicate, for keepers confirming candidates.
    function liquidatable(uint256[] calldata ids) external view returns (bool[] memory flags) {
        flags = new bool[](ids.length);
        Projection memory m;
        uint256 projected;
        for (uint256 i; i < ids.length; ++i) {
            Position memory p = engine.position(ids[i]);
            if (p.size == 0) continue;
            if (p.marketId != projected) {
                m = _project(p.marketId);
                projected = p.marketId;
            }
            int256 net = int256(uint256(p.margin)) -
                PositionLib.pendingFunding(p.size, p.fundingSnapshot, m.st.fundingIndex);
            flags[i] = MarginMath.isLiquidatable(m.tiers, p.size, p.entryPrice, net, m.mark);
        }
    }

    /// @notice ADL ranking inputs: PnL% of margin and effective leverage; score = pnl% * leverage (WAD).
    function adlScore(uint256 id) external view returns (int256 pnlPercent, uint256 leverage, int256 score) {
        Position memory p = engine.position(id);
        if (p.size == 0) return (0, 0, 0); // closed or unknown: no market to project
        PositionView memory v = _positionView(id, p, _project(p.marketId));
        if (v.equity <= 0) return (0, 0, 0);
        pnlPercent = ((v.unrealizedPnl - v.pendingFunding) * WadMath.IWAD) / int256(v.margin);
        leverage = v.leverage;
        score = (pnlPercent * int256(leverage)) / WadMath.IWAD;
    }

    function _positionView(
        uint256 id,
        Position memory p,
        Projection memory m
    ) private pure returns (PositionView memory v) {
        v.id = id;
        v.owner = p.owner;
        v.marketId = p.marketId;
        v.size = p.size;
        v.entryPrice = p.entryPrice;
        v.margin = p.margin;
        if (p.size == 0) return v;
        uint256 absSize = WadMath.abs(p.size);
        v.pendingFunding = PositionLib.pendingFunding(p.size, p.fundingSnapshot, m.st.fundingIndex);
        int256 net = int256(uint256(p.margin)) - v.pendingFunding;
        v.markPrice = m.mark;
        v.notional = absSize.mulDown(m.mark);
        v.unrealizedPnl = PositionLib.pnl(p.size, p.entryPrice, m.mark);
        v.equity = net + v.unrealizedPnl;
        v.maintenanceMargin = MarginMath.maintenanceMargin(m.tiers, absSize, m.mark);
        v.leverage = v.equity > 0 ? v.notional.divUp(uint256(v.equity)) : type(uint256).max;
        v.liquidationPrice = MarginMath.liquidationPrice(m.tiers, p.size, p.entryPrice, net);
        v.liquidatable = MarginMath.isLiquidatable(m.tiers, p.size, p.entryPrice, net, m.mark);
    }

    /// @dev The engine's `_load` + `_sync`, on a copy.
    function _project(uint256 marketId) private view returns (Projection memory m) {
        m.cfg = engine.marketConfig(marketId);
        m.st = engine.marketState(marketId);
        m.tiers = engine.tiers(marketId);
        uint256 fresh;
        (m.index, fresh) = oracle.indexPrice(marketId);
        m.fresh = fresh != 0;
        if (!m.fresh) (m.index, ) = oracle.lastIndexPrice(marketId);
        MarketLib.sync(m.cfg, m.st, m.index, block.timestamp);
        m.last = MarketLib.lastPrice(m.cfg, m.st, m.index);
        m.mark = MarketLib.markPrice(m.cfg, m.st, m.index, m.last, block.timestamp);
    }
}
