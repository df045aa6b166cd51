// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Tier} from "../libraries/MarginMath.sol";
import {WadMath} from "../libraries/WadMath.sol";
import {MarketConfig, MarketState} from "../libraries/MarketLib.sol";
import {Position} from "../libraries/PositionLib.sol";
import {IPerpEngineEvents} from "../interfaces/IPerpEngine.sol";
import {IPerpErrors} from "../interfaces/IPerpErrors.sol";

/// @title PerpEngineStorage
/// @notice The engine's storage and roles, shared by PerpEngine and the module it delegates market
/// administration and raw getters to (PerpEngineAdmin), so both run on one state; both emit the events
/// of IPerpEngineEvents and raise the errors of IPerpErrors.
abstract contract PerpEngineStorage is AccessControl, ReentrancyGuardTransient, IPerpEngineEvents, IPerpErrors {
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

    /// @dev A position as stored: two slots, (size, entry price) and (margin, funding snapshot). The owner
    /// and the market are in the id (PositionLib.id); `_loadPosition` puts them back.
    struct StoredPosition {
        int128 size;
        uint128 entryPrice;
        uint128 margin;
        int128 fundingSnapshot;
    }

    uint256 public marketCount;
    mapping(bytes32 symbol => uint256) public marketIdBySymbol;
    mapping(uint256 marketId => MarketConfig) internal _configs;
    mapping(uint256 marketId => MarketState) internal _states;
    mapping(uint256 marketId => StoredTier[]) internal _tiers;
    mapping(uint256 positionId => StoredPosition) internal _positions;

    /// @dev The position `id` names, its two words read whole; owner and market from the id when it is
    /// open (a closed or unknown id reads as all zero, as a deleted struct would).
    function _loadPosition(uint256 id) internal view returns (Position memory p) {
        StoredPosition storage s = _positions[id];
        assembly ("memory-safe") {
            let m128 := sub(shl(128, 1), 1)
            let w := sload(s.slot)
            let size := signextend(15, w)
            if size {
                mstore(p, and(id, sub(shl(160, 1), 1))) // owner
                mstore(add(p, 0x20), shr(160, id)) // marketId
            }
            mstore(add(p, 0x40), size)
            mstore(add(p, 0x60), shr(128, w)) // entryPrice
            w := sload(add(s.slot, 1))
            mstore(add(p, 0x80), and(w, m128)) // margin
            mstore(add(p, 0xa0), sar(128, w)) // fundingSnapshot
        }
    }

    /// @dev Writes `p`'s amounts as two whole words; a zero size deletes the position. The amounts were
    /// range-checked where they were computed (SafeCast), so the masks only drop sign bits.
    function _storePosition(uint256 id, Position memory p) internal {
        StoredPosition storage s = _positions[id];
        assembly ("memory-safe") {
            let m128 := sub(shl(128, 1), 1)
            switch mload(add(p, 0x40))
            case 0 {
                sstore(s.slot, 0)
                sstore(add(s.slot, 1), 0)
            }
            default {
                sstore(s.slot, or(and(mload(add(p, 0x40)), m128), shl(128, mload(add(p, 0x60)))))
                sstore(add(s.slot, 1), or(and(mload(add(p, 0x80)), m128), shl(128, mload(add(p, 0xa0)))))
            }
        }
    }

    /// @dev A market's tiers with their maintenance amounts, from the first up to the one that holds the
    /// notional `scaledNotional` / WAD (|size| x price, exact), or all of them when none does; and the
    /// market's tier count. Every MarginMath function returns on such a prefix what it returns on the
    /// whole list for that notional or a smaller one: none looks above the tier that holds its notional.
    /// One cold slot per tier read. The amounts are MarginMath.deriveMaintenanceAmounts' recurrence, in
    /// one pass over the stored words.
    function _loadTiers(uint256 marketId, uint256 scaledNotional) internal view returns (Tier[] memory t, uint256 n) {
        StoredTier[] storage stored = _tiers[marketId];
        n = stored.length;
        t = new Tier[](n);
        uint256 amount;
        uint256 prevCap;
        uint256 prevMmr;
        for (uint256 i; i < n; ++i) {
            StoredTier storage x = stored[i];
            (uint256 cap, uint256 mmr, uint256 maxLeverage) = (x.notionalCap, x.mmr, x.maxLeverage);
            if (i != 0) amount += prevCap.mulDown(mmr - prevMmr);
            t[i] = Tier(uint128(cap), uint128(amount), uint128(mmr), uint128(maxLeverage));
            if (scaledNotional <= cap * WadMath.WAD) {
                assembly ("memory-safe") {
                    mstore(t, add(i, 1)) // the prefix: shortens the array in place
                }
                break;
            }
            (prevCap, prevMmr) = (cap, mmr);
        }
    }

    /// @dev The MarketConfig words every call reads (slots 1, 2, 4, 5, 6: skew scale and caps, fees, funding
    /// parameters and interval, bands and factors, mark method), read whole. Not loaded, left zero: `symbol`
    /// (slot 0; a market exists iff its skewScale is not zero); slot 3 (minimum margin and liquidation fee),
    /// which `_loadMinimums` adds for the paths that check them (increase, margin, liquidation); and slot 7
    /// (funding model, maximum funding velocity, oracle grace period), which `_loadFundingConfig` adds when
    /// a funding boundary is due.
    /// The layout is the compiler's for the struct (MarketLib.sol); admin.marketConfig reads it through the
    /// compiler.
    function _loadTradeConfig(uint256 marketId) internal view returns (MarketConfig memory cfg) {
        MarketConfig storage s = _configs[marketId];
        assembly ("memory-safe") {
            let m128 := sub(shl(128, 1), 1)
            let m64 := sub(shl(64, 1), 1)
            let w := sload(add(s.slot, 1))
            mstore(add(cfg, 0x20), and(w, m128)) // skewScale
            mstore(add(cfg, 0x40), shr(128, w)) // maxOpenInterest
            w := sload(add(s.slot, 2))
            mstore(add(cfg, 0x60), and(w, m64)) // takerFee
            mstore(add(cfg, 0x80), and(shr(64, w), m64)) // makerFee
            mstore(add(cfg, 0xa0), and(shr(128, w), m64)) // liquidationFeeRate
            mstore(add(cfg, 0xc0), shr(192, w)) // insuranceFeeShare
            w := sload(add(s.slot, 4))
            mstore(add(cfg, 0x120), and(w, m64)) // fundingInterestRate
            mstore(add(cfg, 0x140), and(shr(64, w), m64)) // fundingClamp
            mstore(add(cfg, 0x160), and(shr(128, w), m64)) // fundingCap
            mstore(add(cfg, 0x180), and(shr(192, w), 0xffffffff)) // fundingInterval
            mstore(add(cfg, 0x1a0), shr(224, w)) // emaHalfLife
            w := sload(add(s.slot, 5))
            mstore(add(cfg, 0x1c0), and(w, m64)) // markBand
            mstore(add(cfg, 0x1e0), and(shr(64, w), m64)) // reserveFactor
            mstore(add(cfg, 0x200), and(shr(128, w), m64)) // maxPnlFactor
            mstore(add(cfg, 0x220), shr(192, w)) // partialLiquidationBuffer
            w := sload(add(s.slot, 6))
            mstore(add(cfg, 0x240), and(w, 0xff)) // markModel (a MarkMethod)
            mstore(add(cfg, 0x260), and(shr(8, w), sub(shl(96, 1), 1))) // minPositionNotional
        }
    }

    /// @dev Adds MarketConfig's slot 3 (minimum liquidation fee, minimum margin) to a config from
    /// `_loadTradeConfig`.
    function _loadMinimums(uint256 marketId, MarketConfig memory cfg) internal view {
        MarketConfig storage s = _configs[marketId];
        assembly ("memory-safe") {
            let w := sload(add(s.slot, 3))
            mstore(add(cfg, 0xe0), and(w, sub(shl(128, 1), 1))) // minLiquidationFee
            mstore(add(cfg, 0x100), shr(128, w)) // minMargin
        }
    }

    /// @dev Adds MarketConfig's slot 7 (funding model, maximum funding velocity, oracle grace period) to a
    /// config from `_loadTradeConfig`.
    function _loadFundingConfig(uint256 marketId, MarketConfig memory cfg) internal view {
        MarketConfig storage s = _configs[marketId];
        assembly ("memory-safe") {
            let w := sload(add(s.slot, 7))
            mstore(add(cfg, 0x280), and(w, sub(shl(160, 1), 1))) // fundingModel
            mstore(add(cfg, 0x2a0), and(shr(160, w), sub(shl(64, 1), 1))) // maxFundingVelocity
            mstore(add(cfg, 0x2c0), shr(224, w)) // oracleGracePeriod
        }
    }

    /// @dev MarketState's seven storage words, read whole (the compiler's struct copy reads every packed
    /// member on its own). The layout is the compiler's for the struct (MarketLib.sol): members in order,
    /// each from the low-order end of its slot; admin.marketState() reads it back through the compiler.
    function _loadState(uint256 marketId) internal view returns (MarketState memory st) {
        MarketState storage s = _states[marketId];
        assembly ("memory-safe") {
            let m128 := sub(shl(128, 1), 1)
            let m96 := sub(shl(96, 1), 1)
            let m64 := sub(shl(64, 1), 1)
            let m40 := sub(shl(40, 1), 1)
            let w := sload(s.slot)
            mstore(st, and(w, m128)) // longOpenInterest
            mstore(add(st, 0x20), shr(128, w)) // shortOpenInterest
            w := sload(add(s.slot, 1))
            mstore(add(st, 0x40), and(w, m128)) // longEntryNotional
            mstore(add(st, 0x60), shr(128, w)) // shortEntryNotional
            w := sload(add(s.slot, 2))
            mstore(add(st, 0x80), signextend(15, w)) // fundingIndex
            mstore(add(st, 0xa0), signextend(7, shr(128, w))) // lastFundingRate
            mstore(add(st, 0xc0), and(shr(192, w), m40)) // lastFundingTime
            w := sload(add(s.slot, 3))
            mstore(add(st, 0xe0), signextend(11, w)) // premiumCum
            mstore(add(st, 0x100), signextend(7, shr(96, w))) // lastPremium
            mstore(add(st, 0x120), and(shr(160, w), m40)) // lastSampleTime
            mstore(add(st, 0x140), and(shr(200, w), m40)) // premiumStart
            w := sload(add(s.slot, 4))
            mstore(add(st, 0x160), signextend(11, w)) // emaBasis
            mstore(add(st, 0x180), and(shr(96, w), m96)) // lastIndex
            mstore(add(st, 0x1a0), and(shr(192, w), m40)) // lastIndexTime
            w := sload(add(s.slot, 5))
            mstore(add(st, 0x1c0), and(w, m128)) // uncoveredBadDebt
            mstore(add(st, 0x1e0), and(shr(128, w), 0xff)) // paused
            mstore(add(st, 0x200), and(shr(136, w), m64)) // longEntryRemainder
            w := sload(add(s.slot, 6))
            mstore(add(st, 0x220), signextend(15, w)) // fundingSnapshotSum
            mstore(add(st, 0x240), and(shr(128, w), m64)) // fundingSnapshotRemainder
            mstore(add(st, 0x260), shr(192, w)) // shortEntryRemainder
        }
    }

    /// @dev Writes `st` back as seven whole words, each slot once (see _loadState for the layout).
    function _storeState(uint256 marketId, MarketState memory st) internal {
        MarketState storage s = _states[marketId];
        assembly ("memory-safe") {
            let m128 := sub(shl(128, 1), 1)
            let m96 := sub(shl(96, 1), 1)
            let m64 := sub(shl(64, 1), 1)
            let m40 := sub(shl(40, 1), 1)
            sstore(s.slot, or(and(mload(st), m128), shl(128, mload(add(st, 0x20)))))
            sstore(add(s.slot, 1), or(and(mload(add(st, 0x40)), m128), shl(128, mload(add(st, 0x60)))))
            sstore(
                add(s.slot, 2),
                or(
                    or(and(mload(add(st, 0x80)), m128), shl(128, and(mload(add(st, 0xa0)), m64))),
                    shl(192, and(mload(add(st, 0xc0)), m40))
                )
            )
            sstore(
                add(s.slot, 3),
                or(
                    or(and(mload(add(st, 0xe0)), m96), shl(96, and(mload(add(st, 0x100)), m64))),
                    or(shl(160, and(mload(add(st, 0x120)), m40)), shl(200, and(mload(add(st, 0x140)), m40)))
                )
            )
            sstore(
                add(s.slot, 4),
                or(
                    or(and(mload(add(st, 0x160)), m96), shl(96, and(mload(add(st, 0x180)), m96))),
                    shl(192, and(mload(add(st, 0x1a0)), m40))
                )
            )
            sstore(
                add(s.slot, 5),
                or(
                    or(and(mload(add(st, 0x1c0)), m128), shl(128, and(mload(add(st, 0x1e0)), 0xff))),
                    shl(136, and(mload(add(st, 0x200)), m64))
                )
            )
            sstore(
                add(s.slot, 6),
                or(
                    or(and(mload(add(st, 0x220)), m128), shl(128, and(mload(add(st, 0x240)), m64))),
                    shl(192, and(mload(add(st, 0x260)), m64))
                )
            )
        }
    }
}
