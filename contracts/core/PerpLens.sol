// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IOracle} from "../interfaces/IOracle.sol";
import {WadMath} from "../libraries/WadMath.sol";
import {MarginMath, Tier} from "../libraries/MarginMath.sol";
import {MarketLib, MarketConfig, MarketState} from "../libraries/MarketLib.sol";
import {Position, PositionLib} from "../libraries/PositionLib.sol";
import {PerpEngineAdmin} from "./PerpEngineAdmin.sol";
import {PoolValuation} from "../interfaces/IPoolValuation.sol";
import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";

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
        int256 traderPnl; // all positions' unrealised PnL at mark, before funding (exact sum, rounded up)
        int256 fundingOwed; // net funding all positions owe and have not paid (exact sum, rounded down)
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

    /// @notice The pool valued at mark and what an LP sees. USD amounts WAD; asset amounts in the
    /// collateral's units.
    struct PoolView {
        uint256 ledger; // realised: the vault's pool ledger
        int256 traderPnl; // traders' net unrealised PnL counted against the pool (profits capped)
        int256 fundingOwed; // net funding traders owe, unpaid
        int256 value; // ledger - traderPnl + fundingOwed
        uint256 staleMarketId; // deposits and redemptions are refused while non-zero
        uint256 reserved; // ledger reserved for open interest
        uint256 totalAssets; // ERC-4626 totalAssets (asset units)
        uint256 totalSupply; // shares
        uint256 sharePrice; // assets (asset units) of one whole share (10^decimals share units)
        uint256 maxRedeemable; // assets redemptions may take now, all LPs together (asset units): ledger less reserve
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
        v.traderPnl = MarketLib.tradersPnl(m.st, m.mark);
        v.fundingOwed = MarketLib.tradersFundingOwed(m.st);
        v.uncoveredBadDebt = m.st.uncoveredBadDebt;
        v.paused = m.st.paused;
    }

    /// @notice The liquidity pool `lp` (an ERC-4626 over this engine's pool) valued at mark, with its parts.
    function pool(IERC4626 lp) external view returns (PoolView memory v) {
        PoolValuation memory val = engine.poolValuation();
        v.ledger = val.ledger;
        v.traderPnl = val.traderPnl;
        v.fundingOwed = val.fundingOwed;
        v.value = val.value;
        v.staleMarketId = val.staleMarketId;
        v.reserved = engine.reservedAssets();
        v.totalAssets = lp.totalAssets();
        v.totalSupply = lp.totalSupply();
        v.sharePrice = lp.convertToAssets(10 ** lp.decimals());
        v.maxRedeemable = _available(v.ledger, v.reserved, lp);
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
            int256 net = PositionLib.netMargin(p, m.st.fundingIndex);
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

    function _available(uint256 ledger, uint256 reserved, IERC4626 lp) private view returns (uint256) {
        uint256 unitScale = 10 ** (18 - uint256(IERC4626(lp.asset()).decimals()));
        return ledger > reserved ? (ledger - reserved) / unitScale : 0;
    }

    /// @dev The market as a transaction in this block sees it (MarketLib.asOfNow), on a copy.
    function _project(uint256 marketId) private view returns (Projection memory m) {
        m.cfg = engine.marketConfig(marketId);
        m.st = engine.marketState(marketId);
        m.tiers = engine.tiers(marketId);
        (m.index, m.fresh) = MarketLib.indexOf(oracle, marketId);
        (, , , m.mark) = MarketLib.asOfNow(m.cfg, m.st, m.index, block.timestamp);
        m.last = MarketLib.lastPrice(m.cfg, m.st, m.index);
    }
}
