// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {WadMath} from "../libraries/WadMath.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {MarginMath, Tier} from "../libraries/MarginMath.sol";
import {MarketLib, MarketConfig, MarketState} from "../libraries/MarketLib.sol";
import {Position, PositionLib} from "../libraries/PositionLib.sol";
import {PerpEngineStorage} from "./PerpEngineStorage.sol";
import {IOracle} from "../interfaces/IOracle.sol";
import {IVault} from "../interfaces/IVault.sol";
import {IPoolValuation, PoolValuation} from "../interfaces/IPoolValuation.sol";

/// @title PerpEngineAdmin
/// @notice Market administration and raw getters of the engine. It is never called directly: the
/// engine delegates every selector it does not know to it, so it runs on the engine's storage and
/// roles. It keeps the engine under the contract size limit without touching the trading paths.
/// Call it through the engine's address with this ABI.
contract PerpEngineAdmin is PerpEngineStorage, IPoolValuation {
    using WadMath for uint256;
    using SafeCast for uint256;

    /// @notice The engine's vault and oracle (immutables live in this module's code, so it reads them
    /// when the engine delegates to it).
    IVault public immutable valuationVault;
    IOracle public immutable valuationOracle;

    constructor(IVault vault_, IOracle oracle_) {
        valuationVault = vault_;
        valuationOracle = oracle_;
    }

    /* ------------------------------------------------------------------ MARKET CONFIGURATION */

    /// @notice Creates a market; config role only. Tiers' maintenance amounts are derived, not taken.
    function createMarket(
        MarketConfig calldata cfg,
        Tier[] calldata tierList
    ) external onlyRole(CONFIG_ROLE) returns (uint256 marketId) {
        if (cfg.symbol == 0) revert InvalidConfig("symbol");
        if (marketIdBySymbol[cfg.symbol] != 0) revert DuplicateSymbol(cfg.symbol);
        marketId = ++marketCount;
        marketIdBySymbol[cfg.symbol] = marketId;
        emit MarketCreated(marketId, cfg.symbol);
        _setTiers(marketId, tierList);
        _setConfig(marketId, cfg); // validated first: the funding interval below is not zero
        StoredState storage st = _states[marketId];
        st.lastFundingTime = ((block.timestamp / cfg.fundingInterval) * cfg.fundingInterval).toUint40();
        st.premiumStart = block.timestamp.toUint40();
        st.lastSampleTime = block.timestamp.toUint40();
    }

    /// @notice Replaces a market's configuration (same symbol); config role only.
    function setMarketConfig(uint256 marketId, MarketConfig calldata cfg) external onlyRole(CONFIG_ROLE) {
        if (_configs[marketId].symbol != cfg.symbol || cfg.symbol == 0) revert UnknownMarket(marketId);
        _setConfig(marketId, cfg);
    }

    /// @notice Replaces a market's maintenance tiers; config role only.
    function setTiers(uint256 marketId, Tier[] calldata tierList) external onlyRole(CONFIG_ROLE) {
        if (_configs[marketId].symbol == 0) revert UnknownMarket(marketId);
        _setTiers(marketId, tierList);
        _validateLiquidationFee(_loadTradeConfig(marketId).liquidationFeeRate, marketId);
    }

    /// @notice Pauses or resumes new risk on a market; closing, margin and liquidation keep working.
    function setPaused(uint256 marketId, bool paused) external onlyRole(CONFIG_ROLE) {
        if (_configs[marketId].symbol == 0) revert UnknownMarket(marketId);
        _states[marketId].paused = paused;
        emit MarketPaused(marketId, paused);
    }

    /* ------------------------------------------------------------------ VIEWS */

    /// @notice The id of `account`'s position on `marketId` (whether open or not).
    function positionId(address account, uint256 marketId) external pure returns (uint256) {
        return PositionLib.id(account, marketId);
    }

    /// @notice The position `id` names (all zero when it is closed or was never opened).
    function position(uint256 id) external view returns (Position memory) {
        return _loadPosition(id);
    }

    /// @notice A market's configuration as set (WAD rates, wei amounts); all zero for an unknown id.
    function marketConfig(uint256 marketId) external view returns (MarketConfig memory) {
        return _loadConfig(marketId);
    }

    /// @notice A market's running state as stored, bad debt included; all zero for an unknown id.
    function marketState(uint256 marketId) external view returns (MarketState memory) {
        return _loadFullState(marketId);
    }

    function tiers(uint256 marketId) external view returns (Tier[] memory t) {
        (t, ) = _loadTiers(marketId, type(uint256).max);
    }

    /// @notice Pool assets reserved for open interest (WAD USD): per market, the larger side's notional
    /// at the index the pool is valued at (the oracle's, or its last good one while stale: MarketLib.indexOf)
    /// times the market's reserve factor. LP redemptions cannot take them.
    function reservedAssets() external view override returns (uint256 reserved) {
        for (uint256 id = 1; id <= marketCount; ++id) {
            StoredState storage st = _states[id];
            uint256 oi = WadMath.max(st.longOpenInterest, st.shortOpenInterest);
            if (oi == 0) continue; // no reserve, and no oracle read
            (uint256 index, ) = MarketLib.indexOf(valuationOracle, id);
            reserved += oi.mulUp(index).mulUp(uint256(_configs[id].reserveFactor) * TRADE_RATE_UNIT);
        }
    }

    /// @inheritdoc IPoolValuation
    /// @dev Each market is projected to this block with the engine's own function (MarketLib.asOfNow on a
    /// copy): the funding index includes boundaries not yet settled, as a trade would.
    function poolValuation() external view override returns (PoolValuation memory v) {
        v.ledger = valuationVault.poolAssets();
        for (uint256 id = 1; id <= marketCount; ++id) {
            MarketConfig memory cfg = _loadConfig(id);
            MarketState memory st = _loadFullState(id);
            (uint256 index, bool fresh) = MarketLib.indexOf(valuationOracle, id);
            if (!fresh && v.staleMarketId == 0) v.staleMarketId = id;
            (, , , uint256 mark) = MarketLib.asOfNow(cfg, st, index, block.timestamp);
            v.traderPnl += MarketLib.cappedTradersPnl(MarketLib.tradersPnl(st, mark), v.ledger, cfg.maxPnlFactor);
            v.fundingOwed += MarketLib.tradersFundingOwed(st);
        }
        v.value = int256(v.ledger) - v.traderPnl + v.fundingOwed;
    }

    /* ------------------------------------------------------------------ INTERNAL: CONFIG */

    function _setConfig(uint256 marketId, MarketConfig calldata cfg) private {
        if (cfg.skewScale == 0) revert InvalidConfig("skewScale");
        // The cap bounds each side's open interest, stored in 96 bits (StoredState), and so each position's
        // size, stored signed in 96 (PerpEngineStorage._positions).
        if (cfg.maxOpenInterest == 0 || cfg.maxOpenInterest >= cfg.skewScale || cfg.maxOpenInterest >> 95 != 0) {
            revert InvalidConfig("maxOpenInterest");
        }
        if (cfg.takerFee > MAX_FEE || cfg.makerFee > cfg.takerFee) revert InvalidConfig("fees");
        if (cfg.insuranceFeeShare > WadMath.WAD) revert InvalidConfig("insuranceFeeShare");
        if (cfg.fundingInterval == 0) revert InvalidConfig("fundingInterval");
        if (cfg.fundingCap > MAX_FUNDING_CAP) revert InvalidConfig("fundingCap");
        if (cfg.markBand >= WadMath.WAD) revert InvalidConfig("markBand");
        if (address(cfg.fundingModel).code.length == 0) revert InvalidConfig("fundingModel");
        if (cfg.minMargin == 0) revert InvalidConfig("minMargin");
        if (cfg.maxPnlFactor == 0 || cfg.maxPnlFactor > WadMath.WAD) revert InvalidConfig("maxPnlFactor");
        _validateLiquidationFee(cfg.liquidationFeeRate, marketId);
        StoredConfig memory next = _toStored(cfg);
        next.tierCount = _configs[marketId].tierCount; // set by setTiers
        _configs[marketId] = next;
        emit MarketConfigured(marketId, cfg);
    }

    /// @dev `cfg` in its stored units; a value they do not hold exactly is refused, naming the field.
    function _toStored(MarketConfig calldata cfg) private pure returns (StoredConfig memory s) {
        s.symbol = cfg.symbol;
        s.skewScale = uint64(_narrow(cfg.skewScale, BASE_UNIT, 64, "skewScale"));
        s.maxOpenInterest = uint64(_narrow(cfg.maxOpenInterest, BASE_UNIT, 64, "maxOpenInterest"));
        s.minPositionNotional = uint40(_narrow(cfg.minPositionNotional, USD_UNIT, 40, "minPositionNotional"));
        s.minLiquidationFee = uint40(_narrow(cfg.minLiquidationFee, USD_UNIT, 40, "minLiquidationFee"));
        s.minMargin = uint40(_narrow(cfg.minMargin, USD_UNIT, 40, "minMargin"));
        s.takerFee = _tradeRate(cfg.takerFee, "takerFee");
        s.makerFee = _tradeRate(cfg.makerFee, "makerFee");
        s.liquidationFeeRate = _tradeRate(cfg.liquidationFeeRate, "liquidationFeeRate");
        s.insuranceFeeShare = _tradeRate(cfg.insuranceFeeShare, "insuranceFeeShare");
        s.markBand = _tradeRate(cfg.markBand, "markBand");
        s.reserveFactor = _tradeRate(cfg.reserveFactor, "reserveFactor");
        s.maxPnlFactor = _tradeRate(cfg.maxPnlFactor, "maxPnlFactor");
        s.partialLiquidationBuffer = _tradeRate(cfg.partialLiquidationBuffer, "partialLiquidationBuffer");
        s.fundingInterval = uint24(_narrow(cfg.fundingInterval, 1, 24, "fundingInterval"));
        s.emaHalfLife = uint24(_narrow(cfg.emaHalfLife, 1, 24, "emaHalfLife"));
        s.markModel = uint8(cfg.markModel);
        s.fundingInterestRate = _signedRate(cfg.fundingInterestRate);
        s.fundingClamp = _rate(cfg.fundingClamp, "fundingClamp");
        s.fundingCap = _rate(cfg.fundingCap, "fundingCap");
        s.fundingModel = address(cfg.fundingModel);
        (s.maxFundingVelocity, s.oracleGracePeriod) = (cfg.maxFundingVelocity, cfg.oracleGracePeriod);
    }

    /// @dev A funding rate in RATE_UNIT, 32 bits.
    function _rate(uint256 value, bytes32 field) private pure returns (uint32) {
        return uint32(_narrow(value, RATE_UNIT, 32, field));
    }

    /// @dev A trade rate in TRADE_RATE_UNIT, 24 bits.
    function _tradeRate(uint256 value, bytes32 field) private pure returns (uint24) {
        return uint24(_narrow(value, TRADE_RATE_UNIT, 24, field));
    }

    /// @dev The interest rate in RATE_UNIT, signed (an inverse market charges the engine's shorts: its
    /// longs are the trader's shorts); refused unless exact and within int32.
    function _signedRate(int256 value) private pure returns (int32) {
        int256 unit = int256(RATE_UNIT);
        int256 q = value / unit;
        if (q * unit != value || q < type(int32).min || q > type(int32).max)
            revert InvalidConfig("fundingInterestRate");
        return int32(q);
    }

    /// @dev `value` / `unit`, refused unless exact and below 2^bits.
    function _narrow(uint256 value, uint256 unit, uint256 bits, bytes32 field) private pure returns (uint256 q) {
        q = value / unit;
        if (q * unit != value || q >> bits != 0) revert InvalidConfig(field);
    }

    /// @dev The keeper's reward rate must stay below the first tier's maintenance rate, or a partial
    /// liquidation could never restore health.
    function _validateLiquidationFee(uint256 liquidationFeeRate, uint256 marketId) private view {
        if (liquidationFeeRate >= _tiers[marketId][0].mmr) revert InvalidConfig("liquidationFeeRate");
    }

    function _setTiers(uint256 marketId, Tier[] calldata input) private {
        if (input.length == 0 || input.length > MAX_TIERS) revert InvalidTiers(input.length, "count");
        Tier[] memory t = input;
        for (uint256 i; i < t.length; ++i) {
            if (t[i].notionalCap > type(uint96).max) revert InvalidTiers(i, "notionalCap");
            if (t[i].mmr == 0 || t[i].mmr >= WadMath.WAD) revert InvalidTiers(i, "mmr");
            if (t[i].maxLeverage > type(uint96).max) revert InvalidTiers(i, "maxLeverage");
            if (t[i].maxLeverage < WadMath.WAD || uint256(t[i].maxLeverage).mulDown(t[i].mmr) >= WadMath.WAD) {
                revert InvalidTiers(i, "maxLeverage");
            }
            if (i > 0) {
                if (t[i].notionalCap <= t[i - 1].notionalCap) revert InvalidTiers(i, "notionalCap");
                if (t[i].mmr < t[i - 1].mmr) revert InvalidTiers(i, "mmr");
                if (t[i].maxLeverage > t[i - 1].maxLeverage) revert InvalidTiers(i, "maxLeverage");
            }
        }
        MarginMath.deriveMaintenanceAmounts(t);
        StoredTier[MAX_TIERS] storage stored = _tiers[marketId];
        for (uint256 i; i < t.length; ++i) {
            stored[i] = StoredTier({
                notionalCap: uint96(t[i].notionalCap), // checked above
                mmr: uint64(t[i].mmr), // < WAD
                maxLeverage: uint96(t[i].maxLeverage) // checked above
            });
        }
        for (uint256 i = t.length; i < _configs[marketId].tierCount; ++i) delete stored[i];
        _configs[marketId].tierCount = uint8(t.length); // <= MAX_TIERS
        emit TiersSet(marketId, t);
    }
}
