// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IVault, Settlement} from "../interfaces/IVault.sol";
import {IOracle} from "../interfaces/IOracle.sol";
import {WadMath} from "../libraries/WadMath.sol";
import {Pricing} from "../libraries/Pricing.sol";
import {MarketLib, MarketConfig, MarketState} from "../libraries/MarketLib.sol";
import {Position, PositionLib} from "../libraries/PositionLib.sol";
import {MarginMath, Tier} from "../libraries/MarginMath.sol";
import {PerpEngine} from "./PerpEngine.sol";
import {PerpEngineAdmin} from "./PerpEngineAdmin.sol";
import {IOrderBook} from "../interfaces/IOrderBook.sol";
import {Order, OrderType, OrderStatus, CancelReason} from "../interfaces/OrderTypes.sol";

/// @title OrderBook
/// @notice Resting orders that keepers execute: limit opens, limit closes, take-profits and stop-losses.
///
/// Accounting. An order's escrow is its margin (limit opens only) plus its execution fee, both WAD USD,
/// moved from the owner's free balance to the vault's escrow ledger at creation. Every later movement
/// takes exactly that escrow out again, in one zero-sum settlement: on execution the margin goes back to
/// the owner's free balance (from where the engine locks it as position margin in the same transaction)
/// and the fee to the keeper; on cancellation or expiry all of it goes back to the owner. Hence, at all
/// times, vault.totalEscrow() == the sum of live orders' escrow.
///
/// Conditions. A limit order fills when the market order it stands for would fill at or better than the
/// limit (a buy at or below, a sell at or above); it executes through the engine with the limit as the
/// acceptable price, so the engine's own slippage check is the condition. Take-profit and stop-loss
/// trigger on the mark price (the price liquidation uses), are reduce-only and fill at market within the
/// acceptable price set at creation. Prices are read as a transaction in this block sees them, with the
/// library functions the engine and PerpLens run (MarketLib.sync and markPrice, Pricing.fillPrice).
/// Reduce-only orders act on whatever position the owner holds on the side they were created for; when
/// it is gone (closed, liquidated, flipped) executing them cancels them.
///
/// Sizes are signed trades: positive buys, negative sells. A reduce-only order's sign is opposite its
/// position's. The trading fee of a fill is paid from the owner's free balance, as for a market order.
contract OrderBook is AccessControl, ReentrancyGuardTransient, IOrderBook {
    using SafeCast for uint256;
    using SafeCast for int256;
    using WadMath for uint256;

    /// @notice May set the minimum execution fee.
    bytes32 public constant CONFIG_ROLE = keccak256("CONFIG_ROLE");

    /// @notice Executes the orders (this contract holds its EXECUTOR_ROLE).
    PerpEngine public immutable engine;
    /// @notice The engine's oracle, read for the index a limit is quoted and a mark computed at.
    IOracle public immutable oracle;
    /// @notice Holds the escrow (this contract holds its OPERATOR_ROLE).
    IVault public immutable vault;
    /// @dev The engine's getters: PerpEngineAdmin's ABI at the engine's address.
    PerpEngineAdmin private immutable _engineViews;

    /// @inheritdoc IOrderBook
    uint256 public minExecutionFee;
    /// @inheritdoc IOrderBook
    uint256 public orderCount;
    mapping(uint256 id => Order) private _orders;

    constructor(PerpEngine engine_, IVault vault_, address admin, uint256 minExecutionFee_) {
        engine = engine_;
        oracle = engine_.oracle();
        vault = vault_;
        _engineViews = PerpEngineAdmin(address(engine_));
        minExecutionFee = minExecutionFee_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(CONFIG_ROLE, admin);
        emit MinExecutionFeeSet(0, minExecutionFee_);
    }

    /* ------------------------------------------------------------------ CREATE */

    /// @inheritdoc IOrderBook
    function createLimitOpen(
        uint256 marketId,
        int256 sizeDelta,
        uint256 margin,
        uint256 limitPrice,
        uint256 executionFee,
        uint256 expiry,
        bool allowImmediate
    ) external nonReentrant returns (uint256 id) {
        MarketConfig memory cfg = _marketConfig(marketId);
        if (sizeDelta == 0) revert ZeroSize();
        if (margin < cfg.minMargin) revert MarginTooLow(margin.toInt256(), cfg.minMargin);
        Order memory o = _newOrder(
            marketId,
            OrderType.LimitOpen,
            sizeDelta,
            limitPrice,
            limitPrice,
            executionFee,
            expiry
        );
        o.margin = margin.toUint128();
        _checkFillable(cfg, o);
        id = _placeLimit(o, cfg, allowImmediate);
    }

    /// @inheritdoc IOrderBook
    function createLimitClose(
        uint256 marketId,
        uint256 size,
        uint256 limitPrice,
        uint256 executionFee,
        uint256 expiry,
        bool allowImmediate
    ) external nonReentrant returns (uint256 id) {
        MarketConfig memory cfg = _marketConfig(marketId);
        Position memory p = _positionToReduce(msg.sender, marketId, size);
        Order memory o = _newOrder(
            marketId,
            OrderType.LimitClose,
            _closingDelta(p, size),
            limitPrice,
            limitPrice,
            executionFee,
            expiry
        );
        id = _placeLimit(o, cfg, allowImmediate);
    }

    /// @inheritdoc IOrderBook
    function createTriggerOrder(
        uint256 marketId,
        OrderType orderType,
        uint256 size,
        uint256 triggerPrice,
        uint256 acceptablePrice,
        uint256 executionFee,
        uint256 expiry
    ) external nonReentrant returns (uint256 id) {
        if (orderType != OrderType.TakeProfit && orderType != OrderType.StopLoss) revert InvalidOrderType(orderType);
        Position memory p = _positionToReduce(msg.sender, marketId, size);
        bool isLong = p.size > 0;
        bool mustBeAbove = isLong == (orderType == OrderType.TakeProfit);
        if (mustBeAbove ? triggerPrice <= p.entryPrice : triggerPrice >= p.entryPrice) {
            revert InvalidTrigger(orderType, isLong, triggerPrice, p.entryPrice);
        }
        Order memory o = _newOrder(
            marketId,
            orderType,
            _closingDelta(p, size),
            triggerPrice,
            acceptablePrice,
            executionFee,
            expiry
        );
        id = _store(o);
        _settleEscrow(o, true);
    }

    /* ------------------------------------------------------------------ EXECUTE / CANCEL */

    /// @inheritdoc IOrderBook
    function executeOrder(uint256 id) external nonReentrant {
        Order memory o = _liveOrder(id);
        if (_isExpired(o)) revert ExpiredOrder(id, o.expiry);
        if (o.orderType == OrderType.LimitOpen) {
            _execute(id, o, msg.sender, 0, true);
            return;
        }
        Position memory p = _engineViews.position(PositionLib.id(o.account, o.marketId));
        if (p.size == 0 || (p.size > 0) == (o.sizeDelta > 0)) {
            _cancel(id, o, OrderStatus.Cancelled, CancelReason.PositionClosed);
            return;
        }
        if (WadMath.abs(o.sizeDelta) > WadMath.abs(p.size)) o.sizeDelta = -p.size; // reduce-only: at most the position
        uint256 mark;
        if (o.orderType != OrderType.LimitClose) {
            mark = _markPrice(o.marketId);
            if (!_triggered(o, mark)) revert TriggerNotReached(id, mark, o.triggerPrice);
        }
        _execute(id, o, msg.sender, mark, true);
    }

    /// @inheritdoc IOrderBook
    function cancelOrder(uint256 id) external nonReentrant {
        Order memory o = _liveOrder(id);
        bool expired = _isExpired(o);
        if (msg.sender != o.account && !expired) revert NotOrderOwner(id, msg.sender, o.account);
        _cancel(id, o, expired ? OrderStatus.Expired : OrderStatus.Cancelled, CancelReason.Owner);
    }

    /* ------------------------------------------------------------------ ADMIN & VIEWS */

    /// @inheritdoc IOrderBook
    function setMinExecutionFee(uint256 fee) external onlyRole(CONFIG_ROLE) {
        emit MinExecutionFeeSet(minExecutionFee, fee);
        minExecutionFee = fee;
    }

    /// @inheritdoc IOrderBook
    function getOrder(uint256 id) external view returns (Order memory) {
        return _orders[id];
    }

    /// @inheritdoc IOrderBook
    function escrowOf(uint256 id) external view returns (uint256) {
        Order storage o = _orders[id];
        return o.status == OrderStatus.Live ? _escrowOf(o.margin, o.executionFee) : 0;
    }

    /* ------------------------------------------------------------------ INTERNAL */

    /// @dev Common checks of a new order, and the order they describe (status None, margin 0).
    function _newOrder(
        uint256 marketId,
        OrderType orderType,
        int256 sizeDelta,
        uint256 triggerPrice,
        uint256 acceptablePrice,
        uint256 executionFee,
        uint256 expiry
    ) private view returns (Order memory o) {
        if (triggerPrice == 0 || acceptablePrice == 0) revert ZeroPrice();
        if (executionFee < minExecutionFee) revert ExecutionFeeTooLow(executionFee, minExecutionFee);
        if (expiry != 0 && expiry <= block.timestamp) revert InvalidExpiry(expiry, block.timestamp);
        o.account = msg.sender;
        o.marketId = marketId.toUint32();
        o.orderType = orderType;
        o.expiry = expiry.toUint40();
        o.sizeDelta = sizeDelta.toInt128();
        o.triggerPrice = triggerPrice.toUint128();
        o.acceptablePrice = acceptablePrice.toUint128();
        o.executionFee = executionFee.toUint128();
    }

    /// @dev Refuses or fills a limit that the market already satisfies; otherwise rests it with its escrow.
    function _placeLimit(Order memory o, MarketConfig memory cfg, bool allowImmediate) private returns (uint256 id) {
        MarketState memory st = _engineViews.marketState(o.marketId);
        uint256 index = _index(o.marketId);
        uint256 fill = Pricing.fillPrice(index, MarketLib.skew(st), o.sizeDelta, cfg.skewScale);
        bool fillsNow = o.sizeDelta > 0 ? fill <= o.triggerPrice : fill >= o.triggerPrice;
        if (fillsNow && !allowImmediate) revert WouldFillImmediately(fill, o.triggerPrice);
        id = _store(o);
        if (fillsNow) _execute(id, o, msg.sender, 0, false);
        else _settleEscrow(o, true);
    }

    /// @dev Refusal at the door: a limit open is judged by itself at its limit price, as the engine will
    /// judge its fill (notional within the market's minimum and the last tier, leverage within the tier
    /// that holds it); an order that fails could never fill and would only lock its escrow.
    function _checkFillable(MarketConfig memory cfg, Order memory o) private view {
        Tier[] memory t = _engineViews.tiers(o.marketId);
        uint256 absSize = WadMath.abs(o.sizeDelta);
        uint256 notional = absSize.mulDown(o.triggerPrice);
        if (notional < cfg.minPositionNotional) revert PositionTooSmall(notional, cfg.minPositionNotional);
        if (MarginMath.aboveMaxTier(t, absSize.mulUp(o.triggerPrice))) {
            revert PositionTooLarge(absSize.mulUp(o.triggerPrice), t[t.length - 1].notionalCap);
        }
        (bool ok, uint256 leverage, uint256 maxLeverage) = MarginMath.meetsInitialMargin(
            t,
            absSize,
            o.triggerPrice,
            int256(uint256(o.margin))
        );
        if (!ok) revert LeverageTooHigh(leverage, maxLeverage);
    }

    /// @dev Numbers and stores a new live order and announces it.
    function _store(Order memory o) private returns (uint256 id) {
        id = ++orderCount;
        o.status = OrderStatus.Live;
        _orders[id] = o;
        emit OrderCreated(
            id,
            o.account,
            o.marketId,
            o.orderType,
            o.sizeDelta,
            o.triggerPrice,
            o.acceptablePrice,
            o.margin,
            o.executionFee,
            o.expiry
        );
    }

    /// @dev Marks `o` executed, releases its escrow if it was escrowed (margin to the owner, fee to
    /// `keeper`) and trades `o.sizeDelta` through the engine with the order's acceptable price.
    function _execute(uint256 id, Order memory o, address keeper, uint256 mark, bool escrowed) private {
        _orders[id].status = OrderStatus.Executed;
        emit OrderExecuted(id, o.account, o.marketId, o.orderType, keeper, o.sizeDelta, mark, o.executionFee);
        if (escrowed) _releaseEscrow(o, keeper);
        if (o.orderType == OrderType.LimitOpen) {
            engine.increasePositionFor(o.account, o.marketId, o.sizeDelta, o.margin, o.acceptablePrice);
        } else {
            engine.decreasePositionFor(o.account, o.marketId, WadMath.abs(o.sizeDelta), o.acceptablePrice);
        }
    }

    function _cancel(uint256 id, Order memory o, OrderStatus status, CancelReason reason) private {
        _orders[id].status = status;
        uint256 refund = _escrowOf(o.margin, o.executionFee);
        if (status == OrderStatus.Expired) emit OrderExpired(id, o.account, o.marketId, msg.sender, refund);
        else emit OrderCancelled(id, o.account, o.marketId, msg.sender, reason, refund);
        _settleEscrow(o, false);
    }

    /// @dev Moves the order's whole escrow from the owner's free balance into escrow (`lock`) or back.
    function _settleEscrow(Order memory o, bool lock) private {
        int256 amount = int256(_escrowOf(o.margin, o.executionFee));
        if (amount == 0) return;
        vault.settle(
            Settlement({
                account: o.account,
                accountDelta: lock ? -amount : amount,
                counterparty: address(0),
                counterpartyDelta: 0,
                marginDelta: 0,
                escrowDelta: lock ? amount : -amount,
                poolDelta: 0,
                insuranceDelta: 0
            })
        );
    }

    /// @dev Takes the order's escrow out: the margin to the owner's free balance, the fee to the keeper's.
    function _releaseEscrow(Order memory o, address keeper) private {
        vault.settle(
            Settlement({
                account: o.account,
                accountDelta: int256(uint256(o.margin)),
                counterparty: keeper,
                counterpartyDelta: int256(uint256(o.executionFee)),
                marginDelta: 0,
                escrowDelta: -int256(_escrowOf(o.margin, o.executionFee)),
                poolDelta: 0,
                insuranceDelta: 0
            })
        );
    }

    function _liveOrder(uint256 id) private view returns (Order memory o) {
        o = _orders[id];
        if (o.status != OrderStatus.Live) revert OrderNotLive(id, o.status);
    }

    /// @dev The mark a transaction in this block sees (MarketLib.asOfNow on a copy, as PerpLens projects it).
    function _markPrice(uint256 marketId) private view returns (uint256 mark) {
        MarketConfig memory cfg = _engineViews.marketConfig(marketId);
        MarketState memory st = _engineViews.marketState(marketId);
        (, , , mark) = MarketLib.asOfNow(cfg, st, _index(marketId), block.timestamp);
    }

    /// @dev The index a view projects the market at (MarketLib.indexOf: fresh, or the last one; the engine
    /// then decides, by its grace period, whether the trade may still go ahead).
    function _index(uint256 marketId) private view returns (uint256 index) {
        (index, ) = MarketLib.indexOf(oracle, marketId);
        if (index == 0) revert NoPrice(marketId);
    }

    function _marketConfig(uint256 marketId) private view returns (MarketConfig memory cfg) {
        cfg = _engineViews.marketConfig(marketId);
        if (cfg.symbol == 0) revert UnknownMarket(marketId);
    }

    /// @dev The caller's position that a reduce-only order of `size` would reduce.
    function _positionToReduce(
        address account,
        uint256 marketId,
        uint256 size
    ) private view returns (Position memory p) {
        if (size == 0) revert ZeroSize();
        p = _engineViews.position(PositionLib.id(account, marketId));
        if (p.size == 0) revert NoPosition(account, marketId);
        uint256 absSize = WadMath.abs(p.size);
        if (size > absSize) revert SizeExceedsPosition(size, absSize);
    }

    /// @dev The signed trade that reduces `p` by `size`: a sell for a long, a buy for a short.
    function _closingDelta(Position memory p, uint256 size) private pure returns (int256) {
        return p.size > 0 ? -size.toInt256() : size.toInt256();
    }

    /// @dev A take-profit that sells (a long's) and a stop-loss that buys (a short's) trigger at or above
    /// the trigger; the other two at or below.
    function _triggered(Order memory o, uint256 mark) private pure returns (bool) {
        bool sells = o.sizeDelta < 0;
        return (o.orderType == OrderType.TakeProfit) == sells ? mark >= o.triggerPrice : mark <= o.triggerPrice;
    }

    function _isExpired(Order memory o) private view returns (bool) {
        return o.expiry != 0 && block.timestamp >= o.expiry;
    }

    function _escrowOf(uint256 margin, uint256 executionFee) private pure returns (uint256) {
        return margin + executionFee;
    }
}
