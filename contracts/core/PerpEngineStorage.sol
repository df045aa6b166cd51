// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Tier} from "../libraries/MarginMath.sol";
import {WadMath} from "../libraries/WadMath.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {MarketConfig, MarketState} from "../libraries/MarketLib.sol";
import {IFundingModel} from "../interfaces/IFundingModel.sol";
import {Position} from "../libraries/PositionLib.sol";
import {DecimalFloat} from "../libraries/DecimalFloat.sol";
import {IPerpEngineEvents} from "../interfaces/IPerpEngine.sol";
import {IPerpErrors} from "../interfaces/IPerpErrors.sol";

/// @title PerpEngineStorage
/// @notice The engine's storage and roles, shared by PerpEngine and the module it delegates market
/// administration and raw getters to (PerpEngineAdmin), so both run on one state; both emit the events
/// of IPerpEngineEvents and raise the errors of IPerpErrors.
abstract contract PerpEngineStorage is AccessControl, ReentrancyGuardTransient, IPerpEngineEvents, IPerpErrors {
    using WadMath for uint256;
    using SafeCast for uint256;

    /// @notice May create markets and change their configuration, tiers and pause flag.
    bytes32 public constant CONFIG_ROLE = keccak256("CONFIG_ROLE");
    /// @notice The order book: may trade on behalf of accounts whose orders it executes.
    bytes32 public constant EXECUTOR_ROLE = keccak256("EXECUTOR_ROLE");

    uint256 public constant MAX_TIERS = 10;
    uint256 internal constant MAX_FEE = 0.1e18;
    uint256 internal constant MAX_FUNDING_CAP = 0.1e18;

    /// @dev The unit of a funding rate as stored: 1e-9 (a WAD rate divided by RATE_UNIT fits a uint32 up to
    /// 4.29).
    uint256 internal constant RATE_UNIT = 1e9;
    /// @dev The unit of a trade rate (fees, shares, bands, factors) as stored: 1e-7 (a WAD rate divided by
    /// TRADE_RATE_UNIT fits a uint24 up to 1.677).
    uint256 internal constant TRADE_RATE_UNIT = 1e11;
    /// @dev The unit of the skew scale and the open-interest cap as stored: one whole base unit.
    uint256 internal constant BASE_UNIT = 1e18;
    /// @dev The unit of the minimum position notional as stored: 1e-6 USD.
    uint256 internal constant USD_UNIT = 1e12;

    /// @dev A maintenance tier as stored: one slot. The maintenance amount is not stored: it is derived
    /// from the caps and rates below it (MarginMath.deriveMaintenanceAmounts) whenever tiers are loaded.
    struct StoredTier {
        uint96 notionalCap;
        uint64 mmr;
        uint96 maxLeverage;
    }

    /// @dev A market's configuration as stored: five slots, of which a trade reads two (1 and 2). The skew
    /// scale and the cap are in whole base units (BASE_UNIT), the minimums (notional, liquidation fee,
    /// margin) in USD_UNIT, the eight trade rates in TRADE_RATE_UNIT and the funding model's in RATE_UNIT;
    /// setMarketConfig refuses a value these units or widths do not hold exactly, naming the field.
    /// `tierCount` is the length of the market's tier list, read with the trade config.
    struct StoredConfig {
        bytes32 symbol; // slot 0
        uint64 skewScale; // slot 1: the skew scale and cap, the three minimums
        uint64 maxOpenInterest;
        uint40 minPositionNotional;
        uint40 minLiquidationFee;
        uint40 minMargin;
        uint24 takerFee; // slot 2: the eight rates a trade may need, the funding clock, mark method, tiers
        uint24 makerFee;
        uint24 liquidationFeeRate;
        uint24 insuranceFeeShare;
        uint24 markBand;
        uint24 reserveFactor;
        uint24 maxPnlFactor;
        uint24 partialLiquidationBuffer;
        uint24 fundingInterval;
        uint24 emaHalfLife;
        uint8 markModel;
        uint8 tierCount;
        int32 fundingInterestRate; // slot 3: the funding model's rates, read when a boundary is due
        uint32 fundingClamp;
        uint32 fundingCap;
        address fundingModel; // slot 4: read when a funding boundary is due or the oracle is stale
        uint64 maxFundingVelocity;
        uint32 oracleGracePeriod;
    }

    /// @dev A position as stored: one word, (size, margin, entry price, funding snapshot) from the low bits:
    /// the size as an int96 (3.9e10 base units; a trade that grows a position checks it: SafeCast), the
    /// margin as a uint88 (3.1e8 collateral units; checked where it is computed, PositionLib.update and
    /// `_writeReduced`), the entry price and the snapshot as 36-bit DecimalFloat codes (nine significant
    /// digits, rounded in the protocol's favour where they are computed). The owner and the market are in
    /// the id (PositionLib.id); `_loadPosition` puts them back.
    uint256 private constant SIZE_BITS = 96;
    uint256 private constant MARGIN_BITS = 88;
    uint256 private constant ENTRY_SHIFT = SIZE_BITS + MARGIN_BITS; // 184
    uint256 private constant SNAPSHOT_SHIFT = ENTRY_SHIFT + 36; // 220

    /// @dev A market's state as stored: MarketState's fields in five words a trade reads whole
    /// (`_loadState`, `_storeState`), packed by what moves together, and a sixth that only bad debt and
    /// ADL touch. Each side has one word: its open interest and its exact entry sum (sum of |size| x entry,
    /// WAD^2: MarketState's entry notional * WAD + remainder, one integer), so a trade changes its own side's
    /// word and leaves the other side's as it was. Slot 2 moves only at a funding boundary; a trade rewrites
    /// its side's slot and slots 3 and 4 (the premium sample, its clock and the snapshot sum).
    /// Widths: open interest in 96 bits (setMarketConfig refuses a cap above 2^96 - 1, and only a trade that
    /// grows a side under the cap adds to it); an entry sum in 160 bits (1.4e12 USD of entry notional per
    /// side; it grows only when a position does, and `_storeState` checks it: SafeCast); `fundingIndex` in
    /// 112 bits (MarketLib.sync checks it); every other field at the width MarketState's computation checks.
    struct StoredState {
        uint96 longOpenInterest; // slot 0: the long side
        uint160 longEntrySum;
        uint96 shortOpenInterest; // slot 1: the short side
        uint160 shortEntrySum;
        int112 fundingIndex; // slot 2: the funding clock
        int64 lastFundingRate;
        uint40 lastFundingTime;
        uint40 premiumStart;
        int96 premiumCum; // slot 3: the premium accumulator and the basis EMA
        int64 lastPremium;
        int96 emaBasis;
        int128 fundingSnapshotSum; // slot 4: the snapshot sum, the sample clock and the pause flag
        uint64 fundingSnapshotRemainder;
        uint40 lastSampleTime;
        bool paused;
        uint128 uncoveredBadDebt; // slot 5: bad debt and ADL only (`_loadState` leaves it out)
    }

    uint256 public marketCount;
    mapping(bytes32 symbol => uint256) public marketIdBySymbol;
    mapping(uint256 marketId => StoredConfig) internal _configs;
    mapping(uint256 marketId => StoredState) internal _states;
    /// @dev A fixed array: its count is the config's `tierCount`, so no length slot is read.
    mapping(uint256 marketId => StoredTier[MAX_TIERS]) internal _tiers;
    mapping(uint256 positionId => uint256 word) internal _positions;

    /// @dev The position `id` names, its word read whole; owner and market from the id when it is open (a
    /// closed or unknown id reads as all zero, as a deleted struct would).
    function _loadPosition(uint256 id) internal view returns (Position memory p) {
        uint256 w = _positions[id];
        // DecimalFloat.decode and decodeSigned, in place: the entry is m (31 bits) x 10^e (5 bits above it);
        // the snapshot is m (30 bits) x 10^e (5 bits), with the sign in the word's top bit.
        assembly ("memory-safe") {
            let size := signextend(11, w) // the low 96 bits, signed
            if size {
                mstore(p, and(id, sub(shl(160, 1), 1))) // owner
                mstore(add(p, 0x20), shr(160, id)) // marketId
                mstore(add(p, 0x40), size)
                mstore(add(p, 0x80), and(shr(96, w), sub(shl(88, 1), 1))) // margin: 88 bits above the size
                let e := shr(184, w) // ENTRY_SHIFT
                mstore(add(p, 0x60), mul(and(e, 0x7fffffff), exp(10, and(shr(31, e), 31)))) // entryPrice
                e := shr(220, w) // SNAPSHOT_SHIFT
                let v := mul(and(e, 0x3fffffff), exp(10, and(shr(30, e), 31)))
                if shr(35, e) {
                    v := sub(0, v)
                }
                mstore(add(p, 0xa0), v) // fundingSnapshot
            }
        }
    }

    /// @dev Writes `p`'s amounts as one word; a zero size deletes the position. The size and the margin were
    /// range-checked where they were computed (SafeCast), and the entry and the snapshot rounded to
    /// DecimalFloat's grid (`PerpEngine._averageEntry`, PositionLib.update), so every field fits its bits.
    function _storePosition(uint256 id, Position memory p) internal {
        if (p.size == 0) {
            delete _positions[id];
            return;
        }
        _positions[id] =
            (uint256(int256(p.size)) & ((1 << SIZE_BITS) - 1)) |
            (uint256(p.margin) << SIZE_BITS) |
            (DecimalFloat.encode(p.entryPrice, DecimalFloat.ENTRY_MANTISSA) << ENTRY_SHIFT) |
            (DecimalFloat.encodeSigned(p.fundingSnapshot) << SNAPSHOT_SHIFT);
    }

    /// @dev A market's tiers with their maintenance amounts, from the first up to the one that holds the
    /// notional `scaledNotional` / WAD (|size| x price, exact), or all of them when none does; and the
    /// market's tier count. Every MarginMath function returns on such a prefix what it returns on the
    /// whole list for that notional or a smaller one: none looks above the tier that holds its notional.
    /// One cold slot per tier read; the count comes from config slot 2, which a trade has already read.
    /// The amounts are MarginMath.deriveMaintenanceAmounts' recurrence, in one pass over the stored words.
    function _loadTiers(uint256 marketId, uint256 scaledNotional) internal view returns (Tier[] memory t, uint256 n) {
        StoredTier[MAX_TIERS] storage stored = _tiers[marketId];
        n = _configs[marketId].tierCount;
        // `new Tier[](n)` would allocate a zeroed Tier for each element, each replaced below: the array is
        // allocated bare instead. Every element below the length is written before any read: the loop
        // writes t[0..i] and shortens the array to i + 1 when it stops early, or writes all n.
        assembly ("memory-safe") {
            t := mload(0x40)
            mstore(t, n)
            mstore(0x40, add(t, shl(5, add(n, 1))))
        }
        uint256 amount;
        uint256 prevCap;
        uint256 prevMmr;
        for (uint256 i; i < n; ++i) {
            StoredTier storage x = stored[i];
            (uint256 cap, uint256 mmr, uint256 maxLeverage) = (x.notionalCap, x.mmr, x.maxLeverage);
            if (i != 0) amount += prevCap.mulDown(mmr - prevMmr);
            // Widening, except `amount`: at most MAX_TIERS caps of 96 bits, far below 2^128.
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

    /// @dev The config words every call reads (StoredConfig slots 1 and 2: skew scale and cap, the minimums,
    /// the eight rates, the funding clock and mark method), read whole and scaled back to WAD and wei.
    /// Not loaded, left zero: `symbol` (slot 0; a market exists iff its skewScale is not zero) and slots 3
    /// and 4 (the funding model, its rates and maximum velocity, the oracle grace period), which
    /// `_loadFundingConfig` adds when a funding boundary is due. The layout is the compiler's for
    /// StoredConfig; `_loadConfig` reads the rest of it through the compiler.
    function _loadTradeConfig(uint256 marketId) internal view returns (MarketConfig memory cfg) {
        StoredConfig storage s = _configs[marketId];
        (uint256 base, uint256 rate, uint256 usd) = (BASE_UNIT, TRADE_RATE_UNIT, USD_UNIT);
        assembly ("memory-safe") {
            let m24 := 0xffffff
            let m40 := 0xffffffffff
            let m64 := 0xffffffffffffffff
            let w := sload(add(s.slot, 1))
            mstore(add(cfg, 0x20), mul(and(w, m64), base)) // skewScale
            mstore(add(cfg, 0x40), mul(and(shr(64, w), m64), base)) // maxOpenInterest
            mstore(add(cfg, 0x260), mul(and(shr(128, w), m40), usd)) // minPositionNotional
            mstore(add(cfg, 0xe0), mul(and(shr(168, w), m40), usd)) // minLiquidationFee
            mstore(add(cfg, 0x100), mul(and(shr(208, w), m40), usd)) // minMargin
            w := sload(add(s.slot, 2))
            mstore(add(cfg, 0x60), mul(and(w, m24), rate)) // takerFee
            mstore(add(cfg, 0x80), mul(and(shr(24, w), m24), rate)) // makerFee
            mstore(add(cfg, 0xa0), mul(and(shr(48, w), m24), rate)) // liquidationFeeRate
            mstore(add(cfg, 0xc0), mul(and(shr(72, w), m24), rate)) // insuranceFeeShare
            mstore(add(cfg, 0x1c0), mul(and(shr(96, w), m24), rate)) // markBand
            mstore(add(cfg, 0x1e0), mul(and(shr(120, w), m24), rate)) // reserveFactor
            mstore(add(cfg, 0x200), mul(and(shr(144, w), m24), rate)) // maxPnlFactor
            mstore(add(cfg, 0x220), mul(and(shr(168, w), m24), rate)) // partialLiquidationBuffer
            mstore(add(cfg, 0x180), and(shr(192, w), m24)) // fundingInterval
            mstore(add(cfg, 0x1a0), and(shr(216, w), m24)) // emaHalfLife
            mstore(add(cfg, 0x240), and(shr(240, w), 0xff)) // markModel (a MarkMethod); tierCount at 248
        }
    }

    /// @dev Adds StoredConfig's slots 3 and 4 (the funding model, its rates and maximum velocity, the oracle
    /// grace period) to a config from `_loadTradeConfig`.
    function _loadFundingConfig(uint256 marketId, MarketConfig memory cfg) internal view {
        StoredConfig storage s = _configs[marketId];
        (cfg.fundingInterestRate, cfg.fundingClamp, cfg.fundingCap) = (
            int64(s.fundingInterestRate) * int64(int256(RATE_UNIT)), // |I| < 2^31 * 1e9 < 2^61
            uint64(s.fundingClamp * RATE_UNIT),
            uint64(s.fundingCap * RATE_UNIT)
        );
        (cfg.fundingModel, cfg.maxFundingVelocity, cfg.oracleGracePeriod) = (
            IFundingModel(s.fundingModel),
            s.maxFundingVelocity,
            s.oracleGracePeriod
        );
    }

    /// @dev The whole config, as setMarketConfig took it (the views and the pool's valuation).
    function _loadConfig(uint256 marketId) internal view returns (MarketConfig memory cfg) {
        cfg = _loadTradeConfig(marketId);
        cfg.symbol = _configs[marketId].symbol;
        _loadFundingConfig(marketId, cfg);
    }

    /// @dev StoredState's five trade words, read whole (the compiler's struct copy reads every packed member
    /// on its own); each side's entry sum split back into MarketState's notional and remainder.
    /// `uncoveredBadDebt` (slot 5) is left zero: no trade reads it; `_loadFullState` adds it for the views
    /// and ADL, and bad debt is added to it in storage (`_addBadDebt`).
    function _loadState(uint256 marketId) internal view returns (MarketState memory st) {
        StoredState storage s = _states[marketId];
        uint256 wad = WadMath.WAD;
        assembly ("memory-safe") {
            let m96 := sub(shl(96, 1), 1)
            let m64 := sub(shl(64, 1), 1)
            let m40 := sub(shl(40, 1), 1)
            let w := sload(s.slot)
            mstore(st, and(w, m96)) // longOpenInterest
            let x := shr(96, w)
            mstore(add(st, 0x40), div(x, wad)) // longEntryNotional
            mstore(add(st, 0x1c0), mod(x, wad)) // longEntryRemainder
            w := sload(add(s.slot, 1))
            mstore(add(st, 0x20), and(w, m96)) // shortOpenInterest
            x := shr(96, w)
            mstore(add(st, 0x60), div(x, wad)) // shortEntryNotional
            mstore(add(st, 0x220), mod(x, wad)) // shortEntryRemainder
            w := sload(add(s.slot, 2))
            mstore(add(st, 0x80), signextend(13, w)) // fundingIndex (int112)
            mstore(add(st, 0xa0), signextend(7, shr(112, w))) // lastFundingRate
            mstore(add(st, 0xc0), and(shr(176, w), m40)) // lastFundingTime
            mstore(add(st, 0x140), shr(216, w)) // premiumStart
            w := sload(add(s.slot, 3))
            mstore(add(st, 0xe0), signextend(11, w)) // premiumCum
            mstore(add(st, 0x100), signextend(7, shr(96, w))) // lastPremium
            mstore(add(st, 0x160), sar(160, w)) // emaBasis
            w := sload(add(s.slot, 4))
            mstore(add(st, 0x1e0), signextend(15, w)) // fundingSnapshotSum
            mstore(add(st, 0x200), and(shr(128, w), m64)) // fundingSnapshotRemainder
            mstore(add(st, 0x120), and(shr(192, w), m40)) // lastSampleTime
            mstore(add(st, 0x1a0), and(shr(232, w), 0xff)) // paused
        }
    }

    /// @dev The whole state, bad debt included (the views, the pool's valuation, ADL).
    function _loadFullState(uint256 marketId) internal view returns (MarketState memory st) {
        st = _loadState(marketId);
        st.uncoveredBadDebt = _states[marketId].uncoveredBadDebt;
    }

    /// @dev Writes `st`'s five trade words back whole, each slot once (see StoredState for the layout); the
    /// bad debt word is not written. The side words narrow here, checked (SafeCast); every other field was
    /// range-checked where it was computed (SafeCast, and `fundingIndex` to 112 bits in MarketLib.sync),
    /// so the masks only drop sign bits.
    function _storeState(uint256 marketId, MarketState memory st) internal {
        StoredState storage s = _states[marketId];
        uint256 longSide = _sideWord(st.longOpenInterest, st.longEntryNotional, st.longEntryRemainder);
        uint256 shortSide = _sideWord(st.shortOpenInterest, st.shortEntryNotional, st.shortEntryRemainder);
        assembly ("memory-safe") {
            let m128 := sub(shl(128, 1), 1)
            let m112 := sub(shl(112, 1), 1)
            let m96 := sub(shl(96, 1), 1)
            let m64 := sub(shl(64, 1), 1)
            let m40 := sub(shl(40, 1), 1)
            sstore(s.slot, longSide)
            sstore(add(s.slot, 1), shortSide)
            sstore(
                add(s.slot, 2),
                or(
                    or(and(mload(add(st, 0x80)), m112), shl(112, and(mload(add(st, 0xa0)), m64))),
                    or(shl(176, and(mload(add(st, 0xc0)), m40)), shl(216, and(mload(add(st, 0x140)), m40)))
                )
            )
            sstore(
                add(s.slot, 3),
                or(
                    or(and(mload(add(st, 0xe0)), m96), shl(96, and(mload(add(st, 0x100)), m64))),
                    shl(160, mload(add(st, 0x160)))
                )
            )
            sstore(
                add(s.slot, 4),
                or(
                    or(and(mload(add(st, 0x1e0)), m128), shl(128, and(mload(add(st, 0x200)), m64))),
                    or(shl(192, and(mload(add(st, 0x120)), m40)), shl(232, and(mload(add(st, 0x1a0)), 0xff)))
                )
            )
        }
    }

    /// @dev One side's stored word: its open interest (96 bits) under its exact entry sum, notional * WAD +
    /// remainder (160 bits), both checked. The sum is formed unchecked: MarketState's widths bound it,
    /// notional < 2^128 and remainder < 2^64, so it is below 2^188.
    function _sideWord(uint256 openInterest, uint128 entryNotional, uint64 remainder) private pure returns (uint256) {
        uint256 entrySum;
        unchecked {
            entrySum = uint256(entryNotional) * WadMath.WAD + remainder;
        }
        return openInterest.toUint96() | (uint256(entrySum.toUint160()) << 96);
    }

    /// @dev Adds `amount` to a market's uncovered bad debt, in its own word (checked: uint128).
    function _addBadDebt(uint256 marketId, uint256 amount) internal {
        StoredState storage s = _states[marketId];
        s.uncoveredBadDebt = (s.uncoveredBadDebt + amount).toUint128();
    }
}
