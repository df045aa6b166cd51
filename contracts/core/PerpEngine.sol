// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IVault} from "../interfaces/IVault.sol";
import {IOracle} from "../interfaces/IOracle.sol";
import {WadMath} from "../libraries/WadMath.sol";
import {DecimalFloat} from "../libraries/DecimalFloat.sol";
import {Pricing} from "../libraries/Pricing.sol";
import {MarginMath, Tier} from "../libraries/MarginMath.sol";
import {MarketLib, MarketConfig, MarketState} from "../libraries/MarketLib.sol";
import {Position, PositionLib} from "../libraries/PositionLib.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {PerpEngineStorage} from "./PerpEngineStorage.sol";
import {IPerpEngine} from "../interfaces/IPerpEngine.sol";

/// @title PerpEngine
/// @notice Markets and isolated positions: market orders at the skew fill price, margin, funding,
/// liquidation (full, partial, batched) and auto-deleveraging. The liquidity pool is the counterparty:
/// every trade, fee, funding payment and liquidation is booked in the vault as one zero-sum settlement
/// between the trader's free balance, locked margin, the pool and the insurance fund.
///
/// Every entry point has one shape: load the market into memory, bring it to now (funding boundaries,
/// premium, EMA: MarketLib.asOfNow, the function the lens, the order book and the pool valuation project
/// with; the trading paths `sync` alone and mark after their trade), checks, the math, storage writes,
/// events, then the single vault call. A position's funding moves into its margin in PositionLib.update.
contract PerpEngine is PerpEngineStorage, IPerpEngine {
    using WadMath for uint256;
    using PositionLib for Position;
    using SafeCast for uint256;
    using SafeCast for int256;

    /// @inheritdoc IPerpEngine
    address public immutable adminModule;
    /// @inheritdoc IPerpEngine
    IVault public immutable vault;
    /// @inheritdoc IPerpEngine
    IOracle public immutable oracle;

    /// @dev A market loaded into memory and synced to now; `mark` is set only by the paths that use it.
    /// `cfg` is `_loadTradeConfig`'s: no symbol, and the funding model and its rates only when a boundary
    /// was due.
    /// `tiers` is a prefix of the market's tiers, read as far as a check needs (`_tiersFor`).
    struct Ctx {
        uint256 marketId;
        MarketConfig cfg;
        MarketState st;
        Tier[] tiers;
        uint256 tierCount; // the market's, once `tiers` was read
        uint256 index;
        uint256 mark;
    }

    /// @dev Ledger movements accumulated over one call (a batch of liquidations books once).
    struct Booking {
        int256 account;
        int256 counterparty;
        int256 margin;
        int256 insurance;
        int256 insuranceAvailable; // the fund as seen by this call, for bad-debt cover
        bool insuranceLoaded;
    }

    /// @dev A market order's execution.
    struct Execution {
        uint256 fill;
        uint256 fee;
        int256 owed; // funding realised into margin by this touch
        int256 realized; // PnL of the closed part
    }

    constructor(IVault vault_, IOracle oracle_, address adminModule_, address admin) {
        // `_book` and `_indexPrice` call the vault and the oracle in place, without a code-size check: a
        // call to an address without code would succeed and book nothing.
        if (address(vault_).code.length == 0) revert NotAContract(address(vault_));
        if (address(oracle_).code.length == 0) revert NotAContract(address(oracle_));
        if (adminModule_.code.length == 0) revert NotAContract(adminModule_);
        adminModule = adminModule_;
        vault = vault_;
        oracle = oracle_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(CONFIG_ROLE, admin);
    }

    /* ------------------------------------------------------------------ TRADING */

    /// @inheritdoc IPerpEngine
    function increasePosition(
        uint256 marketId,
        int256 sizeDelta,
        uint256 margin,
        uint256 acceptablePrice
    ) external nonReentrant {
        _increase(msg.sender, marketId, sizeDelta, margin, acceptablePrice);
    }

    /// @inheritdoc IPerpEngine
    function decreasePosition(uint256 marketId, uint256 size, uint256 acceptablePrice) external nonReentrant {
        _decrease(msg.sender, marketId, size, acceptablePrice);
    }

    /// @inheritdoc IPerpEngine
    function closePosition(uint256 marketId, uint256 acceptablePrice) external nonReentrant {
        _decrease(msg.sender, marketId, type(uint256).max, acceptablePrice);
    }

    /// @inheritdoc IPerpEngine
    function increasePositionFor(
        address account,
        uint256 marketId,
        int256 sizeDelta,
        uint256 margin,
        uint256 acceptablePrice
    ) external onlyRole(EXECUTOR_ROLE) nonReentrant {
        _increase(account, marketId, sizeDelta, margin, acceptablePrice);
    }

    /// @inheritdoc IPerpEngine
    function decreasePositionFor(
        address account,
        uint256 marketId,
        uint256 size,
        uint256 acceptablePrice
    ) external onlyRole(EXECUTOR_ROLE) nonReentrant {
        _decrease(account, marketId, size, acceptablePrice);
    }

    /// @inheritdoc IPerpEngine
    function addMargin(uint256 marketId, uint256 amount) external nonReentrant {
        _changeMargin(marketId, amount.toInt256());
    }

    /// @inheritdoc IPerpEngine
    function removeMargin(uint256 marketId, uint256 amount) external nonReentrant {
        _changeMargin(marketId, -amount.toInt256());
    }

    /* ------------------------------------------------------------------ KEEPERS */

    /// @inheritdoc IPerpEngine
    function settleFunding(uint256 marketId) external nonReentrant {
        Ctx memory c = Ctx(marketId, _loadTradeConfig(marketId), _loadState(marketId), _noTiers(), 0, 0, 0);
        _price(c, false);
        _sync(c);
        _storeState(marketId, c.st);
    }

    /// @inheritdoc IPerpEngine
    function liquidate(uint256 id) external nonReentrant returns (uint256 reward) {
        Position memory p = _loadPosition(id);
        if (p.size == 0) revert PositionNotFound(id);
        Ctx memory c = Ctx(p.marketId, _loadTradeConfig(p.marketId), _loadState(p.marketId), _noTiers(), 0, 0, 0);
        _price(c, false);
        _asOfNow(c);
        Booking memory b;
        (bool liquidated, ) = _liquidate(c, id, p, b);
        if (!liquidated) revert PositionHealthy(id, c.mark);
        _storeState(c.marketId, c.st);
        reward = uint256(b.counterparty);
        _book(address(0), msg.sender, b);
    }

    /// @inheritdoc IPerpEngine
    function liquidateMany(uint256[] calldata ids) external nonReentrant returns (uint256 count) {
        Ctx memory c;
        Booking memory b;
        for (uint256 i; i < ids.length; ++i) {
            Position memory p = _loadPosition(ids[i]);
            if (p.size == 0) continue;
            if (p.marketId != c.marketId) {
                if (c.marketId != 0) _storeState(c.marketId, c.st);
                c = Ctx(p.marketId, _loadTradeConfig(p.marketId), _loadState(p.marketId), _noTiers(), 0, 0, 0);
                _price(c, false);
                _asOfNow(c);
            }
            (bool liquidated, uint256 last) = _liquidate(c, ids[i], p, b);
            if (!liquidated) continue;
            ++count;
            if (i + 1 < ids.length) c.mark = _markAt(c, last); // the closed size left the skew: the cascade
        }
        if (c.marketId != 0) _storeState(c.marketId, c.st);
        if (count != 0) _book(address(0), msg.sender, b);
    }

    /// @inheritdoc IPerpEngine
    function autoDeleverage(uint256 id, uint256 size) external nonReentrant {
        Position memory p = _loadPosition(id);
        if (p.size == 0) revert PositionNotFound(id);
        if (size == 0) revert ZeroSize();
        uint256 absSize = WadMath.abs(p.size);
        if (size > absSize) revert SizeExceedsPosition(size, absSize);
        Ctx memory c = Ctx(p.marketId, _loadTradeConfig(p.marketId), _loadState(p.marketId), _noTiers(), 0, 0, 0);
        _price(c, false);
        c.st.uncoveredBadDebt = _states[c.marketId].uncoveredBadDebt; // the one path that reads it
        _asOfNow(c);
        // MarketLib.adlActive, with the vault call skipped when bad debt opens ADL by itself.
        if (c.st.uncoveredBadDebt == 0 && !MarketLib.adlActive(c.st, c.mark, vault.poolAssets(), c.cfg.maxPnlFactor)) {
            revert AdlNotActive(c.marketId);
        }
        (int256 locked, int128 snapshot) = (int256(uint256(p.margin)), p.fundingSnapshot);
        int256 net;
        {
            int256 owed;
            (owed, net) = p.update(c.st.fundingIndex, 0, p.size > 0); // on this copy: written only by a successful call
            int256 profit = PositionLib.pnl(p.size, p.entryPrice, c.mark) - owed;
            if (profit <= 0) revert NotProfitable(id, profit);
        }
        if (MarketLib.sidePnl(c.st, c.mark, p.size > 0) <= 0) revert NotWinningSide(id);

        int256 closed = p.size > 0 ? int256(size) : -int256(size);
        // A close's payable profit (pro rata above the cap, judged before this position leaves the
        // aggregates); the haircut then repays uncovered bad debt out of what would be paid.
        int256 realized = _payableProfit(c, id, PositionLib.pnl(closed, p.entryPrice, c.mark), c.mark);
        uint256 haircut = realized > 0 ? WadMath.min(uint256(realized), c.st.uncoveredBadDebt) : 0;
        if (haircut != 0) {
            c.st.uncoveredBadDebt -= haircut.toUint128(); // haircut <= uncoveredBadDebt
            _states[c.marketId].uncoveredBadDebt = c.st.uncoveredBadDebt;
        }
        int256 value = net + realized - int256(haircut);
        if (value <= 0) revert NotProfitable(id, value);
        int256 payout = size == absSize ? value : (value * int256(size)) / int256(absSize);

        _removeOpenInterest(c.st, p, snapshot);
        Booking memory b;
        b.account = payout;
        b.margin = value - payout - locked;
        _writeReduced(c, id, p, closed, uint256(value - payout));
        _emitPosition(id, p);
        emit AutoDeleveraged(id, p.owner, c.marketId, closed, c.mark, realized, haircut);
        _storeState(c.marketId, c.st);
        _book(p.owner, address(0), b);
    }

    /* ------------------------------------------------------------------ INTERNAL: TRADES */

    function _increase(
        address account,
        uint256 marketId,
        int256 sizeDelta,
        uint256 marginIn,
        uint256 acceptable
    ) private {
        if (sizeDelta == 0) revert ZeroSize();
        Ctx memory c = Ctx(marketId, _loadTradeConfig(marketId), _loadState(marketId), _noTiers(), 0, 0, 0);
        _price(c, true);
        if (c.st.paused) revert MarketIsPaused(marketId);
        _sync(c);
        uint256 id = PositionLib.id(account, marketId);
        Position memory p = _loadPosition(id);
        if (p.size != 0 && (p.size > 0) != (sizeDelta > 0)) revert SideMismatch(p.size, sizeDelta);

        Execution memory e = _execute(c, sizeDelta, acceptable);
        uint256 entry = _averageEntry(p, sizeDelta, e.fill);

        _removeOpenInterest(c.st, p, p.fundingSnapshot);
        int256 margin;
        (e.owed, margin) = p.update(c.st.fundingIndex, marginIn.toInt256(), sizeDelta > 0);
        if (margin < int256(uint256(c.cfg.minMargin))) revert MarginTooLow(margin, c.cfg.minMargin);
        p.owner = account;
        p.marketId = marketId.toUint32();
        p.size = (p.size + sizeDelta).toInt96();
        p.entryPrice = entry.toUint128();
        _addOpenInterest(c, p, true);
        uint256 notional = WadMath.abs(p.size).mulDown(e.fill);
        if (notional < c.cfg.minPositionNotional) revert PositionTooSmall(notional, c.cfg.minPositionNotional);
        uint256 last = MarketLib.samplePremium(c.cfg, c.st, c.index);
        _checkInitialMargin(c, p, _markAt(c, last));

        _storePosition(id, p);
        _storeState(marketId, c.st);
        _emitTrade(id, p, sizeDelta, e);

        Booking memory b;
        b.account = -int256(marginIn + e.fee);
        b.margin = int256(marginIn) - e.owed;
        b.insurance = int256(e.fee.mulDown(c.cfg.insuranceFeeShare));
        _book(account, address(0), b);
    }

    function _decrease(address account, uint256 marketId, uint256 size, uint256 acceptable) private {
        uint256 id = PositionLib.id(account, marketId);
        Position memory p = _loadPosition(id);
        if (p.size == 0) revert NoPosition(account, marketId);
        uint256 absSize = WadMath.abs(p.size);
        if (size == type(uint256).max) size = absSize;
        if (size == 0) revert ZeroSize();
        if (size > absSize) revert SizeExceedsPosition(size, absSize);
        Ctx memory c = Ctx(marketId, _loadTradeConfig(marketId), _loadState(marketId), _noTiers(), 0, 0, 0);
        _price(c, false);
        _sync(c);

        int256 closed = p.size > 0 ? int256(size) : -int256(size);
        Execution memory e = _execute(c, -closed, acceptable);
        e.realized = PositionLib.pnl(closed, p.entryPrice, e.fill);
        if (e.realized > 0) e.realized = _payableProfit(c, id, e.realized, _markOf(c)); // a loss: no mark

        _removeOpenInterest(c.st, p, p.fundingSnapshot);
        Booking memory b;
        b.margin = -int256(uint256(p.margin));
        int256 value;
        (e.owed, value) = p.update(c.st.fundingIndex, e.realized - int256(e.fee), p.size > 0);
        if (size == absSize) {
            b.account = value > 0 ? value : int256(0);
            if (value >= 0) b.insurance = int256(e.fee.mulDown(c.cfg.insuranceFeeShare));
            else _coverBadDebt(c, uint256(-value), b);
            _writeReduced(c, id, p, closed, 0);
        } else {
            if (value <= 0) revert WouldBeLiquidatable(id);
            b.account = (value * int256(size)) / int256(absSize);
            b.margin += value - b.account;
            b.insurance = int256(e.fee.mulDown(c.cfg.insuranceFeeShare));
            uint256 mark = _markAt(c, _writeReduced(c, id, p, closed, uint256(value - b.account)));
            Tier[] memory t = _tiersFor(c, WadMath.abs(p.size), mark);
            if (MarginMath.isLiquidatable(t, p.size, p.entryPrice, int256(uint256(p.margin)), mark)) {
                revert WouldBeLiquidatable(id);
            }
        }
        _emitTrade(id, p, -closed, e);
        _storeState(marketId, c.st);
        _book(account, address(0), b);
    }

    function _changeMargin(uint256 marketId, int256 amount) private {
        if (amount == 0) revert ZeroAmount();
        uint256 id = PositionLib.id(msg.sender, marketId);
        Position memory p = _loadPosition(id);
        if (p.size == 0) revert NoPosition(msg.sender, marketId);
        Ctx memory c = Ctx(marketId, _loadTradeConfig(marketId), _loadState(marketId), _noTiers(), 0, 0, 0);
        _price(c, amount < 0);
        _sync(c);
        int128 snapshot = p.fundingSnapshot;
        (int256 owed, int256 margin) = p.update(c.st.fundingIndex, amount, p.size > 0);
        if (amount < 0) {
            if (margin < int256(uint256(c.cfg.minMargin))) revert MarginTooLow(margin, c.cfg.minMargin);
        } else if (margin <= 0) {
            revert MarginTooLow(margin, c.cfg.minMargin);
        }
        MarketLib.moveFundingSnapshot(c.st, p.size, snapshot, p.fundingSnapshot, 1);
        if (amount < 0) _checkInitialMargin(c, p, _markOf(c));

        _storePosition(id, p);
        _storeState(marketId, c.st);
        _emitPosition(id, p);
        emit MarginChanged(id, msg.sender, amount, owed);
        Booking memory b;
        b.account = -amount;
        b.margin = amount - owed;
        _book(msg.sender, address(0), b);
    }

    /* ------------------------------------------------------------------ INTERNAL: LIQUIDATION */

    /// @dev Liquidates `p` if it is liquidatable at `c.mark`; books into `b`. `c.mark` is stale after a
    /// liquidation (the closed size left the skew): a caller that checks another position re-marks first,
    /// from `last`, the market's last price after the liquidation (`_markAt`). |size|, the notional at mark
    /// and the equity are computed here once and shared by the plan and the reward.
    function _liquidate(
        Ctx memory c,
        uint256 id,
        Position memory p,
        Booking memory b
    ) private returns (bool liquidated, uint256 last) {
        uint256 absSize = WadMath.abs(p.size);
        int256 net = p.netMargin(c.st.fundingIndex);
        {
            Tier[] memory t = _tiersFor(c, absSize, c.mark);
            if (!MarginMath.isLiquidatable(t, p.size, p.entryPrice, net, c.mark)) return (false, 0);
        }
        _removeOpenInterest(c.st, p, p.fundingSnapshot);
        b.margin -= int256(uint256(p.margin));
        int256 equity = net + PositionLib.pnl(p.size, p.entryPrice, c.mark);
        (int256 closed, uint256 reward, uint256 remainingMargin) = _planLiquidation(c, p, absSize, net, equity);
        b.counterparty += int256(reward);
        b.margin += int256(remainingMargin);
        // A full liquidation leaves no margin; a partial one leaves a positive remainder (`_planLiquidation`),
        // whose funding is realised (its margin is then written whole) and snapshot moved.
        if (remainingMargin == 0) {
            if (equity > 0) b.insurance += equity - int256(reward);
            else if (equity < 0) _coverBadDebt(c, uint256(-equity), b);
        } else {
            p.update(c.st.fundingIndex, 0, p.size > 0);
        }
        last = _writeReduced(c, id, p, closed, remainingMargin);
        _emitLiquidation(c, id, closed, reward, equity, p);
        liquidated = true;
    }

    /// @dev The liquidation's one event: what it did and the position as it stands after it. `p` comes last
    /// so that the legacy pipeline (OrderBook's build, which imports the engine) still reaches it.
    function _emitLiquidation(
        Ctx memory c,
        uint256 id,
        int256 closed,
        uint256 reward,
        int256 equity,
        Position memory p
    ) private {
        emit Liquidation(
            id,
            p.owner,
            c.marketId,
            msg.sender,
            closed,
            c.mark,
            equity,
            reward,
            equity < 0 ? uint256(-equity) : 0,
            p.size,
            p.entryPrice,
            p.margin,
            p.fundingSnapshot
        );
    }

    /// @dev What a liquidation does to `p` (of size `absSize`, net margin `net` and equity `equity` at
    /// `c.mark`): the signed size `closed` at mark, the keeper's `reward` and the `remainingMargin` of the
    /// remainder, zero exactly when the liquidation is full. Closes all of `p`, unless it is above the
    /// first tier and a smaller size restores health with the market's buffer (`_partialPlan`). A market
    /// with a zero buffer liquidates in full. `c.tiers` holds the tiers up to `p`'s (`_liquidate`).
    function _planLiquidation(
        Ctx memory c,
        Position memory p,
        uint256 absSize,
        int256 net,
        int256 equity
    ) private pure returns (int256 closed, uint256 reward, uint256 remainingMargin) {
        uint256 notional = absSize.mulDown(c.mark);
        if (equity > 0 && c.cfg.partialLiquidationBuffer != 0 && notional > c.tiers[0].notionalCap) {
            (closed, reward, remainingMargin) = _partialPlan(c, p, net, equity);
            if (remainingMargin != 0) return (closed, reward, remainingMargin);
        }
        return (p.size, _liquidationReward(c, notional, equity), 0);
    }

    /// @dev The partial liquidation of `p` (`_planLiquidation`'s arguments), or a zero `remainingMargin` when
    /// none restores health: the remainder is checked, not assumed, as it will be after the reward. The rare
    /// path, so it derives |size| and the notional again rather than take them (the legacy pipeline's stack).
    function _partialPlan(
        Ctx memory c,
        Position memory p,
        int256 net,
        int256 equity
    ) private pure returns (int256 closed, uint256 reward, uint256 remainingMargin) {
        uint256 absSize = WadMath.abs(p.size);
        uint256 keep = MarginMath
            .partialRemainder(
                c.tiers,
                absSize.mulDown(c.mark),
                equity,
                c.cfg.liquidationFeeRate,
                c.cfg.partialLiquidationBuffer
            )
            .divDown(c.mark);
        if (keep == 0) return (0, 0, 0);
        // keep < absSize: partialRemainder's n < notional <= absSize * mark / WAD, so n * WAD / mark < absSize.
        closed = p.size > 0 ? int256(absSize - keep) : -int256(absSize - keep);
        reward = _liquidationReward(c, (absSize - keep).mulDown(c.mark), equity);
        int256 remaining = net + PositionLib.pnl(closed, p.entryPrice, c.mark) - int256(reward);
        if (remaining > 0 && !MarginMath.isLiquidatable(c.tiers, p.size - closed, p.entryPrice, remaining, c.mark)) {
            remainingMargin = uint256(remaining);
        }
    }

    /// @dev min(equity, max(rate * closed notional, minimum fee)); nothing when equity is gone. A credit
    /// to the caller, so rounded down: the unit goes to the insurance fund (or stays in the remainder).
    /// `closedNotional`: the closed size times the mark, rounded down (`mulDown`).
    function _liquidationReward(Ctx memory c, uint256 closedNotional, int256 equity) private pure returns (uint256) {
        if (equity <= 0) return 0;
        uint256 fee = WadMath.max(closedNotional.mulDown(c.cfg.liquidationFeeRate), c.cfg.minLiquidationFee);
        return WadMath.min(uint256(equity), fee);
    }

    /// @dev Pays `amount` of bad debt to the pool from the insurance fund; the pool absorbs the rest,
    /// which opens ADL on the market.
    function _coverBadDebt(Ctx memory c, uint256 amount, Booking memory b) private {
        if (!b.insuranceLoaded) {
            b.insuranceAvailable = int256(vault.insuranceFund());
            b.insuranceLoaded = true;
        }
        int256 available = b.insuranceAvailable + b.insurance;
        uint256 cover = available > 0 ? WadMath.min(amount, uint256(available)) : 0;
        b.insurance -= int256(cover);
        uint256 uncovered = amount - cover;
        if (uncovered != 0) _addBadDebt(c.marketId, uncovered);
        emit BadDebt(c.marketId, amount, cover, uncovered);
    }

    /// @dev A realised profit as MarketLib.payableProfit pays it, against the market's traders' net
    /// unrealised PnL at `mark` (before this close left the aggregates) and the cap on the pool's ledger.
    /// The one rule for a trader's close and for ADL (`autoDeleverage`, which takes its haircut after). The
    /// early returns are the library's own cases, taken before the vault is read.
    function _payableProfit(Ctx memory c, uint256 id, int256 realized, uint256 mark) private returns (int256 paid) {
        if (realized <= 0) return realized;
        int256 traderPnl = MarketLib.tradersPnl(c.st, mark);
        if (traderPnl <= 0) return realized;
        paid = MarketLib.payableProfit(realized, traderPnl, vault.poolAssets().mulDown(c.cfg.maxPnlFactor));
        if (paid != realized) emit ProfitCapped(id, c.marketId, realized, paid);
    }

    /* ------------------------------------------------------------------ INTERNAL: SHARED */

    /// @dev Completes a market's context: refuses an unknown market, adds the funding config when a
    /// boundary is due, and prices it (the oracle's index, or its last one in the grace period when
    /// `riskIncreasing` is false). Callers build the context in one expression, `Ctx(id,
    /// _loadTradeConfig(id), _loadState(id), _noTiers(), 0, 0, 0)`: a function returning a Ctx would
    /// zero-fill a config and a state first and throw them away (about 800 gas a call).
    function _price(Ctx memory c, bool riskIncreasing) private view {
        uint256 marketId = c.marketId;
        if (c.cfg.skewScale == 0) revert UnknownMarket(marketId);
        // The funding model is read only when MarketLib.sync will settle a boundary.
        if (block.timestamp >= uint256(c.st.lastFundingTime) + c.cfg.fundingInterval)
            _loadFundingConfig(marketId, c.cfg);
        (uint256 index, uint256 fresh) = _indexPrice(marketId);
        if (fresh != 0) {
            c.index = index;
            return;
        }
        // No fresh source: no new risk; closing and liquidation use the oracle's last index for the grace
        // period, counted from the moment the oracle went stale.
        if (riskIncreasing) revert NoFreshPrice(marketId);
        (uint256 last, uint256 freshUntil) = oracle.lastIndexPrice(marketId);
        uint256 grace = _configs[marketId].oracleGracePeriod;
        if (last == 0 || block.timestamp - freshUntil > grace) revert NoFreshPrice(marketId);
        c.index = last;
    }

    /// @dev `oracle.indexPrice(marketId)`, its call written in place: one word of calldata after the
    /// selector and two words back, in scratch memory, with none of the compiler's encoding and decoding
    /// around them (about 200 gas a call). As the compiler's call does, a revert is bubbled and a reply
    /// shorter than the two words is refused.
    function _indexPrice(uint256 marketId) private view returns (uint256 index, uint256 fresh) {
        (address target, bytes4 selector) = (address(oracle), IOracle.indexPrice.selector);
        assembly ("memory-safe") {
            let m := mload(0x40) // scratch above the free memory pointer, not kept
            mstore(m, selector)
            mstore(add(m, 0x04), marketId)
            if iszero(staticcall(gas(), target, m, 0x24, m, 0x40)) {
                returndatacopy(m, 0, returndatasize())
                revert(m, returndatasize())
            }
            if lt(returndatasize(), 0x40) {
                revert(0, 0)
            }
            index := mload(m)
            fresh := mload(add(m, 0x20))
        }
    }

    /// @dev The market as of now, and its mark in `c.mark` (MarketLib.asOfNow): liquidation and ADL.
    function _asOfNow(Ctx memory c) private {
        (uint256 intervals, int256 rate, uint256 boundary, uint256 mark) = MarketLib.asOfNow(
            c.cfg,
            c.st,
            c.index,
            block.timestamp
        );
        c.mark = mark;
        if (intervals != 0) emit FundingSettled(c.marketId, rate, c.st.fundingIndex, boundary, intervals);
    }

    /// @dev Advances the market to now without marking it: the trading paths mark after their trade
    /// (`_markOf`), so the mark of the untraded market would be spent gas.
    function _sync(Ctx memory c) private {
        (uint256 intervals, int256 rate, uint256 boundary, ) = MarketLib.sync(c.cfg, c.st, c.index, block.timestamp);
        if (intervals != 0) emit FundingSettled(c.marketId, rate, c.st.fundingIndex, boundary, intervals);
    }

    function _markOf(Ctx memory c) private view returns (uint256) {
        return MarketLib.markOf(c.cfg, c.st, c.index, block.timestamp);
    }

    /// @dev `_markOf` with the market's last price `last` already known (`MarketLib.samplePremium`'s, on
    /// the skew as it still stands).
    function _markAt(Ctx memory c, uint256 last) private view returns (uint256) {
        return MarketLib.markPrice(c.cfg, c.st, c.index, last, block.timestamp);
    }

    /// @dev A context's tiers before any is read: the empty array every unassigned memory array points to
    /// (the zero slot, a length of 0), so nothing is allocated; `_tiersFor` replaces it on the first need.
    function _noTiers() private pure returns (Tier[] memory none) {
        return none;
    }

    /// @dev The market's tiers up to the one that holds |size| x price (see `_loadTiers`), read on the
    /// first need and again only when a larger notional needs more of them.
    function _tiersFor(Ctx memory c, uint256 absSize, uint256 price) private view returns (Tier[] memory t) {
        t = c.tiers;
        uint256 n = t.length;
        uint256 scaled = absSize * price;
        if (n != 0 && (n == c.tierCount || scaled <= uint256(t[n - 1].notionalCap) * WadMath.WAD)) return t;
        (t, c.tierCount) = _loadTiers(c.marketId, scaled);
        c.tiers = t;
    }

    /// @dev Shrinks `p`, its funding already realised (`PositionLib.update`), by the signed `closed` size
    /// with `margin` left and writes it; the caller emits its state (Trade or PositionUpdated). Returns the
    /// market's last price after it (`MarketLib.samplePremium`).
    function _writeReduced(
        Ctx memory c,
        uint256 id,
        Position memory p,
        int256 closed,
        uint256 margin
    ) private returns (uint256 last) {
        p.size -= closed.toInt128();
        p.margin = margin.toUint88();
        // A closed position reads back as all zero (`_storePosition` deletes it); its event says so too.
        if (p.size == 0) (p.entryPrice, p.fundingSnapshot) = (0, 0);
        else _addOpenInterest(c, p, false);
        _storePosition(id, p);
        last = MarketLib.samplePremium(c.cfg, c.st, c.index);
    }

    /// @dev Takes `p` whole out of the market's aggregates, which hold it with the funding `snapshot` it was
    /// stored with (before `PositionLib.update`); `_writeReduced` or `_addOpenInterest` puts back what stays.
    function _removeOpenInterest(MarketState memory st, Position memory p, int128 snapshot) private pure {
        MarketLib.aggregate(st, p.size, p.entryPrice, snapshot, -1);
    }

    /// @dev Adds `p` whole to the market's aggregates; the cap binds only when the position grows, so a
    /// lowered cap never blocks a reduction.
    function _addOpenInterest(Ctx memory c, Position memory p, bool enforceCap) private pure {
        MarketLib.aggregate(c.st, p.size, p.entryPrice, p.fundingSnapshot, 1);
        if (!enforceCap) return;
        uint256 oi = p.size > 0 ? c.st.longOpenInterest : c.st.shortOpenInterest;
        if (oi > c.cfg.maxOpenInterest) revert OpenInterestCapExceeded(p.size > 0, oi, c.cfg.maxOpenInterest);
    }

    /// @dev `mark`: the market's, after the change being checked.
    function _checkInitialMargin(Ctx memory c, Position memory p, uint256 mark) private view {
        uint256 absSize = WadMath.abs(p.size);
        uint256 notional = absSize.mulUp(mark);
        Tier[] memory t = _tiersFor(c, absSize, mark);
        if (MarginMath.aboveMaxTier(t, notional)) revert PositionTooLarge(notional, t[t.length - 1].notionalCap);
        int256 equity = int256(uint256(p.margin)) + PositionLib.pnl(p.size, p.entryPrice, mark);
        (bool ok, uint256 leverage, uint256 maxLeverage) = MarginMath.meetsInitialMargin(t, absSize, mark, equity);
        if (!ok) revert LeverageTooHigh(leverage, maxLeverage);
    }

    /// @dev Fill price and fee of a market order of signed `delta`, checked against the acceptable price
    /// (a buy may not fill above it, a sell not below). The caller realises the position's funding.
    function _execute(Ctx memory c, int256 delta, uint256 acceptable) private pure returns (Execution memory e) {
        int256 skew = MarketLib.skew(c.st);
        e.fill = Pricing.fillPrice(c.index, skew, delta, c.cfg.skewScale);
        if (delta > 0 ? e.fill > acceptable : e.fill < acceptable) revert SlippageExceeded(e.fill, acceptable);
        e.fee = Pricing.fee(skew, delta, e.fill, c.cfg.takerFee, c.cfg.makerFee);
    }

    /// @dev Size-weighted entry after adding `delta` at `fill`, on DecimalFloat's grid (nine significant
    /// digits, what a position stores); rounds against the trader (up for a long).
    function _averageEntry(Position memory p, int256 delta, uint256 fill) private pure returns (uint256) {
        uint256 absOld = WadMath.abs(p.size);
        uint256 absNew = absOld + WadMath.abs(delta);
        uint256 num = absOld * p.entryPrice + WadMath.abs(delta) * fill;
        bool up = delta > 0;
        return DecimalFloat.round(up ? WadMath.divRoundUp(num, absNew) : num / absNew, DecimalFloat.ENTRY_MANTISSA, up);
    }

    /// @dev The trade's one event: the order and the position as it stands after it.
    function _emitTrade(uint256 id, Position memory p, int256 sizeDelta, Execution memory e) private {
        emit Trade(
            id,
            p.owner,
            p.marketId,
            sizeDelta,
            e.fill,
            e.fee,
            e.realized,
            e.owed,
            p.size,
            p.entryPrice,
            p.margin,
            p.fundingSnapshot
        );
    }

    function _emitPosition(uint256 id, Position memory p) private {
        emit PositionUpdated(id, p.owner, p.marketId, p.size, p.entryPrice, p.margin, p.fundingSnapshot);
    }

    /// @dev One vault call per entry point; the pool takes the balancing delta, so the settlement is
    /// zero-sum by construction and every rounding above lands in the pool.
    /// The call is `vault.settle(Settlement(account, b.account, counterparty, b.counterparty, b.margin, 0,
    /// pool, b.insurance))`, its calldata written in place: the struct is static, eight words in its field
    /// order after the selector, so no Settlement is built in memory and encoded again (about 300 gas a
    /// call). As the compiler's call does, a revert is bubbled; its code-size check before a call that
    /// returns nothing is not needed: the vault is an immutable of this engine, and the constructor refuses
    /// one without code (`NotAContract`).
    function _book(address account, address counterparty, Booking memory b) private {
        int256 pool = -(b.account + b.counterparty + b.margin + b.insurance);
        (int256 accountDelta, int256 counterpartyDelta, int256 marginDelta, int256 insuranceDelta) = (
            b.account,
            b.counterparty,
            b.margin,
            b.insurance
        );
        // Addresses as whole words, their high bits zero (the vault's decoder refuses dirty ones).
        (uint256 accountWord, uint256 counterpartyWord) = (uint256(uint160(account)), uint256(uint160(counterparty)));
        (address target, bytes4 selector) = (address(vault), IVault.settle.selector);
        assembly ("memory-safe") {
            let m := mload(0x40) // scratch above the free memory pointer, not kept
            mstore(m, selector)
            mstore(add(m, 0x04), accountWord)
            mstore(add(m, 0x24), accountDelta)
            mstore(add(m, 0x44), counterpartyWord)
            mstore(add(m, 0x64), counterpartyDelta)
            mstore(add(m, 0x84), marginDelta)
            mstore(add(m, 0xa4), 0) // escrowDelta: only orders move escrow
            mstore(add(m, 0xc4), pool)
            mstore(add(m, 0xe4), insuranceDelta)
            if iszero(call(gas(), target, 0, m, 0x104, 0, 0)) {
                returndatacopy(m, 0, returndatasize())
                revert(m, returndatasize())
            }
        }
    }

    /* ------------------------------------------------------------------ ADMIN MODULE */

    /// @notice Runs market administration and getters (PerpEngineAdmin's ABI) on this contract's storage.
    // solhint-disable-next-line no-complex-fallback, payable-fallback
    fallback() external {
        address module = adminModule;
        assembly {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), module, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            switch ok
            case 0 {
                revert(0, returndatasize())
            }
            default {
                return(0, returndatasize())
            }
        }
    }
}
