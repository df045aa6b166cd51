// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Tier} from "../libraries/MarginMath.sol";
import {WadMath} from "../libraries/WadMath.sol";
import {MarketConfig, MarketState} from "../libraries/MarketLib.sol";
import {Position} from "../libraries/PositionLib.sol";

/// @title PerpEngineStorage
/// @notice The engine's storage, roles, events and errors, shared by PerpEngine and the module it
/// delegates market administration and raw getters to (PerpEngineAdmin), so both run on one state.
abstract contract PerpEngineStorage is AccessControl, ReentrancyGuardTransient {
    using WadMath for uint256;

    /// @notice May create markets and change their configuration, tiers and pause flag.
    bytes32 public constant CONFIG_ROLE = keccak256("CONFIG_ROLE");
    /// @notice The order book: may trade on behalf of accounts whose orders it executes.
    bytes32 public constant EXECUTOR_ROLE = keccak256("EXECUTOR_ROLE");

    uint256 public constant MAX_TIERS = 10;
    uint256 internal constant MAX_FEE = 0.1e18;
    uint256 internal constant MAX_FUNDING_CAP = 0.1e18;

    /// @dev A maintenance tier as stored: one slot. The maintenance amount is not stored: it is derived
    /// from the caps and rates below it (MarginMath.deriveMaintenanceAmounts) whenever tiers are loaded.
    struct StoredTier {
        uint96 notionalCap;
        uint64 mmr;
        uint96 maxLeverage;
    }

    uint256 public marketCount;
    mapping(bytes32 symbol => uint256) public marketIdBySymbol;
    mapping(uint256 marketId => MarketConfig) internal _configs;
    mapping(uint256 marketId => MarketState) internal _states;
    mapping(uint256 marketId => StoredTier[]) internal _tiers;
    mapping(uint256 positionId => Position) internal _positions;

    /// @dev A market's tiers with their maintenance amounts, as set (one cold slot per tier). The amounts
    /// are MarginMath.deriveMaintenanceAmounts' recurrence, in one pass over the stored words.
    function _loadTiers(uint256 marketId) internal view returns (Tier[] memory t) {
        StoredTier[] storage stored = _tiers[marketId];
        uint256 n = stored.length;
        t = new Tier[](n);
        uint256 amount;
        uint256 prevCap;
        uint256 prevMmr;
        for (uint256 i; i < n; ++i) {
            StoredTier storage x = stored[i];
            (uint256 cap, uint256 mmr, uint256 maxLeverage) = (x.notionalCap, x.mmr, x.maxLeverage);
            if (i != 0) amount += prevCap.mulDown(mmr - prevMmr);
            t[i] = Tier(uint128(cap), uint128(amount), uint128(mmr), uint128(maxLeverage));
            (prevCap, prevMmr) = (cap, mmr);
        }
    }

    /* ------------------------------------------------------------------ EVENTS */

    event MarketCreated(uint256 indexed marketId, bytes32 symbol);
    event MarketConfigured(uint256 indexed marketId, MarketConfig config);
    event TiersSet(uint256 indexed marketId, Tier[] tiers);
    event MarketPaused(uint256 indexed marketId, bool paused);
    /// @notice The full state of a position after any change (size 0: closed). Enough to rebuild it.
    event PositionUpdated(
        uint256 indexed id,
        address indexed account,
        uint256 indexed marketId,
        int256 size,
        uint256 entryPrice,
        uint256 margin,
        int256 fundingSnapshot
    );
    event Trade(
        uint256 indexed id,
        address indexed account,
        uint256 indexed marketId,
        int256 sizeDelta,
        uint256 fillPrice,
        uint256 fee,
        int256 realizedPnl,
        int256 fundingPaid
    );
    event MarginChanged(uint256 indexed id, address indexed account, int256 amount, int256 fundingPaid);
    event Liquidation(
        uint256 indexed id,
        address indexed account,
        uint256 indexed marketId,
        address keeper,
        int256 closedSize,
        uint256 markPrice,
        int256 equity,
        uint256 reward,
        uint256 badDebt
    );
    event BadDebt(uint256 indexed marketId, uint256 amount, uint256 coveredByInsurance, uint256 uncovered);
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
    event FundingSettled(
        uint256 indexed marketId,
        int256 rate,
        int256 fundingIndex,
        uint256 boundary,
        uint256 intervals
    );

    /* ------------------------------------------------------------------ ERRORS */

    error UnknownMarket(uint256 marketId);
    error DuplicateSymbol(bytes32 symbol);
    error InvalidConfig(bytes32 field);
    error InvalidTiers(uint256 index, bytes32 field);
    error MarketIsPaused(uint256 marketId);
    error NoFreshPrice(uint256 marketId);
    error ZeroSize();
    error ZeroAmount();
    error SideMismatch(int256 size, int256 sizeDelta);
    error NoPosition(address account, uint256 marketId);
    error PositionNotFound(uint256 id);
    error SizeExceedsPosition(uint256 size, uint256 positionSize);
    error SlippageExceeded(uint256 fillPrice, uint256 acceptablePrice);
    error OpenInterestCapExceeded(bool isLong, uint256 openInterest, uint256 cap);
    error MarginTooLow(int256 margin, uint256 minMargin);
    error LeverageTooHigh(uint256 leverage, uint256 maxLeverage);
    error PositionTooLarge(uint256 notional, uint256 maxNotional);
    error PositionTooSmall(uint256 notional, uint256 minNotional);
    error WouldBeLiquidatable(uint256 id);
    error PositionHealthy(uint256 id, uint256 markPrice);
    error AdlNotActive(uint256 marketId);
    error NotProfitable(uint256 id, int256 pnl);
    error NotWinningSide(uint256 id);
}
