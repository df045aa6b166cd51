// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IVault, Settlement} from "../interfaces/IVault.sol";

/// @title Vault
/// @notice Holds every unit of collateral and keeps the ledgers over it, in WAD USD: each account's free
/// balance, the margin locked in positions, the escrow of live orders, the liquidity pool's assets and
/// the insurance fund. Tokens cross only at deposit/withdraw and pool entry/exit, where 6-decimal
/// amounts are converted; every other movement is a zero-sum `settle` by an engine. Hence, to the unit:
///   balanceOf(vault) * 10^(18 - decimals) == sum(free) + margin + escrow + pool + insurance.
/// The vault keeps that sum (`_held`: it moves only when tokens cross) and the four ledgers besides the free
/// balances; the free ledger is the difference, so a settlement, zero-sum, writes no total for it.
/// Events: the vault logs what accounts do to it (deposits, withdrawals, pool entry and exit, insurance
/// donations). A settlement is logged by the operator that books it, whose event for the action carries the
/// movement (the engine's Trade, Liquidation, MarginChanged, AutoDeleveraged, BadDebt and ProfitCapped; the
/// order book's order events): the fuzz's accountant rebuilds every ledger and free balance from those
/// events alone, so a vault event per settlement would log each movement twice, at 3.4k gas a trade.
contract Vault is IVault, AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;

    /// @notice Engines and the order book: may book settlements.
    bytes32 public constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");
    /// @notice The liquidity pool: may credit and pay out pool assets.
    bytes32 public constant POOL_ROLE = keccak256("POOL_ROLE");

    IERC20 public immutable collateral;
    /// @notice 10^(18 - collateral decimals): one token unit in WAD.
    uint256 public immutable unitScale;

    mapping(address account => uint256) public freeBalance;
    // Packed by what moves together. A trade moves a free balance with margin, and pays its fee to the pool
    // and the insurance fund; the first operator granted (the engine, lib/deploy) sits beside the margin, so
    // its settlements check their caller on a word they write anyway. Only orders move escrow, and only
    // tokens crossing move `_held`, the sum of every ledger.
    uint96 private _margin;
    address private _fastOperator;
    uint128 private _pool;
    uint128 private _insurance;
    uint128 private _escrow;
    uint128 private _held;

    event Deposited(address indexed account, uint256 amount, uint256 freeBalance);
    event Withdrawn(address indexed account, address indexed to, uint256 amount, uint256 freeBalance);
    event PoolCredited(uint256 amount, uint256 poolAssets);
    event PoolPaid(address indexed to, uint256 amount, uint256 poolAssets);
    event InsuranceFunded(address indexed from, uint256 amount, uint256 insuranceFund);

    error ZeroAmount();
    error InsufficientBalance(address account, uint256 balance, uint256 needed);
    error InsufficientLedger(uint8 ledger, uint256 balance, uint256 needed);
    error SettlementNotBalanced(int256 sum);
    error UnbackedCredit(uint256 held, uint256 owed);

    uint8 private constant LEDGER_MARGIN = 1;
    uint8 private constant LEDGER_ESCROW = 2;
    uint8 private constant LEDGER_POOL = 3;
    uint8 private constant LEDGER_INSURANCE = 4;

    constructor(IERC20 collateral_, address admin) {
        collateral = collateral_;
        unitScale = 10 ** (18 - IERC20Metadata(address(collateral_)).decimals());
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @notice Deposits `amount` collateral units (6 decimals) into the caller's free balance.
    function deposit(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        uint256 balance = freeBalance[msg.sender] + amount * unitScale;
        freeBalance[msg.sender] = balance;
        _held = (_held + amount * unitScale).toUint128();
        emit Deposited(msg.sender, amount, balance);
        collateral.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Withdraws `amount` collateral units (6 decimals) of the caller's free balance to `to`.
    function withdraw(uint256 amount, address to) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        uint256 needed = amount * unitScale;
        uint256 balance = freeBalance[msg.sender];
        if (balance < needed) revert InsufficientBalance(msg.sender, balance, needed);
        freeBalance[msg.sender] = balance - needed;
        _held -= needed.toUint128(); // needed <= balance <= the free ledger <= held
        emit Withdrawn(msg.sender, to, amount, balance - needed);
        collateral.safeTransfer(to, amount);
    }

    /// @notice Adds `amount` collateral units to the insurance fund (anyone may donate).
    function fundInsurance(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        uint256 fund = _insurance + amount * unitScale;
        _insurance = fund.toUint128();
        _held = (_held + amount * unitScale).toUint128();
        emit InsuranceFunded(msg.sender, amount, fund);
        collateral.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc IVault
    function settle(Settlement calldata s) external {
        if (msg.sender != _fastOperator) _checkRole(OPERATOR_ROLE); // the fast operator holds the role
        int256 sum = s.accountDelta +
            s.counterpartyDelta +
            s.marginDelta +
            s.escrowDelta +
            s.poolDelta +
            s.insuranceDelta;
        if (sum != 0) revert SettlementNotBalanced(sum);
        if (s.accountDelta != 0) _moveFree(s.account, s.accountDelta);
        if (s.counterpartyDelta != 0) _moveFree(s.counterparty, s.counterpartyDelta);
        if (s.marginDelta != 0) _margin = _apply(LEDGER_MARGIN, _margin, s.marginDelta).toUint96();
        if (s.escrowDelta != 0) _escrow = _apply(LEDGER_ESCROW, _escrow, s.escrowDelta).toUint128();
        if (s.poolDelta != 0 || s.insuranceDelta != 0) {
            (_pool, _insurance) = (
                _apply(LEDGER_POOL, _pool, s.poolDelta).toUint128(),
                _apply(LEDGER_INSURANCE, _insurance, s.insuranceDelta).toUint128()
            );
        }
    }

    /// @inheritdoc IVault
    function creditPool(uint256 amount) external onlyRole(POOL_ROLE) {
        uint256 assets = _pool + amount * unitScale;
        uint256 held = collateral.balanceOf(address(this)) * unitScale;
        uint256 owed = _totalOwed() + amount * unitScale;
        if (held < owed) revert UnbackedCredit(held, owed);
        _pool = assets.toUint128();
        _held = owed.toUint128();
        emit PoolCredited(amount, assets);
    }

    /// @inheritdoc IVault
    function payFromPool(address to, uint256 amount) external onlyRole(POOL_ROLE) nonReentrant {
        uint256 assets = _apply(LEDGER_POOL, _pool, -(amount * unitScale).toInt256());
        _pool = assets.toUint128(); // at most the old ledger
        _held -= (amount * unitScale).toUint128(); // at most the pool ledger, part of held
        emit PoolPaid(to, amount, assets);
        collateral.safeTransfer(to, amount);
    }

    /// @inheritdoc IVault
    function totalMargin() external view returns (uint256) {
        return _margin;
    }

    /// @inheritdoc IVault
    function totalEscrow() external view returns (uint256) {
        return _escrow;
    }

    /// @inheritdoc IVault
    function poolAssets() external view returns (uint256) {
        return _pool;
    }

    /// @inheritdoc IVault
    function insuranceFund() external view returns (uint256) {
        return _insurance;
    }

    /// @notice Sum of every account's free balance (WAD): what the other ledgers leave of the total.
    function totalFree() external view returns (uint256) {
        return uint256(_held) - _margin - _escrow - _pool - _insurance;
    }

    /// @notice The operator whose settlements skip the role lookup: the first account granted the operator
    /// role, until its role is revoked (zero then, and until the next grant).
    function fastOperator() external view returns (address) {
        return _fastOperator;
    }

    /// @notice Sum of every ledger (WAD). Equals the collateral held times `unitScale`, to the unit.
    function totalOwed() external view returns (uint256) {
        return _totalOwed();
    }

    function _totalOwed() private view returns (uint256) {
        return _held;
    }

    /// @dev Records the first operator granted as the fast operator (AccessControl's hook).
    function _grantRole(bytes32 role, address account) internal override returns (bool granted) {
        granted = super._grantRole(role, account);
        if (granted && role == OPERATOR_ROLE && _fastOperator == address(0)) _fastOperator = account;
    }

    /// @dev Clears the fast operator with its role, so it never settles without it (AccessControl's hook).
    function _revokeRole(bytes32 role, address account) internal override returns (bool revoked) {
        revoked = super._revokeRole(role, account);
        if (revoked && role == OPERATOR_ROLE && account == _fastOperator) _fastOperator = address(0);
    }

    /// @dev Moves `account`'s free balance by `delta` (the free ledger moves with it: it is the difference).
    function _moveFree(address account, int256 delta) private {
        uint256 balance = freeBalance[account];
        if (delta < 0 && balance < uint256(-delta)) revert InsufficientBalance(account, balance, uint256(-delta));
        freeBalance[account] = delta < 0 ? balance - uint256(-delta) : balance + uint256(delta);
    }

    function _apply(uint8 ledger, uint256 balance, int256 delta) private pure returns (uint256) {
        if (delta < 0 && balance < uint256(-delta)) revert InsufficientLedger(ledger, balance, uint256(-delta));
        return delta < 0 ? balance - uint256(-delta) : balance + uint256(delta);
    }
}
