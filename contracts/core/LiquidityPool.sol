// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IVault} from "../interfaces/IVault.sol";
import {IPoolValuation, PoolValuation} from "../interfaces/IPoolValuation.sol";

/// @title LiquidityPool
/// @notice ERC-4626 shares over the pool valued at mark (SPEC 9.1): the traders' counterparty.
/// Realised trader losses, trading fees and the net funding on the skew flow into the vault's pool ledger;
/// realised profits flow out. The pool's value is that ledger less the traders' net unrealised PnL plus
/// the net funding they owe and have not paid (the engine's `poolValuation`), so a share is priced as if
/// every position closed at mark now: an LP cannot redeem ahead of the traders' open profit, nor deposit
/// ahead of their open losses. Deposits and redemptions are refused while a market has no fresh index
/// (its mark would be stale). Deposits move straight into the vault; redemptions are paid by the vault
/// and may not take the assets reserved for open interest (maxWithdraw/maxRedeem say how much is free).
contract LiquidityPool is ERC4626 {
    using SafeERC20 for IERC20;

    IVault public immutable vault;
    IPoolValuation public immutable engine;
    uint256 private immutable _unitScale; // one asset unit in WAD

    /// @dev The valuation taken once per deposit, mint, withdraw or redeem, for every share conversion
    /// and the freshness check of that call: value in asset units + 1 (0: none taken), the stale market.
    uint256 private transient _heldAssets;
    uint256 private transient _heldStaleMarketId;

    constructor(
        IERC20 asset_,
        IVault vault_,
        IPoolValuation engine_,
        uint256 unitScale_
    ) ERC20("perpsim LP share", "pLP") ERC4626(asset_) {
        vault = vault_;
        engine = engine_;
        _unitScale = unitScale_;
    }

    /// @notice A deposit or redemption while `marketId` has no fresh index.
    error StaleMarket(uint256 marketId);

    /// @notice The pool's value at mark in asset units, rounded down; 0 if the traders' counted profit
    /// ever exceeded the ledger. Uses a stale market's last index (deposits and redemptions are refused then).
    function totalAssets() public view override returns (uint256) {
        uint256 held = _heldAssets;
        if (held != 0) return held - 1;
        return _assetsOf(engine.poolValuation());
    }

    /// @inheritdoc ERC4626
    function deposit(uint256 assets, address receiver) public override returns (uint256 shares) {
        _holdValuation();
        shares = super.deposit(assets, receiver);
        _releaseValuation();
    }

    /// @inheritdoc ERC4626
    function mint(uint256 shares, address receiver) public override returns (uint256 assets) {
        _holdValuation();
        assets = super.mint(shares, receiver);
        _releaseValuation();
    }

    /// @inheritdoc ERC4626
    function withdraw(uint256 assets, address receiver, address owner) public override returns (uint256 shares) {
        _holdValuation();
        shares = super.withdraw(assets, receiver, owner);
        _releaseValuation();
    }

    /// @inheritdoc ERC4626
    function redeem(uint256 shares, address receiver, address owner) public override returns (uint256 assets) {
        _holdValuation();
        assets = super.redeem(shares, receiver, owner);
        _releaseValuation();
    }

    /// @notice The pool's value and its parts (WAD USD), as `totalAssets` computes it.
    function valuation() external view returns (PoolValuation memory) {
        return engine.poolValuation();
    }

    /// @notice Assets (asset units) that redemptions may take now: the pool less its reserve.
    function availableAssets() public view returns (uint256) {
        uint256 assets = vault.poolAssets();
        uint256 reserved = engine.reservedAssets();
        return assets > reserved ? (assets - reserved) / _unitScale : 0;
    }

    /// @inheritdoc ERC4626
    function maxWithdraw(address owner) public view override returns (uint256) {
        return Math.min(super.maxWithdraw(owner), availableAssets());
    }

    /// @inheritdoc ERC4626
    function maxRedeem(address owner) public view override returns (uint256) {
        return Math.min(super.maxRedeem(owner), _convertToShares(availableAssets(), Math.Rounding.Floor));
    }

    /// @dev Virtual shares against the first-depositor inflation attack.
    function _decimalsOffset() internal pure override returns (uint8) {
        return 6;
    }

    function _deposit(address caller, address receiver, uint256 assets, uint256 shares) internal override {
        _requireFresh();
        IERC20(asset()).safeTransferFrom(caller, address(vault), assets);
        vault.creditPool(assets);
        _mint(receiver, shares);
        emit Deposit(caller, receiver, assets, shares);
    }

    function _withdraw(
        address caller,
        address receiver,
        address owner,
        uint256 assets,
        uint256 shares
    ) internal override {
        _requireFresh();
        if (caller != owner) _spendAllowance(owner, caller, shares);
        _burn(owner, shares);
        emit Withdraw(caller, receiver, owner, assets, shares);
        vault.payFromPool(receiver, assets);
    }

    /// @dev The price just used must rest on fresh marks everywhere.
    function _requireFresh() private view {
        uint256 stale = _heldAssets != 0 ? _heldStaleMarketId : engine.poolValuation().staleMarketId;
        if (stale != 0) revert StaleMarket(stale);
    }

    /// @dev Values the pool once for the call: the engine's valuation walks every market and the oracle.
    function _holdValuation() private {
        PoolValuation memory v = engine.poolValuation();
        _heldAssets = _assetsOf(v) + 1;
        _heldStaleMarketId = v.staleMarketId;
    }

    /// @dev Clears the held valuation (transient storage lives to the end of the transaction, not the call).
    function _releaseValuation() private {
        _heldAssets = 0;
        _heldStaleMarketId = 0;
    }

    function _assetsOf(PoolValuation memory v) private view returns (uint256) {
        return v.value > 0 ? uint256(v.value) / _unitScale : 0;
    }
}
