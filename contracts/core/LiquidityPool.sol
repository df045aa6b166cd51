// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IVault} from "../interfaces/IVault.sol";

/// @notice What the pool needs from the engine.
interface IReserveSource {
    /// @notice Pool assets (WAD USD) reserved for open interest.
    function reservedAssets() external view returns (uint256);
}

/// @title LiquidityPool
/// @notice ERC-4626 shares over the pool's assets, which are kept in the vault's pool ledger: the
/// traders' counterparty. Realised trader losses, trading fees and the net funding on the skew flow in;
/// realised profits flow out. Deposits move straight into the vault; redemptions are paid by the vault
/// and may not take the assets reserved for open interest (maxWithdraw/maxRedeem say how much is free).
/// Share value follows realised PnL only.
contract LiquidityPool is ERC4626 {
    using SafeERC20 for IERC20;

    IVault public immutable vault;
    IReserveSource public immutable engine;
    uint256 private immutable _unitScale; // one asset unit in WAD

    constructor(
        IERC20 asset_,
        IVault vault_,
        IReserveSource engine_,
        uint256 unitScale_
    ) ERC20("perpsim LP share", "pLP") ERC4626(asset_) {
        vault = vault_;
        engine = engine_;
        _unitScale = unitScale_;
    }

    /// @notice The pool's assets in asset units, rounded down.
    function totalAssets() public view override returns (uint256) {
        return vault.poolAssets() / _unitScale;
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
        if (caller != owner) _spendAllowance(owner, caller, shares);
        _burn(owner, shares);
        emit Withdraw(caller, receiver, owner, assets, shares);
        vault.payFromPool(receiver, assets);
    }
}
